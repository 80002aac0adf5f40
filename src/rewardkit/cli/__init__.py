"""The ``rewardkit`` command line: JSON Lines in and out (stdin/stdout by default).

    rewardkit judge --taxonomy tax.json < rows.jsonl        # adds "verdict"
    rewardkit judge --judge openai --model M --api-base URL --explain < rows.jsonl
    rewardkit reward --rule speciarl --group-size 10 < judged.jsonl   # adds "reward"
    rewardkit score < judged.jsonl                          # one JSON object of metrics
    rewardkit plugins                                       # the loaded plugins
    rewardkit serve --taxonomy tax.json -g 8                # rewards over HTTP
    rewardkit demo [--preset quick]                         # the SpeciaRL CPU demo
    rewardkit data animals.json                             # an example file's path

Bad input exits with status 2 and a message naming the line; output is written only once the
whole input has been read and checked, and an ``--output`` file appears complete or not at all.

Each command is a module of this package with ``add_arguments(parser)`` and ``run(args)``,
described by a :class:`~rewardkit.cli.command.Command`; a plugin adds its own through the
``register_commands`` hook.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import CLIError, RewardkitError
from ..extras import missing_extra
from ..redteam import command as redteam
from ..urls import redact
from . import agree, data, demo, judge, monitor, openrlhf_reward, plugins, reward, score, serve
from .args import (
    failure_rate,
    finite_float,
    group_size_for,
    judge_arguments,
    judge_options,
    key_values,
    load_spec,
    port_number,
    positive_int,
    positive_seconds,
    rendezvous_arguments,
)
from .command import Command, example
from .io import dump, field, read_rows, write_lines
from .logs import log_to_stderr

__all__ = ["main", "build_parser", "commands", "Command"]

# Names other modules imported from the single-module CLI, kept importable from here.
_load_spec = load_spec
_COMPAT = (
    failure_rate, finite_float, group_size_for, judge_arguments, judge_options, key_values,
    port_number, positive_int, positive_seconds, rendezvous_arguments, example, dump, field,
    read_rows,
)  # fmt: skip

BUILTIN = [
    judge.COMMAND,
    reward.COMMAND,
    score.COMMAND,
    agree.COMMAND,
    serve.COMMAND,
    openrlhf_reward.COMMAND,
    demo.COMMAND,
    plugins.COMMAND,
    redteam.COMMAND,
    data.COMMAND,
    monitor.COMMAND,
]


def commands() -> list[Command]:
    """rewardkit's commands, then those plugins register (``register_commands``)."""
    from ..plugins import commands as registered

    out = list(BUILTIN)
    taken = {c.name for c in out}
    for name, command in registered().items():
        if name in taken:
            raise CLIError(f"a plugin registers command {name!r}, which rewardkit has")
        out.append(command)
    return out


LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    from ..version import __version__

    parser = argparse.ArgumentParser(
        prog="rewardkit", description="Reward shaping for RL with verifiable rewards."
    )
    parser.add_argument("--version", action="version", version=f"rewardkit {__version__}")
    _global_options(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands():
        _global_options(command.add_parser(sub), argparse.SUPPRESS)
    return parser


def _global_options(p: argparse.ArgumentParser, default: object) -> None:
    """Options every command takes, before or after its name."""
    p.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=default,
        help="what rewardkit logs to stderr (default warning)",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        default=default,
        help="show progress on stderr even when it is not a terminal",
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``rewardkit`` with ``argv`` (default: the process's); the exit status."""
    log_to_stderr("rewardkit")  # plugins load while the parser is built: their warnings
    try:
        parser = build_parser()
    except (RewardkitError, ImportError) as e:  # a plugin that cannot load
        print(f"rewardkit: error: {_message(e)}", file=sys.stderr)
        return 2
    args, extra = parser.parse_known_args(argv)
    if args.command_extra:
        args.extra = extra  # the command's own options pass through
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    log_to_stderr(f"rewardkit {args.command}", getattr(args, "log_level", None))
    try:
        output = getattr(args, "output", None)
        if output:
            directory = os.path.dirname(os.path.realpath(output))
            if not os.path.isdir(directory):
                raise CLIError(f"cannot write --output {output}: no directory {directory}")
        write_lines(args.command_run(args), output)
    except BrokenPipeError:  # the reader went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (RewardkitError, LookupError, ValueError, OSError) as e:  # LookupError: unknown names
        print(f"rewardkit {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    except ImportError as e:
        if missing_extra(e) is None:
            raise
        print(f"rewardkit {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    return 0


def _message(error: BaseException) -> str:
    """One line for ``error``: a missing optional module names its extra; passwords masked."""
    error = missing_extra(error) or error
    return redact(str(error))
