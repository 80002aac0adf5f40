"""A verdict cache in Redis, shared by every process and node of a run (``cache="redis://..."``).

Keys hold the judge's identity (the same honest hash as the sqlite cache) and a digest of the
canonical pair, so two judges never share a verdict. Reads are one ``MGET`` per batch, writes
one pipeline; ``ttl`` (seconds, or ``?ttl=`` in the URL) expires verdicts if given.

**One judge call per distinct pair across processes.** Before judging, a process claims each
missing pair with a lease (``SET NX PX``); pairs another process holds are awaited - their
verdict appears in the cache - and a lease that expires without a verdict (its holder died or
failed) is claimed anew; no wait outlasts twice the lease (a lease planted without an expiry
cannot hold a pair forever).

**Checked at start, survived mid-run.** Opening the cache connects, authenticates, selects the
database and writes a probe key: Redis down, a wrong password, a wrong database or a read-only
replica is a :class:`~rewardkit.judges.cache.CacheUnavailable` (a ``CacheError`` and a
``StoreUnavailable``) before any judge call is paid for. If Redis goes away later the judge
goes on without the cache (every pair judged, nothing lost, no wrong verdict): each outage is
logged once (warning, and info when Redis is back), counted in ``stats.outages``, and Redis is
tried again ``retry_after`` seconds later. Values read back are checked (``stats.junk``), and
the URL's password never reaches a log line or an error (:func:`~rewardkit.urls.redact_url`).
Needs ``redis`` (``pip install redis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from ..urls import redact_url
from .cache import CacheUnavailable, VerdictStore

__all__ = ["RedisCache", "redact_url"]

log = logging.getLogger(__name__)


def _ttl_from(url: str, ttl: float | None) -> tuple[str, float | None]:
    """``redis://host:6379/0?ttl=86400``: the verdicts' expiry, in seconds, from the URL."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "ttl" in query:
        try:
            ttl = float(query.pop("ttl"))
        except ValueError:
            raise ValueError(f"{redact_url(url)}: ttl must be a number of seconds") from None
        if not ttl > 0:
            raise ValueError(f"{redact_url(url)}: ttl must be positive")
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url, ttl


