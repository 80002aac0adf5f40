"""A verdict cache in sqlite: shared by the processes of one machine, safe when one is killed.

Keyed by the judge's identity (a hash of everything that can change a verdict: transport,
endpoint, model, prompt, ladder, sampling settings, canonicaliser) and the pair's canonical
ground truth, prediction and context. WAL journaling lets several processes (GPU ranks) read
and write at once; every batch is written in one transaction, so a killed process leaves the
cache as it was before that batch or after it, never half-written. Only verdicts are cached,
never failures.

Opening checks the file at once - it must be a rewardkit cache of this schema, readable and
writable - so a bad path fails before any judge call is paid for (:class:`CacheError`).

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

from ..errors import RewardkitError

__all__ = ["VerdictCache", "CacheError"]

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    judge TEXT NOT NULL,
    truth TEXT NOT NULL,
    prediction TEXT NOT NULL,
    context TEXT NOT NULL,
    verdict TEXT NOT NULL,
    PRIMARY KEY (judge, truth, prediction, context)
) WITHOUT ROWID
"""
_COLUMNS = ["judge", "truth", "prediction", "context", "verdict"]
_CHUNK = 300  # pairs per SELECT (3 parameters each, under SQLite's limit)


class CacheError(RewardkitError, RuntimeError):
    """The verdict cache cannot be used: unreadable, unwritable, corrupt or of another schema."""


class VerdictCache:
    """``get`` and ``put`` whole batches; ``path`` is a file (or ``:memory:``).

    A key is ``(truth, prediction)`` or ``(truth, prediction, context)``."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                directory = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(directory, exist_ok=True)
                if os.path.isdir(self.path):
                    raise CacheError(f"verdict cache {self.path} is a directory, not a file")
            self._db = sqlite3.connect(
                self.path, timeout=timeout, check_same_thread=False, isolation_level=None
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._check()
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            # A write transaction now, so a read-only file fails here, not after the calls.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except CacheError:
            raise
        except (sqlite3.Error, OSError) as e:
            raise CacheError(f"verdict cache {self.path} cannot be used: {e}") from None

    def _check(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if not tables and version == 0:
            return  # a new file
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(verdicts)")]
        if version != SCHEMA_VERSION or columns != _COLUMNS:
            raise CacheError(
                f"verdict cache {self.path} is not a rewardkit verdict cache of schema "
                f"{SCHEMA_VERSION} (found version {version}, columns {columns}); "
                "give another file or delete this one"
            )

    @staticmethod
    def _row(key: Sequence[str]) -> tuple[str, str, str]:
        return (key[0], key[1], key[2] if len(key) > 2 else "")

    def get(self, judge: str, keys: Sequence[Sequence[str]]) -> dict[tuple, str]:
        """Cached verdicts for ``keys`` (keys not cached are absent from the result)."""
        found: dict[tuple, str] = {}
        by_row = {self._row(k): tuple(k) for k in keys}
        rows = list(by_row)
        with self._lock:
            try:
                for start in range(0, len(rows), _CHUNK):
                    chunk = rows[start : start + _CHUNK]
                    values = ",".join("(?,?,?)" for _ in chunk)
                    params = [judge, *(x for row in chunk for x in row)]
                    result = self._db.execute(
                        "SELECT truth, prediction, context, verdict FROM verdicts WHERE judge = ? "
                        f"AND (truth, prediction, context) IN (VALUES {values})",
                        params,
                    )
                    found.update((by_row[(t, p, c)], v) for t, p, c, v in result)
            except sqlite3.Error as e:
                raise CacheError(f"verdict cache {self.path}: read failed: {e}") from None
        return found

    # The async interface judges use: sqlite runs in a worker thread, off the event loop.
    async def aget(self, judge: str, keys: Sequence[Sequence[str]]) -> dict[tuple, str]:
        import asyncio

        return await asyncio.to_thread(self.get, judge, keys)

    async def aput(self, judge: str, rows: Iterable[tuple]) -> None:
        import asyncio

        await asyncio.to_thread(self.put, judge, list(rows))

    def put(self, judge: str, rows: Iterable[tuple]) -> None:
        """Store ``(*key, verdict)`` rows in one transaction."""
        rows = [(judge, *self._row(r[:-1]), r[-1]) for r in rows]
        if not rows:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)", rows
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise CacheError(f"verdict cache {self.path}: write failed: {e}") from None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    # A pickled cache (TRL pickles reward functions) reopens its file where it is unpickled;
    # a ":memory:" cache starts empty there.
    def __getstate__(self) -> dict:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], timeout=state["timeout"])  # type: ignore[misc]

    def close(self) -> None:
        with self._lock:
            self._db.close()
