"""A verdict cache in sqlite: shared by the processes of one machine, safe when one is killed.

Keyed by the judge's identity (transport, model, prompt version, ladder) and the normalised
ground truth and prediction. WAL journaling lets several processes (GPU ranks) read and write
at once; every batch is written in one transaction, so a killed process leaves the cache as it
was before that batch or after it, never half-written. Only verdicts are cached, never failures.

>>> cache = VerdictCache(":memory:")
>>> cache.put("judge-a", [("samoyed", "dog", "generic")])
>>> cache.get("judge-a", [("samoyed", "dog"), ("samoyed", "cat")])
{('samoyed', 'dog'): 'generic'}
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence

__all__ = ["VerdictCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    judge TEXT NOT NULL,
    truth TEXT NOT NULL,
    prediction TEXT NOT NULL,
    verdict TEXT NOT NULL,
    PRIMARY KEY (judge, truth, prediction)
) WITHOUT ROWID
"""
_CHUNK = 400  # pairs per SELECT (2 parameters each, under SQLite's limit)


class VerdictCache:
    """``get`` and ``put`` whole batches; ``path`` is a file (or ``:memory:``)."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=timeout, check_same_thread=False, isolation_level=None
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(_SCHEMA)

    def get(self, judge: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Cached verdicts for ``pairs`` (missing pairs are absent from the result)."""
        found: dict[tuple[str, str], str] = {}
        with self._lock:
            for start in range(0, len(pairs), _CHUNK):
                chunk = pairs[start : start + _CHUNK]
                values = ",".join("(?,?)" for _ in chunk)
                params = [judge, *(x for pair in chunk for x in pair)]
                rows = self._db.execute(
                    "SELECT truth, prediction, verdict FROM verdicts WHERE judge = ? AND "
                    f"(truth, prediction) IN (VALUES {values})",
                    params,
                )
                found.update(((t, p), v) for t, p, v in rows)
        return found

    def put(self, judge: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Store (truth, prediction, verdict) rows in one transaction."""
        rows = [(judge, t, p, v) for t, p, v in rows]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
