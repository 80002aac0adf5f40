"""``rewardkit monitor RUN_DIR``: a training run's monitor records as a summary and a figure.

Reads ``monitor.jsonl`` and ``audit.jsonl`` from the run's folder (written by
:class:`rewardkit.monitor.Monitor` beside ``reward_spec.json``), prints a Markdown summary
with the alarms fired, and draws training reward against audit reward, kappa, the verdict mix
and answer length over the steps as ``monitor.png`` (with ``--report DIR``: ``monitor.md``
and ``monitor.png`` there; the figure needs matplotlib).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from ..errors import CLIError
from .command import Command, example
from .io import write_lines

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="the run's folder (holds monitor.jsonl and audit.jsonl)")
    p.add_argument(
        "--report",
        help="folder for monitor.md and monitor.png (default: the run's folder, figure only)",
    )
    p.add_argument("--no-plot", action="store_true", help="the summary only, no figure")


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..monitor.report import plot, summary
    from ..monitor.runlog import MONITOR_FILE, read_run

    if not os.path.isdir(args.run_dir):
        raise CLIError(f"no run folder {args.run_dir}")
    if not os.path.exists(os.path.join(args.run_dir, MONITOR_FILE)):
        raise CLIError(f"{args.run_dir} holds no {MONITOR_FILE}: was the run monitored?")
    try:
        records = read_run(args.run_dir)
    except ValueError as e:
        raise CLIError(str(e)) from None
    text = summary(records)
    folder = args.report or args.run_dir
    if args.report:
        os.makedirs(folder, exist_ok=True)
        write_lines([text], os.path.join(folder, "monitor.md"))
    if not args.no_plot:
        try:
            plot(records, os.path.join(folder, "monitor.png"))
        except ImportError:
            print(
                "rewardkit monitor: no matplotlib, no figure (pip install 'rewardkit-rl[demo]')",
                file=sys.stderr,
            )
    yield text.rstrip("\n")


COMMAND = Command(
    "monitor",
    "a monitored run's audit, drift and alarms as a summary and a figure",
    add_arguments,
    run,
    epilog=example("rewardkit monitor runs/hacking-demo/hacked --report out/"),
)
