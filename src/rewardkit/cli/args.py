"""Argument types and the option groups several commands share (judge, rendezvous, specs).

>>> positive_int("3")
3
>>> key_values(["temperature=0.5", "name=m"], "--judge-option")
{'temperature': 0.5, 'name': 'm'}
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from typing import Any

from ..errors import CLIError, OptionError
from ..options import Option, Options

log = logging.getLogger(__name__)

__all__ = [
    "positive_int",
    "port_number",
    "finite_float",
    "positive_seconds",
    "failure_rate",
    "number",
    "key_values",
    "judge_arguments",
    "audit_arguments",
    "judge_options",
    "rule_arguments",
    "rule_options",
    "chosen_options",
    "spellings",
    "renamed",
    "rendezvous_arguments",
    "group_size_for",
    "load_spec",
]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0 to 65535), got {text!r}")
    return value


def _number_type(what: str, ok, *, none: bool = False):
    """An argparse type: a finite number that passes ``ok`` (``none``: or the word none)."""

    def parse(text: str) -> float | None:
        if none and text.lower() == "none":
            return None
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    return parse


finite_float = _number_type("a finite number", lambda v: True)
positive_seconds = _number_type("a finite number of seconds > 0", lambda v: v > 0)
failure_rate = _number_type("a number in [0, 1] or none", lambda v: 0 <= v <= 1, none=True)


def number(text: str, flag: str) -> float:
    """A finite number given to ``flag`` (a :class:`CLIError` naming the flag otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{flag} expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise CLIError(f"{flag} must be finite, got {text!r}")
    return value


def key_values(items: list[str] | None, flag: str, *, raw: bool = False) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` flags as options (a value is JSON where it parses, else text;
    ``raw``: the text as given)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise CLIError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value if raw else _option_value(value)
    return out


def _option_value(text: str) -> Any:
    """A ``--judge-option`` value: JSON where it parses (numbers, true, objects), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def judge_arguments(p: argparse.ArgumentParser, *, old_timeout: bool = False) -> None:
    """``--judge``, a flag for every option a registered judge declares (plugins' included)
    and ``--judge-option``; call it after the command's own flags (a judge option whose flag
    the command has is given with ``--judge-option``). ``old_timeout``: ``--timeout`` is the
    deprecated spelling of ``--call-timeout``."""
    from ..plugins import judges

    group = p.add_argument_group(
        "judge options", "--judge picks the judge; each flag names the judges that take it"
    )
    group.add_argument(
        "--judge",
        default="taxonomy",
        help=f"a registered judge (default taxonomy): {', '.join(judges())}",
    )
    option_flags(p, group, "judge", judges())
    group.add_argument(
        "--judge-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option of the judge (any registered judge); VALUE as the option's type, or "
        "JSON or text; repeatable",
    )
    if old_timeout and "--call-timeout" in p._option_string_actions:
        group.add_argument(
            "--timeout",
            dest=_dest("judge", "--call-timeout"),
            action=_Renamed,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )


def rule_arguments(p: argparse.ArgumentParser) -> None:
    """A flag for every option a registered rule declares and ``--rule-option``; call it after
    the command's own flags and the judge's."""
    from ..plugins import rules

    group = p.add_argument_group("rule options", "each flag names the rules that take it")
    option_flags(p, group, "rule", rules())
    group.add_argument(
        "--rule-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option of the rule; VALUE as the option's type, or JSON or text; repeatable",
    )


class _Renamed(argparse.Action):
    """A flag's old spelling: takes its value and says what it is called now."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        new = "--" + self.dest.split("_flag_", 1)[-1].replace("_", "-")
        log.warning("%s is deprecated here: it is now %s", option_string, new)
        setattr(namespace, self.dest, values)


def renamed(p: argparse.ArgumentParser, old: str, new: str) -> None:
    """``old`` as a deprecated spelling of the flag ``new`` (same destination)."""
    action = p._option_string_actions[new]
    p.add_argument(
        old,
        dest=action.dest,
        type=action.type or str,
        action=_Renamed,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


def _dest(kind: str, flag: str) -> str:
    return f"{kind}_flag_{flag[2:].replace('-', '_')}"


def option_flags(p: argparse.ArgumentParser, group: Any, kind: str, factories: dict) -> None:
    """A flag for each option the ``kind`` factories declare; the flag of an option several
    declare takes each one's value, checked when the chosen one is known."""
    flags: dict[str, list[tuple[str, Option]]] = {}
    for name, factory in factories.items():
        declared = getattr(factory, "options", None)
        for option in declared if isinstance(declared, Options) else ():
            if option.cli_flag:
                flags.setdefault(option.cli_flag, []).append((name, option))
    added = []
    for flag, owners in flags.items():
        first = owners[0][1]
        boolean = all(o.types == (bool,) for _, o in owners)
        spellings = (flag, "--no-" + flag[2:]) if boolean else (flag,)
        if any(s in p._option_string_actions for s in spellings):
            continue  # the command's own flag: the option is given with --judge-option
        default = {repr(o.default) for _, o in owners}
        plain = first.required or first.default is None or len(default) > 1
        shown = "" if plain else f"default {first.default}; "
        names = ", ".join(dict.fromkeys(n for n, _ in owners))
        kwargs: dict[str, Any] = {
            "dest": _dest(kind, flag),
            "default": argparse.SUPPRESS,
            "help": f"{first.help} ({shown}{kind}s: {names})".replace("%", "%%"),
        }
        if boolean:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif first.choices and all(o.choices == first.choices for _, o in owners):
            kwargs["choices"] = first.choices
        else:
            kwargs["metavar"] = flag[2:].upper().replace("-", "_")
        group.add_argument(flag, **kwargs)
        added.append(flag)
    p.set_defaults(**{f"{kind}_flags_added": tuple(added)})


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options given for the judge ``--judge`` names (its flags and ``--judge-option``),
    checked against those it declares; its defaults are not filled in."""
    return chosen_options(args, "judge", args.judge, getattr(args, "judge_option", None))


def rule_options(args: argparse.Namespace, rule: str | None = None) -> dict[str, Any]:
    """The options given for the rule ``rule`` (default ``--rule``), checked as
    :func:`judge_options`."""
    name = rule or args.rule
    return chosen_options(args, "rule", name, getattr(args, "rule_option", None))


def chosen_options(
    args: argparse.Namespace,
    kind: str,
    name: str,
    items: list[str] | None,
    flag: str | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The options of the ``kind`` ``name`` given on the command line: the flags of the
    options it declares, then ``--KIND-option KEY=VALUE``; a flag or key it does not take, a
    required option not given, a value of the wrong type is an
    :class:`~rewardkit.errors.OptionError` naming the option and the judge or rule. ``flag``:
    the flag ``items`` came from (default ``--KIND-option``); ``base``: options given otherwise,
    which these update."""
    from ..plugins import judge_options as declared_judge
    from ..plugins import rule_options as declared_rule

    declared = (declared_judge if kind == "judge" else declared_rule)(name)
    flag = flag or f"--{kind}-option"
    owner = f"{kind} {name!r}"
    added = set(getattr(args, f"{kind}_flags_added", ()))
    shown = spellings(args, kind, declared, flag)
    by_flag = {o.cli_flag: o for o in declared if o.cli_flag in added}
    given: dict[str, Any] = dict(base or {})
    prefix = f"{kind}_flag_"
    for dest, value in sorted(vars(args).items()):
        if not dest.startswith(prefix):
            continue
        given_flag = "--" + dest[len(prefix) :].replace("_", "-")
        option = by_flag.get(given_flag)
        if option is None:
            known = ", ".join(shown.values()) or "none"
            raise OptionError(f"{owner} does not take {given_flag}; its options: {known}")
        parsed = option.parse(value, owner, given_flag) if isinstance(value, str) else value
        given[option.name] = parsed
    for key, text in key_values(items, flag, raw=True).items():
        spelled = f"{flag} {key}"
        ours = key in declared
        given[key] = declared[key].parse(text, owner, spelled) if ours else _option_value(text)
    declared.validate(given, owner, fill=False, shown=shown)
    return given


def spellings(args: argparse.Namespace, kind: str, declared: Options, flag: str) -> dict[str, str]:
    """How each declared option is given on this command line: its own flag where the command
    added it, else ``FLAG NAME=VALUE`` (``flag``: ``--judge-option``, ``--option-a``, ...)."""
    added = set(getattr(args, f"{kind}_flags_added", ()))
    return {
        o.name: o.cli_flag if o.cli_flag and o.cli_flag in added else f"{flag} {o.name}=VALUE"
        for o in declared
    }


def rendezvous_arguments(p: argparse.ArgumentParser) -> None:
    """Options of commands that wait for a group's siblings one sample at a time
    (``--timeout`` is the deprecated spelling of ``--group-timeout``)."""
    p.add_argument(
        "--group-timeout",
        type=positive_seconds,
        default=120.0,
        help="seconds a sample waits for its group's siblings (default 120)",
    )
    renamed(p, "--timeout", "--group-timeout")
    p.add_argument(
        "--unscored-reward",
        type=finite_float,
        default=0.0,
        help="the reward the trainer gets for an unscored sample (default 0; counted as unscored)",
    )
    p.add_argument("--require-card", help="refuse to start unless this robustness card passed")


def audit_arguments(p: argparse.ArgumentParser, policies: tuple[str, ...], watched: str) -> None:
    """The reward monitor's options (docs/monitor.md): the audit judge's spec, its rate and
    the alarm policy (those ``policies`` the command can apply); ``watched``: what is audited."""
    p.add_argument(
        "--audit-spec",
        help=f"a reward_spec.json whose judge audits --audit-rate of {watched} (docs/monitor.md)",
    )
    p.add_argument(
        "--audit-rate", type=float, default=0.02, help="share of groups audited (default 0.02)"
    )
    p.add_argument(
        "--alarm-policy",
        choices=policies,
        default="warn",
        help="on an audit alarm: " + ", ".join(_POLICIES[x] for x in policies),
    )


_POLICIES = {
    "warn": "log it (warn)",
    "stop": "stop training at the next call (stop)",
    "filter": "pay flagged answers the audit reward (filter)",
}


def group_size_for(rule: Any, name: str, size: int | None) -> int:
    """``size``, or 1 for a static rule; a group-relative rule without a size is an error."""
    if size is not None:
        return size
    if rule.group_relative:
        raise CLIError(
            f"rule {name!r} is group-relative: give --group-size (the completions per prompt)"
        )
    return 1


def load_spec(path: str, *, check: bool = True):
    """The :class:`~rewardkit.RewardSpec` at ``path``, its judge's and rule's options checked
    against those they declare (``check``); a :class:`CLIError` naming the file otherwise."""
    from ..spec import RewardSpec, SpecError

    try:
        spec = RewardSpec.load(path)
        return spec.check() if check else spec
    except (SpecError, OptionError, LookupError) as e:
        raise CLIError(f"--spec {path}: {e}") from None
