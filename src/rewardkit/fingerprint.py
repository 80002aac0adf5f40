"""Fingerprints of code: how a cache identity names a function that can change a verdict (a
ladder's canonicaliser, its parser).

A function is identified by its qualified name plus a hash of what it does:

- its code: bytecode, constants, the names it uses, nested code (inner functions,
  comprehensions) and its default arguments;
- the values its closure holds: simple values (None, numbers, strings, bytes, and tuples,
  lists, sets and dicts of them) by value, functions by their own fingerprint, classes by name;
  any other value in a closure or a default is refused (:class:`ValueError`);
- the module globals it names that hold simple values or compiled patterns, by value; the
  functions of its own top-level package that it names, recursively; for a method, the
  methods of its class and bases that it names (``self.label``, ``super().parse``).

Anything else it reaches (other packages' functions, other objects) counts by name only, and a
global is read when the fingerprint is taken. Builtins (``str.upper``) count by name. Lambdas and
functions (or, for a method, classes) defined inside another function are refused: define it by
name at module level (it then also pickles, which trainers need).

The same code under the same Python version gives the same fingerprint in every process;
another Python version may give another one (a cold cache, never a wrong verdict).

>>> fingerprint(len)
'builtins.len'
>>> fingerprint(str.casefold)
'builtins.str.casefold'
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import types
from collections.abc import Callable
from typing import Any

__all__ = ["fingerprint"]

_ATOMS = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))
_BUILTINS = (
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
)


def _value(value: Any, depth: int = 0) -> str | None:
    """A text for a simple value that is the same in every process, or None."""
    if type(value) in _ATOMS:
        return repr(value)
    if isinstance(value, re.Pattern):
        return f"re.compile({value.pattern!r}, {int(value.flags)})"
    if depth > 16 or not isinstance(value, (tuple, list, set, frozenset, dict)):
        return None
    if isinstance(value, dict):
        items = [(_value(k, depth + 1), _value(v, depth + 1)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "{" + ", ".join(sorted(f"{k}: {v}" for k, v in items)) + "}"
    parts = [_value(v, depth + 1) for v in value]
    texts = [p for p in parts if p is not None]
    if len(texts) < len(parts):
        return None
    if isinstance(value, (set, frozenset)):  # element order changes with the hash seed
        texts.sort()
    return f"{type(value).__name__}({', '.join(texts)})"


def _name(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return f"functools.partial({_name(fn.func)})"
    module = getattr(fn, "__module__", None) or "builtins"
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{qualname}"


def _anonymous(fn: Any, what: str) -> None:
    qualname = getattr(fn, "__qualname__", "")
    if getattr(fn, "__name__", "") == "<lambda>":
        why = "is a lambda"
    elif "<locals>" in qualname:
        why = "is defined inside another function"
    else:
        return
    raise ValueError(
        f"{what} {qualname} {why}: define it by name at module level, so that a cache "
        "identity can name it and it pickles"
    )


class _Walker:
    """Collects what a function does, following the functions it names (each once)."""

    def __init__(self, what: str, package: str, owner: type | None) -> None:
        self.what, self.package, self.owner = what, package, owner
        self.seen: set[int] = set()

    def callable(self, fn: Any, strict: bool) -> list:
        if isinstance(fn, functools._lru_cache_wrapper):  # the cache does not change results
            fn = fn.__wrapped__
        if isinstance(fn, types.FunctionType):
            if strict:
                _anonymous(fn, self.what)
            return self.function(fn, strict)
        if isinstance(fn, _BUILTINS):
            owner = getattr(fn, "__self__", None)
            if owner is None or isinstance(owner, (types.ModuleType, type)):
                return ["builtin", _name(fn)]
            return ["builtin", _name(fn), self.held(owner, "its object", strict)]
        if isinstance(fn, functools.partial):
            args = [self.held(a, "an argument", strict) for a in fn.args]
            kw = [[k, self.held(v, k, strict)] for k, v in sorted(fn.keywords.items())]
            return ["partial", self.callable(fn.func, strict), args, kw]
        if isinstance(fn, types.MethodType) and isinstance(fn.__self__, type):
            return ["classmethod", _name(fn.__self__), self.callable(fn.__func__, strict)]
        return self.refuse(f"{type(fn).__name__} object", strict)

    def refuse(self, what: str, strict: bool) -> list:
        if strict:
            raise ValueError(
                f"{self.what} holds a {what}, which a cache identity cannot name; "
                "use a named module-level function of simple values"
            )
        return ["object", what]

    def held(self, value: Any, name: str, strict: bool) -> Any:
        """A value in a closure, a default or a partial: by value, fingerprint or name."""
        text = _value(value)
        if text is not None:
            return text
        if isinstance(value, type):
            return ["class", _name(value)]
        if callable(value) and not isinstance(value, type):
            return self.callable(value, strict)
        return self.refuse(f"{type(value).__name__} ({name})", strict)

    def function(self, fn: types.FunctionType, strict: bool) -> list:
        if id(fn) in self.seen:
            return ["again", _name(fn)]
        self.seen.add(id(fn))
        names: set[str] = set()
        code = self.code(fn.__code__, names)
        defaults = [self.held(v, "a default", strict) for v in fn.__defaults__ or ()]
        kwdefaults = sorted(
            [k, self.held(v, k, strict)] for k, v in (fn.__kwdefaults__ or {}).items()
        )
        cells = []
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                cells.append([var, self.held(cell.cell_contents, var, strict)])
            except ValueError as e:
                if "empty" not in str(e):
                    raise
                cells.append([var, "<empty>"])
        named = [self.named(fn, n) for n in sorted(names)]
        return [_name(fn), code, defaults, kwdefaults, cells, [n for n in named if n]]

    def code(self, code: types.CodeType, names: set[str]) -> list:
        names.update(code.co_names)
        consts = [
            self.code(c, names) if isinstance(c, types.CodeType) else _value(c) or type(c).__name__
            for c in code.co_consts
        ]
        shape = [code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags]
        return [code.co_code.hex(), list(code.co_names), list(code.co_freevars), shape, consts]

    def named(self, fn: types.FunctionType, name: str) -> list | None:
        """What a name a function uses stands for, where it can change the result."""
        found: list = []
        value = fn.__globals__.get(name, fn)  # fn: "not a global"
        if value is not fn:
            text = _value(value)
            if text is not None:
                found.append(["=", text])
            elif self.ours(value):
                found.append(self.callable(value, False))
        for klass in self.owner.__mro__ if self.owner is not None else ():
            attr = vars(klass).get(name)
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            elif isinstance(attr, property):
                attr = attr.fget
            elif isinstance(attr, functools.cached_property):
                attr = attr.func
            if isinstance(attr, types.FunctionType):
                found.append([_name(klass), self.function(attr, False)])
        return [name, found] if found else None

    def ours(self, value: Any) -> bool:
        """A function (or a cached one) from the package being fingerprinted."""
        if isinstance(value, functools._lru_cache_wrapper):
            value = value.__wrapped__
        module = getattr(value, "__module__", None) or ""
        return isinstance(value, types.FunctionType) and module.split(".")[0] == self.package


def fingerprint(
    fn: Callable[..., Any], *, what: str = "function", owner: type | None = None
) -> str:
    """``module.qualname`` plus a hash of what ``fn`` does (see the module docstring);
    ``owner`` is the class whose methods ``fn`` may call through ``self``. Raises
    :class:`ValueError` for a lambda, a local function or a value that cannot be named."""
    target = fn.__wrapped__ if isinstance(fn, functools._lru_cache_wrapper) else fn
    _anonymous(target, what)
    if owner is not None:
        _anonymous(owner, what)
    holder = getattr(target, "__self__", None)
    if isinstance(target, _BUILTINS) and (holder is None or isinstance(holder, types.ModuleType)):
        return _name(target)  # C code: the interpreter's, named
    package = (getattr(target, "__module__", None) or "").split(".")[0]
    spec = _Walker(what, package, owner).callable(fn, True)
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return f"{_name(target)}@{hashlib.sha256(text.encode()).hexdigest()[:16]}"
