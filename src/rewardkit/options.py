"""Declared options: what a judge or a reward rule takes, declared once.

An :class:`Options` object lists :class:`Option` s - name, type, default, help, whether the
value is a file path or a secret. From it come the command-line flags (``--name``), the checks
of a spec's and a caller's options (an unknown option, a missing one or a value of the wrong
type is an :class:`~rewardkit.errors.OptionError` naming the option and its owner), the list
``rewardkit plugins`` prints, and the options a spec or a reward file may hold (never a
secret). A judge factory or rule class declares its own as an ``options`` attribute; option
sets several judges share are declared once and composed.

>>> TAXONOMY = Options(Option("taxonomy", str, help="taxonomy file", path=True))
>>> TAXONOMY.validate({"taxonomy": "tax.json"}, "judge 'taxonomy'")
{'taxonomy': 'tax.json'}
>>> TAXONOMY.validate({}, "judge 'taxonomy'")
Traceback (most recent call last):
...
rewardkit.errors.OptionError: judge 'taxonomy' needs option 'taxonomy' (taxonomy file)
>>> CALL = Options(Option("retries", int, 3, "retries per call", minimum=0))
>>> Options(TAXONOMY, CALL).validate({"taxonomy": "t.json", "retry": 2}, "judge 'x'")
Traceback (most recent call last):
...
rewardkit.errors.OptionError: judge 'x' does not take option 'retry'; its options: taxonomy, retries
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import OptionError

__all__ = ["Option", "Options", "REQUIRED", "OptionError", "declares"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that must be given.
REQUIRED: Any = _Required()

_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a finite number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    object: "any value",
}
_JSON = (str, int, float, bool, list, dict)


@dataclass(frozen=True)
class Option:
    """One option. ``type``: ``str``, ``int``, ``float``, ``bool``, ``dict``, ``list``, a tuple
    of them, or ``object`` (any value, no flag). ``nullable``: ``None`` is a value (default:
    when the default is ``None``). ``path``: a file path, made absolute where the reward runs
    elsewhere (``"existing"``: only when it names a file, else it is a name; a URL never).
    ``secret``: never written to a spec, a reward file or a log; ``env``: the environment
    variable read when the option is not given. ``flag``: the command-line flag without its
    dashes (default the name with ``-`` for ``_``; ``""``: none). ``minimum``/``maximum``
    bound a number (``above``: the minimum is excluded)."""

    name: str
    type: Any = str
    default: Any = REQUIRED
    help: str = ""
    path: bool | str = False
    secret: bool = False
    choices: tuple | None = None
    flag: str | None = None
    env: str | None = None
    nullable: bool | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"option name must be an identifier, got {self.name!r}")
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        for t in types:
            if t not in _WORDS:
                raise ValueError(f"option {self.name!r}: type must be one of str, int, float, "
                                 f"bool, dict, list, object, got {t!r}")  # fmt: skip

    @property
    def types(self) -> tuple:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def allows_none(self) -> bool:
        return self.default is None if self.nullable is None else self.nullable

    @property
    def cli_flag(self) -> str | None:
        """``--flag``, or ``None`` for an option given only as ``--judge-option``."""
        if self.flag == "" or object in self.types:
            return None
        return "--" + (self.flag or self.name.replace("_", "-"))

    def expects(self) -> str:
        words = " or ".join(_WORDS[t] for t in self.types)
        if self.choices:
            words = "one of " + ", ".join(map(str, self.choices))
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{'>' if self.above else '>='} {self.minimum:g}"
            high = "" if self.maximum is None else f"<= {self.maximum:g}"
            words += " " + " and ".join(w for w in (low, high) if w)
        return words + (" or null" if self.allows_none else "")

    def check(self, value: Any, owner: str, spelled: str | None = None) -> Any:
        """``value`` checked (and an int widened to a float); an :class:`OptionError` naming
        the option and ``owner`` otherwise. Values that are not JSON data (a ``Ladder``, a
        model object) pass to the factory as they are."""
        if value is None:
            if self.allows_none or object in self.types:
                return None
            raise self._bad(value, owner, spelled)
        if isinstance(value, os.PathLike) and self.path:
            value = os.fspath(value)
        if object in self.types or not isinstance(value, _JSON):
            return value
        flag = isinstance(value, bool)
        ok = [t for t in self.types if isinstance(value, t) and (t is bool) == flag]
        if not ok and float in self.types and isinstance(value, int) and not flag:
            value, ok = float(value), [float]
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise self._bad(value, owner, spelled)
        if self.choices and value not in self.choices:
            raise self._bad(value, owner, spelled)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = self.minimum, self.maximum
            if (low is not None and (value <= low if self.above else value < low)) or (
                high is not None and value > high
            ):
                raise self._bad(value, owner, spelled)
        return value

    def _bad(self, value: Any, owner: str, spelled: str | None = None) -> OptionError:
        shown = f"a {type(value).__name__}" if self.secret else repr(value)
        spelled = spelled or f"option {self.name!r}"
        return OptionError(f"{owner}: {spelled} must be {self.expects()}, got {shown}")

    def parse(self, text: str, owner: str, spelled: str | None = None) -> Any:
        """A value given as text (a flag, ``--judge-option``, an environment variable):
        ``null`` (for a number also ``none`` or ``unscored``) where ``None`` is allowed."""
        types = self.types
        numeric = any(t in (int, float) for t in types)
        words = ("none", "unscored") if numeric else ()  # a number's null: unscored, none
        if self.allows_none and (text == "null" or text.lower() in words):
            return None
        for t in types:
            try:
                if t is str:
                    return self.check(text, owner, spelled)
                if t is bool and text.lower() in ("true", "false", "1", "0", "yes", "no"):
                    return text.lower() in ("true", "1", "yes")
                if t in (int, float):
                    return self.check(t(text), owner, spelled)
                if t in (dict, list, object):
                    return self.check(json.loads(text), owner, spelled)
            except ValueError as e:
                if isinstance(e, OptionError):
                    raise
                if t is object:  # any value: JSON where it parses, else the text
                    return text
        shown = "a secret value" if self.secret else repr(text)
        spelled = spelled or f"option {self.name!r}"
        raise OptionError(f"{owner}: {spelled} must be {self.expects()}, got {shown}")

    def describe(self) -> dict[str, Any]:
        """The option as ``rewardkit plugins`` lists it."""
        out: dict[str, Any] = {"name": self.name, "type": self.expects()}
        if self.required:
            out["required"] = True
        else:
            out["default"] = self.default if _is_data(self.default) else repr(self.default)
        for key in ("help", "path", "secret", "env"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["flag"] = self.cli_flag
        return out


class Options:
    """An ordered set of :class:`Option` s; ``Options(SHARED, Option(...))`` composes (a later
    option of the same name replaces the earlier one in its place). ``extra``: options not
    declared are taken too (``extra`` says where they go) instead of being an error."""

    def __init__(self, *items: Option | Options, extra: str | None = None) -> None:
        self._options: dict[str, Option] = {}
        self.extra = extra
        for item in items:
            for option in item if isinstance(item, Options) else (item,):
                self._options[option.name] = option
            if isinstance(item, Options) and item.extra and self.extra is None:
                self.extra = item.extra

    def __iter__(self) -> Iterator[Option]:
        return iter(self._options.values())

    def __len__(self) -> int:
        return len(self._options)

    def __contains__(self, name: object) -> bool:
        return name in self._options

    def __getitem__(self, name: str) -> Option:
        return self._options[name]

    def __repr__(self) -> str:
        return f"Options({', '.join(self._options)})"

    @property
    def names(self) -> list[str]:
        return list(self._options)

    def validate(
        self,
        values: Mapping[str, Any],
        owner: str,
        *,
        fill: bool = True,
        shown: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``values`` checked: each option known (or ``extra``), each required one given (or
        in its ``env`` variable), each value of its type; with ``fill`` the defaults of the
        options not given are added. ``shown``: how an option is spelled in messages (a
        flag)."""
        shown = shown or {}
        out: dict[str, Any] = {}
        for name, value in values.items():
            option = self._options.get(name)
            if option is None:
                if self.extra is not None:
                    out[name] = value
                    continue
                known = ", ".join(shown.get(n, n) for n in self._options)
                what = f"its options: {known}" if known else "it takes no options"
                spelled = shown.get(name, f"option {name!r}")
                raise OptionError(f"{owner} does not take {spelled}; {what}")
            out[name] = option.check(value, owner)
        for option in self:
            if option.name in out:
                continue
            text = os.environ.get(option.env) if option.env else None
            if text:
                out[option.name] = option.parse(text, owner)
            elif option.required:
                spelled = shown.get(option.name) or f"option {option.name!r}"
                extra = f" or ${option.env}" if option.env else ""
                help = f" ({option.help})" if option.help else ""
                raise OptionError(f"{owner} needs {spelled}{extra}{help}", missing=option.name)
            elif fill:
                out[option.name] = option.default
        return out

    def public(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without the secret options: what a spec, a reward file or a log holds."""
        return {k: v for k, v in values.items() if not (k in self and self[k].secret)}

    def absolute(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with each path option made absolute (for a process that runs elsewhere);
        URLs (``scheme://...``) are kept, and an ``"existing"`` path that names no file is a
        name, kept as given."""
        out = dict(values)
        for name, value in values.items():
            option = self._options.get(name)
            if option is None or not option.path or not isinstance(value, (str, os.PathLike)):
                continue
            text = os.fspath(value)
            if "://" in text or (option.path == "existing" and not os.path.isfile(text)):
                continue
            out[name] = os.path.abspath(text)
        return out

    def describe(self) -> dict[str, Any]:
        """The options as ``rewardkit plugins`` lists them."""
        out: dict[str, Any] = {"options": [o.describe() for o in self]}
        if self.extra:
            out["other options"] = self.extra
        return out

    @classmethod
    def of(cls, factory: Callable) -> Options:
        """The options ``factory`` declares (its ``options`` attribute), or those its
        signature names when it declares none (or is a class with a constructor newer than the
        options it inherits): no types, no flags - given with ``--judge-option``; ``**kwargs``
        take anything."""
        declared = getattr(factory, "options", None)
        if isinstance(declared, Options) and not _stale(factory):
            return declared
        try:
            parameters = inspect.signature(factory).parameters.values()
        except (TypeError, ValueError):
            return cls(extra="taken by the factory")
        items, extra = [], None
        for p in parameters:
            if p.kind is p.VAR_KEYWORD:
                extra = "taken by the factory"
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                default = REQUIRED if p.default is p.empty else p.default
                items.append(Option(p.name, object, default))
        return cls(*items, extra=extra)


def declares(*options: Option | Options, extra: str | None = None) -> Callable:
    """A decorator that gives a factory function its ``options``.

    >>> @declares(Option("found", float, 1.0, "the reward"))
    ... def make(found):
    ...     return found
    >>> make.options.names
    ['found']
    """

    def mark(factory: Callable) -> Callable:
        factory.options = Options(*options, extra=extra)  # type: ignore[attr-defined]
        return factory

    return mark


def _stale(factory: Callable) -> bool:
    """A class whose ``__init__`` is newer than the ``options`` it inherits (a subclass with a
    constructor of its own and no declaration): its declaration is not its own."""
    if not isinstance(factory, type):
        return False
    mro = factory.__mro__
    declared = next(i for i, c in enumerate(mro) if "options" in vars(c))
    init = next((i for i, c in enumerate(mro) if "__init__" in vars(c)), len(mro))
    return init < declared


def _is_data(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
