"""``rewardkit demo``: run the SpeciaRL CPU demo, an example script of the repository.

The demo is not package code: this command only finds ``examples/speciarl/cpu_demo.py`` beside
an editable install (or in the current folder's clone) and runs it with the options given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import CLIError
from .command import Command, example

__all__ = ["COMMAND", "script", "run"]

_SCRIPT = Path("examples", "speciarl", "cpu_demo.py")


def script() -> Path | None:
    """The demo script of the clone rewardkit runs from, or of the current folder."""
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (root / _SCRIPT).is_file():
            return root / _SCRIPT
    return None


def run(args: argparse.Namespace) -> Iterator[str]:
    import runpy

    path = script()
    if path is None:
        raise CLIError(
            "the SpeciaRL demo lives in the rewardkit repository (examples/speciarl); "
            "run `rewardkit demo` from an editable install of a clone, or `make demo` there"
        )
    sys.argv = [str(path), *args.extra]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise CLIError(f"the demo exited with status {e.code}") from None
    yield from ()


COMMAND = Command(
    "demo",
    "run the SpeciaRL CPU demo (from a clone)",
    lambda p: None,
    run,
    description="Run examples/speciarl/cpu_demo.py; options pass through "
    "(--preset full|quick|smoke, --seed N, --out DIR, --rules a,b, --trainer own|trl).",
    epilog=example("rewardkit demo --preset quick --trainer trl"),
    extra_args=True,
)
