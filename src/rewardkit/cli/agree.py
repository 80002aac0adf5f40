"""``rewardkit agree``: how far two judges agree (kappa, confusion, reward effects)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..errors import CLIError, OptionError
from ..extras import EXTRAS, install_hint
from .args import chosen_options, positive_int
from .command import Command, example
from .io import (
    dump,
    field,
    found_flags,
    ignored,
    io_arguments,
    read_input,
    read_rows,
    write_lines,
)
from .judge import judge_with_progress, unbuildable
from .progress import wanted
from .rows import ladder_argument, ladder_name, verdict_column

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--a", help="column with judge A's verdicts (the reference)")
    p.add_argument("--b", help="column with judge B's verdicts (the candidate)")
    p.add_argument(
        "--input-b",
        metavar="FILE",
        help="read --b from this file (another run's output over the same rows, line by line) "
        "instead of --input",
    )
    p.add_argument("--judge-a", help="registered judge to run as A (rows need label, prediction)")
    p.add_argument("--judge-b", help="registered judge to run as B")
    p.add_argument("--option-a", action="append", metavar="KEY=VALUE", help="option for judge A")
    p.add_argument("--option-b", action="append", metavar="KEY=VALUE", help="option for judge B")
    p.add_argument("--taxonomy", help="taxonomy file for a taxonomy judge")
    p.add_argument("--cache", help="sqlite verdict cache shared by LLM judges")
    ladder_argument(p)
    p.add_argument(
        "--group-size", "-g", type=positive_int, help="consecutive rows per group: reward effects"
    )
    p.add_argument("--rule", help="reward rule for the effects with --group-size (speciarl)")
    p.add_argument("--report", help="folder for agreement.json, agreement.md and confusion.png")
    io_arguments(p, output=False)
    p.set_defaults(output=None)


_SHARED = ("taxonomy", "cache")  # flags given to whichever judge run takes them


def _run_judge(args, rows, name: str, side: int, shown: str) -> tuple[list, dict[str, Any]]:
    """Verdicts of the judge named for ``side`` (0: A, 1: B) over the rows, and its cost."""
    from ..errors import CacheError, JudgeError
    from ..plugins import get_judge, judge_options

    letter = "ab"[side]
    judge_name = getattr(args, f"judge_{letter}")
    options: dict[str, Any] = {}
    declared = judge_options(judge_name)
    for flag in _SHARED:
        if getattr(args, flag) and flag in declared:
            options[flag] = getattr(args, flag)
            args.used_flags.add(flag)
    items = getattr(args, f"option_{letter}")  # read as the judge's options declare them
    options = chosen_options(args, "judge", judge_name, items, f"--option-{letter}", options)
    pairs = []
    for row in rows:
        label = field(row, "label", name, (str,), "a string")
        prediction = field(row, "prediction", name, (str, type(None)), "a string or null")
        pairs.append((label, prediction))
    try:
        judge = get_judge(judge_name, **options)
        start = time.perf_counter()
        records = judge_with_progress(judge, pairs, wanted(args), f"rewardkit agree ({shown})")
        seconds = time.perf_counter() - start
    except OptionError as e:  # checked above: what the judge itself refuses as built
        raise unbuildable(e, args, judge_name, f"--option-{letter}") from None
    except (CacheError, JudgeError) as e:
        raise CLIError(f"judge {shown}: {e}") from None
    s = judge.stats
    cost = {
        "seconds": round(seconds, 4),
        "verdicts_per_second": round(len(pairs) / seconds, 1) if seconds else None,
        **{
            key: getattr(s, key)
            for key in ("calls", "cache_hits", "failures", "prompt_tokens", "completion_tokens")
            if hasattr(s, key)
        },
    }
    if getattr(s, "cost", 0):
        cost["cost"] = s.cost
    return [r.verdict for r in records], cost


def _names(args: argparse.Namespace) -> list[str]:
    """What the report calls A and B (a column or a judge, given once each)."""
    columns, judges = [args.a, args.b], [args.judge_a, args.judge_b]
    for letter, column, judge in zip("ab", columns, judges):
        if bool(column) == bool(judge):
            raise CLIError(f"give either --{letter} COLUMN or --judge-{letter} NAME")
    names = [c or j for c, j in zip(columns, judges)]
    return [f"{names[0]} (a)", f"{names[1]} (b)"] if names[0] == names[1] else names


def _save(report: Any, folder: str) -> None:
    from ..agreement import save_heatmap

    os.makedirs(folder, exist_ok=True)
    write_lines([json.dumps(report.to_dict(), indent=2)], os.path.join(folder, "agreement.json"))
    write_lines([report.markdown()], os.path.join(folder, "agreement.md"))
    try:
        save_heatmap(report, os.path.join(folder, "confusion.png"))
    except ImportError:
        hint = install_hint(EXTRAS["matplotlib"])
        print(
            f"rewardkit agree: no confusion.png: matplotlib is not installed: {hint}",
            file=sys.stderr,
        )


def _said_ignored(args: argparse.Namespace) -> None:
    """Options given that this run does not use, each said once."""
    if args.rule and not args.group_size:
        ignored("--rule", "reward effects need --group-size", "agree")
    for letter in "ab":
        if getattr(args, f"option_{letter}") and getattr(args, letter):
            why = f"judge {letter.upper()}'s verdicts come from the column --{letter}"
            ignored(f"--option-{letter}", why, "agree")


def _rows_b(args: argparse.Namespace, rows: list, name: str) -> tuple[list, str]:
    """The rows B's column is read from: ``--input-b`` (the same rows as the input, in the same
    order: each row's label and prediction checked), or the input's own."""
    if not args.input_b:
        return rows, name
    if not args.b:
        raise CLIError("--input-b gives judge B's verdicts from a file: give --b COLUMN too")
    try:
        with open(args.input_b, "rb") as f:
            rows_b = read_rows(f, args.input_b)
    except OSError as e:
        raise CLIError(f"cannot read {args.input_b}: {e.strerror}") from None
    if len(rows_b) != len(rows):
        raise CLIError(
            f"{name} has {len(rows)} rows, {args.input_b} {len(rows_b)}: not one run each"
        )
    for (number, a), (number_b, b) in zip(rows, rows_b):
        for key in ("label", "prediction"):
            if key in a and key in b and a[key] != b[key]:
                raise CLIError(
                    f"{name}, line {number} and {args.input_b}, line {number_b}: different "
                    f"{key}s ({a[key]!r}, {b[key]!r}); the two files must hold the same rows"
                )
    return rows_b, args.input_b


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..agreement import agreement
    from ..plugins import get_ladder

    rows, name = read_input(args)
    rows_b, name_b = _rows_b(args, rows, name)
    ladder_a, ladder_b = (
        ladder_name(args.ladder, rows, name),
        ladder_name(args.ladder, rows_b, name_b),
    )
    if ladder_a != ladder_b:
        raise CLIError(
            f"{name} is on ladder {ladder_a!r}, {name_b} on {ladder_b!r}: "
            "agreement needs one ladder"
        )
    ladder = get_ladder(ladder_a)
    names = _names(args)
    verdicts: list[list[str | None]] = []
    cost: dict[str, dict[str, Any]] = {}
    args.used_flags = set()
    for side, column in enumerate([args.a, args.b]):
        if column:
            source, shown = (rows, name) if side == 0 else (rows_b, name_b)
            verdicts.append(verdict_column(source, shown, ladder, column))
        else:
            side_verdicts, cost[names[side]] = _run_judge(args, rows, name, side, names[side])
            verdicts.append(side_verdicts)
    _said_ignored(args)
    for flag in _SHARED:
        if getattr(args, flag) and flag not in args.used_flags:
            judges = [j for j in (args.judge_a, args.judge_b) if j]
            why = f"no judge run takes it ({', '.join(judges)})" if judges else "no judge is run"
            ignored(f"--{flag}", why, "agree")
    found = None
    if args.group_size:
        found = found_flags(rows, name)
        if len(rows) % args.group_size:
            raise CLIError(
                f"{name}: {len(rows)} rows do not split into groups of {args.group_size}"
            )
    report = agreement(
        verdicts[0],
        verdicts[1],
        ladder,
        names=(names[0], names[1]),
        group_size=args.group_size,
        rule=(args.rule or "speciarl") if args.group_size else None,
        found=found,
    )
    report.cost = cost
    if args.report:
        _save(report, args.report)
    yield dump(report.to_dict())


COMMAND = Command(
    "agree",
    "how far two judges agree (kappa, confusion, reward effects)",
    add_arguments,
    run,
    description="Compare judge B with judge A on labelled rows: verdict columns (--a, --b) "
    "or judges run on the spot (--judge-a, --judge-b). Prints one JSON report.",
    epilog=example("rewardkit agree --a human --b verdict -g 4 --report out/ < rows.jsonl"),
)
