"""Groups assembled in Redis, so several ``rewardkit serve`` replicas share them
(``rewardkit serve --groups redis://...``).

OpenRLHF rotates through its reward URLs call by call, so the siblings of one group reach
different replicas. Each replica appends a member's verdict code to the group's list in Redis
(one Lua script: atomic append and count), and the member that completes the group rewards it
and publishes the rewards; the others wait for them. The rules are :mod:`rewardkit.groups`':
complete groups at once; a member that waited ``timeout`` seconds closes its group with the
members present (``partial``); a member that joins a closed group is rewarded at once against
it plus itself; a key used again later (the same prompt next epoch) starts a new group once the
previous one is complete. Groups expire from Redis ``10 x timeout`` after their last member.
Needs ``redis``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .groups import Member

__all__ = ["RedisGroups"]

# KEYS[1]: the group's generation counter. ARGV: member, group size, expiry (ms).
_JOIN = """
local gen = redis.call('GET', KEYS[1]) or '0'
local list = KEYS[1] .. ':' .. gen
local n = redis.call('RPUSH', list, ARGV[1])
redis.call('PEXPIRE', list, ARGV[3])
local closed = redis.call('EXISTS', list .. ':closed')
if n >= tonumber(ARGV[2]) then
  redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {gen, n, closed}
"""


class RedisGroups:
    """``await reward(key, code, found)`` -> :class:`~rewardkit.groups.Member`, as
    :class:`~rewardkit.groups.AsyncGroups`, with the groups in Redis."""

    def __init__(
        self,
        url: str,
        group_size: int,
        score: Callable[[list[int], list[bool]], np.ndarray],
        timeout: float,
        *,
        poll: float = 0.01,
        prefix: str = "rewardkit",
    ) -> None:
        if group_size < 1 or timeout <= 0:
            raise ValueError("group_size >= 1 and timeout > 0 are required")
        self.url, self.group_size, self.score, self.timeout = url, group_size, score, timeout
        self.poll, self.prefix = poll, prefix
        self.ttl_ms = int(10 * timeout * 1000)
        self._client: Any = None
        self._script: Any = None
        self.completed = self.partials = self.late = 0

    def stats(self) -> dict[str, int]:
        """Counts of this replica (open groups live in Redis and are not counted)."""
        return {
            "open": 0,
            "completed": self.completed,
            "partial": self.partials,
            "late": self.late,
        }

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.url)
            self._script = self._client.register_script(_JOIN)
        return self._client

    def _rewards(self, rows: list[bytes]) -> list[float | None]:
        decoded = [json.loads(m) for m in rows]
        rewards = self.score([d[0] for d in decoded], [d[1] for d in decoded])
        return [None if x != x else float(x) for x in np.asarray(rewards, float).tolist()]

    async def _publish(self, r: Any, group: str, rewards: list, partial: bool) -> None:
        data = json.dumps({"rewards": rewards, "partial": partial})
        await r.set(f"{group}:result", data, px=self.ttl_ms)

    def _read(self, result: bytes, index: int) -> Member:
        data = json.loads(result)
        return Member.of(data["rewards"], index, bool(data["partial"]))

    async def reward(self, key: Hashable, code: int, found: bool) -> Member:
        r = self._redis()
        digest = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()
        counter = f"{self.prefix}:g:{digest}"
        gen, n, closed = await self._script(
            keys=[counter],
            args=[json.dumps([int(code), bool(found)]), self.group_size, self.ttl_ms],
        )
        group = f"{counter}:{gen.decode() if isinstance(gen, bytes) else gen}"
        index = int(n) - 1
        if closed:  # a late member: rewarded at once against the closed group plus itself
            self.late += 1
            return Member.of(self._rewards(await r.lrange(group, 0, index)), index, True)
        if n >= self.group_size:  # the last member: reward the group, publish for the others
            rewards = self._rewards(await r.lrange(group, 0, index))
            await self._publish(r, group, rewards, False)
            self.completed += 1
            return Member.of(rewards, index, False)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            result = await r.get(f"{group}:result")
            if result is not None:
                return self._read(result, index)
            await asyncio.sleep(self.poll)
        # Timed out: close the group with the members present (one replica wins the close).
        if await r.set(f"{group}:closed", b"1", nx=True, px=self.ttl_ms):
            rewards = self._rewards(await r.lrange(group, 0, -1))
            await self._publish(r, group, rewards, True)
            self.partials += 1
            return Member.of(rewards, index, True)
        while True:  # another member is closing it: its result is moments away
            result = await r.get(f"{group}:result")
            if result is not None:
                return self._read(result, index)
            await asyncio.sleep(self.poll)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
