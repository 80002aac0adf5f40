"""``rewardkit redteam``: attack a judge, print its robustness card, exit 1 when it fails.

The judge is chosen exactly as ``rewardkit judge`` chooses it (the same flags, built by the
same helpers, plugins' judges included), or from a ``--spec reward_spec.json``. Rows come as
JSON Lines (``label``, optional ``question``, ``prediction``, ``predictions``, ``wrong``,
``coarser``). The number of judge calls is printed before any call (``--dry-run`` stops
there); ``--max-calls`` caps it; the card goes to stdout as JSON and, with ``--report DIR``,
to ``card.json``, ``card.md`` and ``card.png``.

Exit status: 0 when the card passes, 1 when it fails (each failing family named on stderr),
2 for bad input or a judge that cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..cli.args import (
    _number_type,
    group_size_for,
    judge_arguments,
    judge_options,
    load_spec,
    positive_int,
    rule_arguments,
    rule_options,
)
from ..cli.command import Command, example
from ..cli.io import read_rows
from ..cli.progress import Progress, wanted
from ..errors import CLIError

__all__ = ["COMMAND", "add_arguments", "run"]

rate = _number_type("a number in [0, 1]", lambda v: 0 <= v <= 1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The judge's flags (as ``rewardkit judge`` takes them), the rule, the attacks, the gate,
    the budget and the report."""
    p.add_argument("--spec", help="a reward_spec.json: its judge, rule, ladder and group size")
    p.add_argument("--rule", default="speciarl", help="reward rule for the attacks' rewards")
    p.add_argument(
        "--group-size", "-g", type=positive_int, help="completions per group (group rules)"
    )
    p.add_argument("--families", help="comma-separated attack families (default: all)")
    p.add_argument(
        "--guard",
        help="measure the ladder's guard with these opt-in checks on: content_free, "
        "verdict_syntax, rung_names, comma-separated, or all",
    )
    p.add_argument(
        "--max-fpr",
        type=rate,
        default=0.05,
        help="false-positive rate allowed per family with the guard (default 0.05)",
    )
    p.add_argument(
        "--min-honest",
        type=rate,
        default=0.9,
        help="share of labels the judge must put on a top rung (default 0.9)",
    )
    p.add_argument("--max-calls", type=positive_int, help="cap on judge calls (rows are cut)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and make no call")
    p.add_argument("--report", help="folder for card.json, card.md and card.png")
    p.add_argument("--input", "-i", help="JSON Lines rows (default: stdin)")
    judge_arguments(p, old_timeout=True)
    rule_arguments(p)


def _setup(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(judge, rule, extraction settings) from the flags or the spec."""
    from ..judges.cache import CacheError
    from ..plugins import get_judge, get_rule

    extraction: dict[str, Any] = {}
    try:
        if args.spec:
            spec = load_spec(args.spec)
            judge = get_judge(spec.judge, **spec.judge_kwargs())
            rule = get_rule(spec.rule, **spec.rule_options)
            args.group_size = args.group_size or spec.group_size
            extraction = {"tag": spec.tag, "empty_is_missing": spec.empty_is_missing}
            extraction["extraction"] = getattr(spec, "extraction", "strict")
        else:
            judge = get_judge(args.judge, **judge_options(args))
            rule = get_rule(args.rule, **rule_options(args))
    except CacheError as e:
        raise CLIError(str(e)) from None
    args.group_size = group_size_for(rule, rule.name, args.group_size)
    return judge, rule, extraction


def _rows(args: argparse.Namespace) -> list[dict]:
    name = args.input or "<stdin>"
    try:
        if args.input:
            with open(args.input, "rb") as f:
                return [obj for _, obj in read_rows(f, name)]
        return [obj for _, obj in read_rows(getattr(sys.stdin, "buffer", sys.stdin), name)]
    except OSError as e:
        raise CLIError(f"cannot read {args.input}: {e.strerror}") from None


def _guard(args: argparse.Namespace, judge: Any) -> Any:
    if not args.guard:
        return None
    names = [n.strip() for n in args.guard.split(",") if n.strip()]
    try:
        return judge.ladder.guard.with_checks(*names)
    except ValueError as e:
        raise CLIError(f"--guard: {e}") from None


def run(args: argparse.Namespace):
    """Plan, print the calls, judge, print the card; ``SystemExit(1)`` when it fails."""
    from . import make_card
    from .runner import RedteamError, plan

    judge, rule, extraction = _setup(args)
    rows = _rows(args)
    families = [n.strip() for n in args.families.split(",")] if args.families else None
    try:
        if hasattr(judge, "check_labels"):
            judge.check_labels(sorted({str(r.get("label")) for r in rows if r.get("label")}))
        the_plan = plan(
            judge,
            rows,
            family_names=families,
            guard=_guard(args, judge),
            max_calls=args.max_calls,
            **extraction,
        )
    except (RedteamError, LookupError) as e:
        raise CLIError(str(e)) from None
    print(f"rewardkit redteam: {the_plan.summary()}", file=sys.stderr, flush=True)
    if args.dry_run:
        attacks = the_plan.attacks()
        yield json.dumps({"rows": the_plan.rows, "attacks": attacks, "calls": len(the_plan.pairs)})
        return
    records, counts = _judge(the_plan, wanted(args))
    card = make_card(
        the_plan, records, counts, rule, args.group_size, args.max_fpr, args.min_honest
    )
    if args.report:
        for path in card.save(args.report):
            print(f"rewardkit redteam: wrote {path}", file=sys.stderr)
    yield card.to_json()
    _verdict(card)


def _judge(the_plan: Any, show: bool) -> tuple[list, dict]:
    from ..judges.llm import JudgeError
    from .runner import judge_plan

    bar = _bar(len(the_plan.pairs), show)
    progress = None if bar is None else lambda done, _: bar.update(done - bar.done)
    try:
        return judge_plan(the_plan, progress)
    except JudgeError as e:
        raise CLIError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()


def _bar(total: int, show: bool) -> Any:
    """The command line's progress bar, on a terminal or with ``--progress``."""
    if not show:
        return None
    return Progress(total, "rewardkit redteam", "pairs")


def _verdict(card: Any) -> None:
    run = card.run
    print(
        f"rewardkit redteam: {run['pairs']} pairs, {run.get('calls', 0)} calls, "
        f"{run.get('cache_hits', 0)} cache hits, {run['seconds']:g} s: {card.status}",
        file=sys.stderr,
    )
    if not card.passed:
        for failure in card.failures:
            print(f"rewardkit redteam: FAIL {failure}", file=sys.stderr)
        sys.stdout.flush()
        raise SystemExit(1)


COMMAND = Command(
    "redteam",
    "attack a judge and write its robustness card (exit 1 when it fails the gate)",
    add_arguments,
    run,
    description="Attack a judge with every registered attack family beside honest baselines; "
    "print its robustness card as JSON. Exit 1 when a family's false-positive rate with the "
    "guard is over --max-fpr or the judge is unfit.",
    epilog=example(
        "rewardkit redteam --taxonomy tax.json -g 8 -i rows.jsonl --report card/\n"
        "  rewardkit redteam --judge openai --model M --api-base URL --cache v.sqlite "
        "-g 8 -i rows.jsonl --dry-run"
    ),
)
