"""What a ``rewardkit`` command is: a name, its help, ``add_arguments`` and ``run``.

Every command - built in or added by a plugin through the ``register_commands`` hook - is a
:class:`Command`. ``run(args)`` yields the command's output lines; the entry point writes them
to stdout, or atomically to ``--output`` when the command has one. A command that reads rows
checks all of them before its first line, so bad input leaves no partial output.

>>> import argparse
>>> hello = Command("hello", "say hello", lambda p: p.add_argument("--name"),
...                 lambda args: [f"hello {args.name}"])
>>> parser = argparse.ArgumentParser(prog="rewardkit")
>>> _ = hello.add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["hello", "--name", "you"])
>>> list(args.command_run(args))
['hello you']
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Command", "example"]


def example(text: str) -> str:
    """An epilog that shows ``text`` as an example."""
    return "example:\n  " + text


@dataclass(frozen=True)
class Command:
    """A subcommand: ``add_arguments(parser)`` declares its flags, ``run(args)`` yields its
    output lines. ``extra_args``: unknown arguments pass through as ``args.extra`` (the demo's
    own options) instead of being an error."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], Any]
    run: Callable[[argparse.Namespace], Iterable[str]]
    description: str = ""
    epilog: str = ""
    extra_args: bool = False

    def add_parser(self, sub: Any) -> argparse.ArgumentParser:
        """Add this command to the ``rewardkit`` subparsers ``sub``."""
        description = self.description or self.help[:1].upper() + self.help[1:] + "."
        p = sub.add_parser(
            self.name,
            help=self.help,
            description=description,
            epilog=self.epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.add_arguments(p)
        p.set_defaults(command_run=self.run, command_extra=self.extra_args)
        return p
