"""Argument types and the option groups several commands share (judge, rendezvous, specs).

>>> positive_int("3")
3
>>> key_values(["temperature=0.5", "name=m"], "--judge-option")
{'temperature': 0.5, 'name': 'm'}
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ..errors import CLIError

__all__ = [
    "positive_int",
    "port_number",
    "finite_float",
    "positive_seconds",
    "failure_rate",
    "number",
    "key_values",
    "judge_arguments",
    "judge_options",
    "rendezvous_arguments",
    "group_size_for",
    "load_spec",
]

LLM_JUDGES = ("openai", "litellm")


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


def key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` flags as options (a value is JSON where it parses, else text)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise CLIError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = _option_value(value)
    return out


def _option_value(text: str) -> Any:
    """A ``--judge-option`` value: JSON where it parses (numbers, true, objects), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def judge_arguments(p: argparse.ArgumentParser, call_timeout: str = "--timeout") -> None:
    """The options that pick and configure a judge (``judge``, ``serve``, ``openrlhf-reward``)."""
    p.add_argument(
        "--judge",
        default="taxonomy",
        help="taxonomy (default), openai, litellm, hf, or a plugin's judge",
    )
    p.add_argument("--taxonomy", help="taxonomy file (.json, .yaml) for the taxonomy judge")
    p.add_argument("--model", help="judge model (openai, litellm, hf, vllm judges)")
    p.add_argument("--api-base", help="server URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--ladder", help="ladder of the model judges (default speciarl)")
    p.add_argument(
        "--prompt", help="judge prompt: a prompt file (.json, .yaml, or text) or a prompt name"
    )
    p.add_argument(
        "--constraint",
        choices=("choice", "json_schema", "none"),
        help="how the reply is held to the labels (default: choice for vLLM servers)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=64,
        help="calls in flight per endpoint (default 64)",
    )
    p.add_argument("--cache", help="sqlite verdict cache file (off when not given)")
    p.add_argument(
        call_timeout,
        dest="call_timeout",
        type=positive_seconds,
        default=60.0,
        help="seconds per call (default 60)",
    )
    p.add_argument("--retries", type=int, default=3, help="retries per call (default 3)")
    p.add_argument(
        "--max-failure-rate",
        type=failure_rate,
        default=0.2,
        help="share of failed calls that stops the run with an error (default 0.2; 'none')",
    )
    p.add_argument(
        "--judge-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option for the judge (any registered judge); VALUE is JSON or text; repeatable",
    )


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """Options for ``get_judge`` from the command line (plugin judges get --judge-option)."""
    options: dict[str, Any] = {}
    if args.taxonomy:
        options["taxonomy"] = args.taxonomy
    if args.ladder:
        options["ladder"] = args.ladder
    if args.prompt:
        options["prompt"] = args.prompt
    if args.judge in (*LLM_JUDGES, "hf", "vllm"):
        if not args.model:
            raise CLIError(f"--judge {args.judge} needs --model")
        options["model"] = args.model
    if args.judge in LLM_JUDGES:
        if args.judge == "openai" and not args.api_base:
            raise CLIError("--judge openai needs --api-base (e.g. http://127.0.0.1:8000/v1)")
        if args.api_base:
            options["api_base"] = args.api_base
        options.update(
            concurrency=args.concurrency,
            timeout=args.call_timeout,
            retries=args.retries,
            cache=args.cache,
            max_failure_rate=args.max_failure_rate,
        )
        if args.constraint:
            options["constraint"] = args.constraint
    options.update(key_values(args.judge_option, "--judge-option"))
    return options


def rendezvous_arguments(p: argparse.ArgumentParser) -> None:
    """Options of commands that wait for a group's siblings one sample at a time."""
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=120.0,
        help="seconds a sample waits for its group's siblings (default 120)",
    )
    p.add_argument(
        "--unscored",
        type=finite_float,
        default=0.0,
        help="reward when the judge gives no verdict (default 0; counted as unscored)",
    )
    p.add_argument("--require-card", help="refuse to start unless this robustness card passed")


def group_size_for(rule: Any, name: str, size: int | None) -> int:
    """``size``, or 1 for a static rule; a group-relative rule without a size is an error."""
    if size is not None:
        return size
    if rule.group_relative:
        raise CLIError(
            f"rule {name!r} is group-relative: give --group-size (the completions per prompt)"
        )
    return 1


def load_spec(path: str):
    """The :class:`~rewardkit.RewardSpec` at ``path`` (a :class:`CLIError` naming it)."""
    from ..spec import RewardSpec, SpecError

    try:
        return RewardSpec.load(path)
    except SpecError as e:
        raise CLIError(f"--spec {path}: {e}") from None
