"""A verdict cache in Redis, shared by every process and node of a run (``cache="redis://..."``).

Keys hold the judge's identity (the same honest hash as the sqlite cache) and a digest of the
canonical pair, so two judges never share a verdict. Reads are one ``MGET`` per batch, writes
one pipeline; ``ttl`` (seconds, or ``?ttl=`` in the URL) expires verdicts if given.

**One judge call per distinct pair across processes.** Before judging, a process claims each
missing pair with a lease (``SET NX PX``); pairs another process holds are awaited - their
verdict appears in the cache - and a lease that expires without a verdict (its holder died or
failed) is claimed anew. **Outages**: if Redis goes away the judge goes on without the cache
(every pair judged, nothing lost, no wrong verdict), logs it once, and tries Redis again
``retry_after`` seconds later. Needs ``redis`` (``pip install redis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["RedisCache"]

log = logging.getLogger("rewardkit.judges")


def _ttl_from(url: str, ttl: float | None) -> tuple[str, float | None]:
    """``redis://host:6379/0?ttl=86400``: the verdicts' expiry, in seconds, from the URL."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if "ttl" in query:
        try:
            ttl = float(query.pop("ttl"))
        except ValueError:
            raise ValueError(f"{url}: ttl must be a number of seconds") from None
        if ttl <= 0:
            raise ValueError(f"{url}: ttl must be positive")
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url, ttl


class RedisCache:
    """``aget``/``aput`` whole batches; ``claim`` and ``await_verdicts`` share judging work."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float | None = None,
        lease: float = 60.0,
        poll: float = 0.02,
        retry_after: float = 5.0,
        prefix: str = "rewardkit",
    ) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"a Redis cache URL starts with redis://, got {url!r}")
        url, ttl = _ttl_from(url, ttl)
        self.url, self.ttl, self.lease, self.poll = url, ttl, lease, poll
        self.retry_after, self.prefix = retry_after, prefix
        self._clients: dict[Any, Any] = {}  # one client per event loop
        self._users: dict[Any, int] = {}  # batches using the loop's client
        self._down_until = 0.0
        self.outages = 0

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_clients"], state["_users"] = {}, {}
        return state

    def identity(self) -> str:
        return self.url

    # -- connection ------------------------------------------------------------------------------

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.from_url(
                self.url, socket_timeout=5, socket_connect_timeout=5
            )
        return client

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, e: Exception) -> None:
        if self._up():
            log.warning("verdict cache %s unavailable (%s): judging without it", self.url, e)
            self.outages += 1
        self._down_until = time.monotonic() + self.retry_after

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
            return fallback
        import redis

        try:
            pipe = self._client().pipeline(transaction=False)
            build(pipe)
            return await pipe.execute()
        except (redis.RedisError, OSError) as e:
            self._failed(e)
            return fallback

    async def aget(self, judge: str, keys: Sequence[Sequence[str]]) -> dict[tuple, str]:
        """Cached verdicts for ``keys`` (absent when not cached, or Redis is down)."""
        if not keys:
            return {}
        got = await self._pipeline(lambda p: p.mget([self._key(judge, k) for k in keys]), None)
        if got is None:
            return {}
        return {tuple(k): v.decode() for k, v in zip(keys, got[0]) if v is not None}

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
        while waiting:
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