class RedisCache(VerdictStore):
    """``aget``/``aput`` whole batches; ``claim`` and ``await_verdicts`` share judging work.
    ``check=False`` skips the check at start (the first operation finds out instead)."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float | None = None,
        lease: float = 60.0,
        poll: float = 0.02,
        retry_after: float = 5.0,
        prefix: str = "rewardkit",
        timeout: float = 5.0,
        check: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"a Redis cache URL starts with redis://, got {redact_url(url)!r}")
        url, ttl = _ttl_from(url, ttl)
        if ttl is not None and not 0 < ttl < float("inf"):
            raise ValueError(f"{redact_url(url)}: ttl must be a positive number of seconds")
        self.url, self.ttl, self.lease, self.poll = url, ttl, lease, poll
        self.retry_after, self.prefix, self.timeout = retry_after, prefix, timeout
        self.where = f"verdict cache {redact_url(url)}"
        self._clients: dict[Any, Any] = {}  # one client per event loop
        self._users: dict[Any, int] = {}  # batches using the loop's client
        self._down_until = 0.0
        self._down = False  # in an outage (logged once, until an operation succeeds)
        if check:
            self.check()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_clients"], state["_users"] = {}, {}
        return state

    def __repr__(self) -> str:
        return f"RedisCache({redact_url(self.url)!r})"

    @property
    def outages(self) -> int:
        return self.stats.outages

    def identity(self) -> str:
        """The cache's URL, password redacted."""
        return redact_url(self.url)

    def _why(self, e: BaseException) -> str:
        """An error's text with the URL's password taken out, wherever the library put it."""
        from urllib.parse import unquote, urlsplit

        text = f"{type(e).__name__}: {e}"
        with contextlib.suppress(ValueError):
            password = urlsplit(self.url).password
            for secret in {password, unquote(password or "")} - {None, ""}:
                text = text.replace(secret, "***")  # type: ignore[arg-type]
        return redact_url(text) if "://" in text else text

    def check(self) -> None:
        """Connect, authenticate, select the database and write (then delete) a probe key:
        :class:`CacheUnavailable` naming the problem if any step fails."""
        try:
            import redis
        except ImportError:
            raise CacheUnavailable(
                f"{self.where}: the redis package is missing (pip install 'rewardkit-rl[redis]')"
            ) from None
        client = None
        try:
            client = redis.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
            probe = f"{self.prefix}:probe:{uuid.uuid4().hex}"
            client.set(probe, b"1", px=60_000)
            client.delete(probe)
        except (redis.RedisError, OSError, ValueError) as e:
            raise CacheUnavailable(f"{self.where} cannot be used: {self._why(e)}") from None
        finally:
            if client is not None:
                client.close()

    # -- connection ------------------------------------------------------------------------------

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        return client

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, e: Exception) -> None:
        self.stats.unavailable += 1
        if not self._down:
            self._down = True
            self.stats.outages += 1
            log.warning(
                "%s unavailable (%s): judging without it, trying again every %gs",
                self.where,
                self._why(e),
                self.retry_after,
            )
        self._down_until = time.monotonic() + self.retry_after

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.info("%s is back", self.where)

    @contextlib.asynccontextmanager
    async def session(self):
        """Batches on one event loop share its client; the last one out closes it."""
        loop = asyncio.get_running_loop()
        self._users[loop] = self._users.get(loop, 0) + 1
        try:
            yield self
        finally:
            self._users[loop] -= 1
            if not self._users[loop]:
                del self._users[loop]
                client = self._clients.pop(loop, None)
                if client is not None:
                    await client.aclose()

    # -- keys --------------------------------------------------------------------------------------

    def _key(self, judge: str, key: Sequence[str], kind: str = "v") -> str:
        digest = hashlib.sha256(json.dumps([judge, list(key)]).encode()).hexdigest()
        return f"{self.prefix}:{kind}:{digest}"

    # -- the cache ---------------------------------------------------------------------------------

    async def _pipeline(self, build: Any, fallback: Any) -> Any:
        """The commands ``build(pipe)`` adds, in one round trip - or ``fallback`` while Redis
        is down (a failure here marks it down)."""
        if not self._up():
            self.stats.unavailable += 1
            return fallback
        import redis

        try:
            pipe = self._client().pipeline(transaction=False)
            build(pipe)
            result = await pipe.execute()
        except (redis.RedisError, OSError) as e:
            self._failed(e)
            return fallback
        self._back()
        return result

    async def aget(self, judge: str, keys: Sequence[Sequence[str]]) -> dict[tuple, str]:
        """Cached verdicts for ``keys`` (absent when not cached, or Redis is down)."""
        if not keys:
            return {}
        got = await self._pipeline(lambda p: p.mget([self._key(judge, k) for k in keys]), None)
        if got is None:
            return {}
        return self._checked(judge, ((tuple(k), v) for k, v in zip(keys, got[0]) if v is not None))

    async def aput(self, judge: str, rows: Iterable[tuple]) -> None:
        """Store ``(*key, verdict)`` rows and release their leases."""
        rows = list(rows)
        expiry = int(self.ttl) if self.ttl else None

        def build(pipe: Any) -> None:
            for *key, verdict in rows:
                pipe.set(self._key(judge, key), verdict, ex=expiry)
                pipe.delete(self._key(judge, key, "lease"))

        if rows:
            await self._pipeline(build, None)

    async def claim(self, judge: str, keys: Sequence[Sequence[str]]) -> list[bool]:
        """Per key, whether this process should judge it (it took the lease, or Redis is
        down); ``False`` where another process holds the lease."""
        lease_ms = int(self.lease * 1000)

        def build(pipe: Any) -> None:
            for k in keys:
                pipe.set(self._key(judge, k, "lease"), b"1", nx=True, px=lease_ms)

        won = await self._pipeline(build, [True] * len(keys)) if keys else []
        return [bool(w) for w in won]

    async def release(self, judge: str, keys: Sequence[Sequence[str]]) -> None:
        """Give up leases without a verdict (the pair failed): waiters claim it at once."""
        if keys:
            leases = [self._key(judge, k, "lease") for k in keys]
            await self._pipeline(lambda p: p.delete(*leases), None)

    async def await_verdicts(
        self, judge: str, keys: Sequence[Sequence[str]]
    ) -> tuple[dict[tuple, str], list[tuple]]:
        """Wait for verdicts other processes are judging: (verdicts found, keys to judge here
        because their lease is gone without a verdict, or Redis went away)."""
        waiting = [tuple(k) for k in keys]
        found: dict[tuple, str] = {}
        mine: list[tuple] = []
        deadline = time.monotonic() + 2 * self.lease
        while waiting:
            if time.monotonic() > deadline:  # a lease that never expires: judge them here
                log.warning(
                    "%s: %d pairs still leased after %gs", self.where, len(waiting), 2 * self.lease
                )
                return found, mine + waiting
            got = await self.aget(judge, waiting)
            found.update(got)
            waiting = [k for k in waiting if k not in got]
            if not waiting:
                break
            leases = [self._key(judge, k, "lease") for k in waiting]
            held = await self._pipeline(
                lambda p, leases=leases: [p.exists(x) for x in leases], None
            )
            if held is None:  # Redis is down: judge the rest here
                return found, mine + waiting
            orphans = [k for k, h in zip(waiting, held) if not h]
            if orphans:
                # A lease gone without a verdict: claim it (one process wins, the rest wait on).
                won = await self.claim(judge, orphans)
                taken = [k for k, w in zip(orphans, won) if w]
                late = await self.aget(judge, taken)  # written just before its lease went
                found.update(late)
                if late:
                    await self.release(judge, list(late))
                mine += [k for k in taken if k not in late]
                claimed = set(taken)
                waiting = [k for k in waiting if k not in claimed]
            if waiting:
                await asyncio.sleep(self.poll)
        return found, mine
