"""A verdict cache in sqlite: shared by the processes of one machine, safe when one is killed.

Keyed by the judge's identity (a hash of everything that can change a verdict: transport,
endpoint, model, prompt, ladder, sampling settings, canonicaliser) and the pair's canonical
ground truth, prediction and context. WAL journaling lets several processes (GPU ranks) read
and write at once; every batch is written in one transaction, so a killed process leaves the
cache as it was before that batch or after it, never half-written. Only verdicts are cached,
never failures.

Opening checks the file at once - it must be a rewardkit cache of this schema, readable and
writable - so a bad path fails before any judge call is paid for (:class:`CacheError`).

**Values read back are checked before use** (here and in the Redis cache): a verdict is a slug
of the judge's ladder (the judge registers its slugs with :meth:`VerdictStore.accept`; for a
judge that did not, any slug-shaped text). Anything else - another word, bytes that are not
UTF-8, a number, JSON - is a miss: logged (warning), counted in ``stats.junk``, judged again
and overwritten.

>>> cache = VerdictCache(":memory:")
>>> cache.put("judge-a", [("samoyed", "dog", "generic")])
>>> cache.get("judge-a", [("samoyed", "dog"), ("samoyed", "cat")])
{('samoyed', 'dog'): 'generic'}
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Sequence

from ..errors import CacheError, CacheUnavailable  # noqa: F401 - re-exported
from ..records import CacheStats

__all__ = [
    "VerdictCache",
    "VerdictStore",
    "open_store",
    "CacheStats",
    "CacheError",
    "CacheUnavailable",
]

log = logging.getLogger(__name__)

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


_SLUG = re.compile(r"[a-z][a-z0-9_]{0,63}")


class VerdictStore:
    """The verdict-store protocol judges use (:func:`open_store` opens one): ``aget`` and
    ``aput`` whole batches under a judge's identity; ``claim``, ``release`` and
    ``await_verdicts`` share the judging of a pair between processes (here: every pair is
    this process's to judge); ``session`` holds a batch's connections; ``check`` reaches the
    store once. And what every store does with values it reads back: only a verdict of the
    judge is one (see the module docstring)."""

    where = "verdict cache"
    url = ""  # a redis:// URL for a store shared over the network

    def __init__(self) -> None:
        self.stats = CacheStats()
        self._verdicts: dict[str, frozenset[str]] = {}

    async def aget(self, judge: str, keys: Sequence[Sequence[str]]) -> dict[tuple, str]:
        raise NotImplementedError

    async def aput(self, judge: str, rows: Iterable[tuple]) -> None:
        raise NotImplementedError

    async def claim(self, judge: str, keys: Sequence[Sequence[str]]) -> list[bool]:
        """Per key, whether this process should judge it."""
        return [True] * len(keys)

    async def release(self, judge: str, keys: Sequence[Sequence[str]]) -> None:
        """Give up claims without a verdict (the pair failed)."""

    async def await_verdicts(
        self, judge: str, keys: Sequence[Sequence[str]]
    ) -> tuple[dict[tuple, str], list[tuple]]:
        """Verdicts other processes judged for ``keys``, and the keys left to judge here."""
        return {}, [tuple(k) for k in keys]

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[VerdictStore]:
        """The connections a batch uses (none here)."""
        yield self

    def check(self) -> None:
        """Reach the store once (:class:`CacheUnavailable`); a file is checked when opened."""

    def accept(self, judge: str, verdicts: Iterable[str]) -> None:
        """The verdicts judge ``judge`` (an identity) can give: the slugs of its ladder."""
        self._verdicts[judge] = frozenset(verdicts)

    def _checked(self, judge: str, found: Iterable[tuple[tuple, object]]) -> dict[tuple, str]:
        """``(key, value read)`` pairs to ``{key: verdict}``; other values are misses."""
        allowed = self._verdicts.get(judge)
        good: dict[tuple, str] = {}
        junk: list[object] = []
        for key, value in found:
            verdict = _verdict(value, allowed)
            if verdict is None:
                junk.append(value)
            else:
                good[key] = verdict
        if junk:
            self.stats.junk += len(junk)
            log.warning(
                "%s: %d cached value(s) are not verdicts of judge %s (first: %.60r); judged again",
                self.where,
                len(junk),
                judge,
                junk[0],
            )
        return good


def _verdict(value: object, allowed: frozenset[str] | None) -> str | None:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    if allowed is None:
        return value if _SLUG.fullmatch(value) else None
    return value if value in allowed else None


class VerdictCache(VerdictStore):
    """``get`` and ``put`` whole batches; ``path`` is a file (or ``:memory:``).

    A key is ``(truth, prediction)`` or ``(truth, prediction, context)``."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0) -> None:
        super().__init__()
        self.path = str(path)
        self.where = f"verdict cache {self.path}"
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
        found: dict[tuple, object] = {}
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
        return self._checked(judge, found.items())

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
        return {"path": self.path, "timeout": self.timeout, "verdicts": self._verdicts}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], timeout=state["timeout"])  # type: ignore[misc]
        self._verdicts = dict(state.get("verdicts", {}))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(where: str | os.PathLike | VerdictStore | None) -> VerdictStore | None:
    """The verdict store ``where`` names, opened and checked now (before any call is paid
    for): a ``redis://``, ``rediss://`` or ``unix://`` URL is a
    :class:`~rewardkit.judges.redis_cache.RedisCache` shared by every process of a run, any
    other path a sqlite :class:`VerdictCache`; a store is used as it is, ``None`` is none.

    >>> open_store(":memory:")  # doctest: +ELLIPSIS
    <rewardkit.judges.cache.VerdictCache object at ...>
    """
    if where is None or isinstance(where, VerdictStore):
        return where
    if isinstance(where, str) and where.startswith(("redis://", "rediss://", "unix://")):
        from .redis_cache import RedisCache

        return RedisCache(where)
    if isinstance(where, (str, os.PathLike)):
        return VerdictCache(where)
    raise TypeError(
        f"a verdict cache is a file path, a redis:// URL or a VerdictStore, got {where!r}"
    )
