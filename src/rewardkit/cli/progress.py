"""A one-line progress bar on stderr, for commands that judge many rows.

Shown when stderr is a terminal, or with ``--progress`` (a log file then gets a line per
update, at most one every ``every`` seconds, and the last). rewardkit draws its own rather
than import tqdm: tqdm is not a core dependency and its import alone costs about 0.13 s
(``python -X importtime -c "import tqdm"``), a third of ``import rewardkit.cli``.

>>> import io
>>> out = io.StringIO()
>>> with Progress(4, "rewardkit judge", "pairs", stream=out, every=0) as bar:
...     bar.update(1)
...     bar.update(3)
>>> out.getvalue().splitlines()[-1]
'rewardkit judge: 4/4 pairs (100%)'
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "wanted"]


def wanted(args: Any, stream: TextIO | None = None) -> bool:
    """Whether to show progress: ``--progress`` given, or ``stream`` (stderr) a terminal."""
    if getattr(args, "progress", False):
        return True
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


class Progress:
    """``done/total unit (pct) rate ETA``, redrawn in place on a terminal."""

    def __init__(
        self,
        total: int,
        prefix: str,
        unit: str = "rows",
        *,
        stream: TextIO | None = None,
        every: float = 0.2,
    ) -> None:
        self.total, self.prefix, self.unit = total, prefix, unit
        self.stream = stream or sys.stderr
        self.every = every
        self.done = 0
        self.start = self.shown = time.monotonic()
        self.tty = wanted(None, self.stream)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown >= self.every and self.done < self.total:
            self.shown = now
            self._draw(now)

    def close(self) -> None:
        self._draw(time.monotonic(), last=True)

    def _draw(self, now: float, last: bool = False) -> None:
        pct = 100 * self.done // self.total if self.total else 100
        text = f"{self.prefix}: {self.done}/{self.total} {self.unit} ({pct}%)"
        elapsed = now - self.start
        if not last and self.done and elapsed > 0:
            rate = self.done / elapsed
            left = (self.total - self.done) / rate
            text += f" {rate:.1f}/s, {int(left) // 60}:{int(left) % 60:02d} left"
        if self.tty:
            self.stream.write("\r" + text.ljust(72) + ("\n" if last else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
