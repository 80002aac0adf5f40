"""Where the command line's log lines go: stderr, one line each, passwords masked.

Every module logs on ``logging.getLogger(__name__)`` (``rewardkit.judges.calls``,
``rewardkit.serve``, ...); :func:`log_to_stderr` gives the process one handler on the root
logger that writes ``rewardkit judge: WARNING rewardkit.judges.calls: ...`` to the current
``sys.stderr``, and ``--log-level`` sets the level of the ``rewardkit`` loggers (warnings by
default; ``debug`` adds, for example, each request ``rewardkit serve`` answers).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..serve_stores import _Redact

__all__ = ["log_to_stderr"]


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a record comes."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ sets it
        pass


def log_to_stderr(prefix: str, level: str | None = None) -> None:
    """Send log records to stderr as ``prefix: LEVEL logger: message`` (one handler per
    process, redacted); ``level`` sets the ``rewardkit`` loggers' level when given."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        handler.addFilter(_Redact())
        root.addHandler(handler)
        logging.captureWarnings(True)
    handler.setFormatter(logging.Formatter(f"{prefix}: %(levelname)s %(name)s: %(message)s"))
    if level is not None:
        logging.getLogger("rewardkit").setLevel(level.upper())
