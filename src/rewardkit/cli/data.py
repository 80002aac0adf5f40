"""``rewardkit data``: where the example data that ships with rewardkit is.

rewardkit data                      # every example file's path, one per line
rewardkit data animals.json         # one file's path: --taxonomy "$(rewardkit data animals.json)"
rewardkit data --copy examples/     # copies of them all in a folder of your own
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from .command import Command, example

__all__ = ["COMMAND", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..data import FILES

    p.add_argument("name", nargs="?", choices=FILES, help="one file (default: all of them)")
    p.add_argument("--copy", metavar="DIR", help="copy the files into DIR; print the copies")


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..data import copy, path, paths

    if args.copy:
        copied = copy(args.copy)
        yield from (p for p in copied if args.name is None or p.endswith(f"/{args.name}"))
    elif args.name:
        yield path(args.name)
    else:
        yield from paths().values()


COMMAND = Command(
    "data",
    "print the paths of the example data that ships with rewardkit",
    add_arguments,
    run,
    epilog=example(
        'rewardkit judge --taxonomy "$(rewardkit data animals.json)" '
        '-i "$(rewardkit data rollouts.jsonl)"'
    ),
)
