"""``rewardkit score``: metrics of rows with ``verdict``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from ..errors import CLIError
from .args import positive_int
from .command import Command, example
from .io import dump, io_arguments, read_input
from .rows import ladder_argument, ladder_name, verdicts

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    ladder_argument(p)
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        help="also report best-of-N over consecutive groups of this size",
    )
    io_arguments(p)


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..metrics import best_of_n, score
    from ..plugins import get_ladder

    rows, name = read_input(args)
    ladder = get_ladder(ladder_name(args.ladder, rows, name))
    found_verdicts, found = verdicts(rows, name, ladder)
    # A row with no answer found was not judged: it scores as missing, like a failed judge.
    found_verdicts = [v if f else None for v, f in zip(found_verdicts, found)]
    result = score(found_verdicts, ladder).to_dict()
    if args.group_size:
        if len(found_verdicts) % args.group_size:
            raise CLIError(
                f"{name}: {len(rows)} rows do not split into groups of {args.group_size}"
            )
        result["best_of_n"] = best_of_n(found_verdicts, args.group_size, ladder).to_dict()
    yield dump(result)


COMMAND = Command(
    "score",
    "metrics of rows with 'verdict'",
    add_arguments,
    run,
    epilog=example("rewardkit score --group-size 10 < judged.jsonl"),
)
