"""``rewardkit reward``: add a ``reward`` to rows with ``verdict``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from ..errors import CLIError
from .args import group_size_for, load_spec, positive_int, rule_arguments, rule_options
from .command import Command, example
from .io import dump, ignored, io_arguments, read_input
from .rows import ladder_argument, ladder_name, verdicts

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rule", help="registered reward rule, e.g. speciarl")
    p.add_argument("--spec", help="a reward_spec.json (from a training run): its rule and groups")
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        help="completions per group: each run of G consecutive rows (needed by group rules; "
        "default 1 for static rules)",
    )
    ladder_argument(p)
    io_arguments(p)
    rule_arguments(p)  # --no-answer, --unscored and every other option a rule declares


def _rule(args: argparse.Namespace) -> tuple[Any, Any]:
    """The rule of ``--rule`` or ``--spec`` with its options - the spec's, then the flags
    given (``args`` takes the spec's rule, groups and ladder) - and the ladder of the
    verdicts."""
    from ..plugins import get_ladder, get_rule

    options: dict[str, Any] = {}
    if args.spec:
        spec = load_spec(args.spec, check=False)  # the rule's options are checked as built
        if args.rule and args.rule != spec.rule:
            ignored("--rule", f"--spec {args.spec} names rule {spec.rule!r}", "reward")
        args.rule, options = spec.rule, dict(spec.rule_options)
        args.group_size = args.group_size or spec.group_size
        if spec.ladder:
            args.ladder = spec.ladder
    ladder = get_ladder(args.ladder)
    options.update(rule_options(args))
    return get_rule(args.rule, **options), ladder


def run(args: argparse.Namespace) -> Iterator[str]:
    import numpy as np

    from ..records import Batch
    from ..rules import to_list

    rows, name = read_input(args)
    if not args.rule and not args.spec:
        raise CLIError("give --rule NAME (or --spec reward_spec.json)")
    args.ladder = ladder_name(args.ladder, rows, name)
    rule, ladder = _rule(args)
    args.group_size = group_size_for(rule, args.rule, args.group_size)
    found_verdicts, found = verdicts(rows, name, ladder)
    if len(rows) % args.group_size:
        last = rows[-1][0] if rows else 0
        raise CLIError(
            f"{name}: {len(rows)} rows (last at line {last}) do not split into groups of "
            f"{args.group_size}"
        )
    codes = ladder.encode(found_verdicts)
    batch = Batch(ladder, codes, np.asarray(found, bool), args.group_size)
    for (_, obj), reward in zip(rows, to_list(rule.compute(batch))):
        yield dump(dict(obj, reward=reward))


COMMAND = Command(
    "reward",
    "add a 'reward' to rows with 'verdict'",
    add_arguments,
    run,
    epilog=example(
        "rewardkit reward --rule speciarl --group-size 10 < judged.jsonl\n"
        "  rewardkit reward --spec runs/x/reward_spec.json < judged.jsonl"
    ),
)
