"""``rewardkit plugins``: the loaded plugins as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

from .command import Command, example

__all__ = ["COMMAND", "run"]


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..plugins import get_plugins

    yield json.dumps(get_plugins(), indent=2)


COMMAND = Command(
    "plugins",
    "list the loaded plugins as JSON",
    lambda p: None,
    run,
    epilog=example("rewardkit plugins"),
)
