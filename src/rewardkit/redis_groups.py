"""Groups assembled in Redis, so several ``rewardkit serve`` replicas share them
(``rewardkit serve --groups redis://...``).

OpenRLHF rotates through its reward URLs call by call, so the siblings of one group reach
different replicas. The rules are :mod:`rewardkit.groups`' (complete, timeout, late member,
identity, a failed request leaves no member behind); every change of a group is one Lua script:

- a key's groups are generations ``<prefix>:g:<sha256(key)>:<gen>``, each a hash: members by
  slot (``s:<slot>``), their tokens (``t:<token>``: the identity's digest, or random), a live
  count, and once closed the ``cut`` (members below it are the group, from it on late) and the
  ``result``. Slots are never renumbered: a removed member's fields are deleted, so it cannot
  be counted, and no other member's place moves;
- the member that completes a group, or the first whose ``timeout`` passes (``partial``),
  closes it in the script that checks it is open (exactly one closer) and takes the close lock
  (``close_ttl`` seconds); it rewards the frozen members and publishes (the first result stays).
  If it dies before publishing, the next waiter to poll after the lock expired takes over
  (``takeover``). Every wait ends by ``timeout + 3 x close_ttl``;
- a member whose request is cancelled or fails before its group closed is removed
  (``abandoned``) unless a request with its identity still waits on it; a closed group keeps
  its members (``undelivered``: a retry without identity is then a new member);
- a retried identity (``member=``) is found in the key's open or previous group and answered
  from its slot (``duplicate``); a late member is rewarded against the members up to its slot,
  so its retry gets the same number;
- Redis errors raise :class:`~rewardkit.errors.StoreUnavailable` with the reason and the URL
  without its password, after retrying the command on a fresh connection for ``retry_for``
  seconds (a dropped connection is survived; each script is idempotent per request).

Groups expire ``10 x timeout`` (at least ``timeout + 10 x close_ttl``) after their last member
or result. Needs ``redis``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import numpy as np

from .errors import StoreUnavailable
from .groups import Member, digest
from .urls import redact_url

__all__ = ["RedisGroups", "redact"]

log = logging.getLogger("rewardkit.redis_groups")

# KEYS[1]: the key's generation counter. ARGV: token, nonce, member, size, expiry, lock (ms).
_JOIN = """
local base = KEYS[1]
local gen = tonumber(redis.call('GET', base) or '0')
for g = gen, math.max(gen - 1, 0), -1 do
  local h = base .. ':' .. g
  local slot = redis.call('HGET', h, 't:' .. ARGV[1])
  if slot then
    if redis.call('HSETNX', h, 'c:' .. ARGV[2], slot) == 0 then
      return {g, tonumber(slot), 'mine'}
    end
    redis.call('HINCRBY', h, 'w:' .. slot, 1)
    return {g, tonumber(slot), 'again', redis.call('HGET', h, 's:' .. slot)}
  end
end
local h = base .. ':' .. gen
local slot = redis.call('HINCRBY', h, 'n', 1) - 1
redis.call('HSET', h, 's:' .. slot, ARGV[3], 't:' .. ARGV[1], slot, 'w:' .. slot, 1,
           'c:' .. ARGV[2], slot)
local live = redis.call('HINCRBY', h, 'live', 1)
redis.call('PEXPIRE', h, ARGV[5])
local status = 'wait'
if redis.call('HEXISTS', h, 'cut') == 1 then
  status = 'late'
  if live >= tonumber(ARGV[4]) then redis.call('INCR', base) end
elseif live >= tonumber(ARGV[4]) then
  status = 'complete'
  redis.call('HSET', h, 'cut', slot + 1)
  redis.call('SET', h .. ':lock', ARGV[2], 'PX', ARGV[6])
  redis.call('INCR', base)
end
redis.call('PEXPIRE', base, ARGV[5])
return {gen, slot, status}
"""

# KEYS: group, lock. ARGV: slot, nonce, timed out (0/1), lock (ms). The members a closer or a
# late member rewards come back as slot, member, slot, member, ... after the status and flag.
_WAIT = """
local function reply(status, limit)
  local out, fields = {}, redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local s = string.sub(fields[i], 1, 2) == 's:' and tonumber(string.sub(fields[i], 3))
    if s and s < limit then table.insert(out, {s, fields[i + 1]}) end
  end
  table.sort(out, function(x, y) return x[1] < y[1] end)
  local flat = {status, redis.call('HGET', KEYS[1], 'partial') or '0'}
  for _, m in ipairs(out) do table.insert(flat, m[1]); table.insert(flat, m[2]) end
  return flat
end
local slot = tonumber(ARGV[1])
if redis.call('HEXISTS', KEYS[1], 's:' .. slot) == 0 then return {'gone'} end
local cut = redis.call('HGET', KEYS[1], 'cut')
if cut and slot >= tonumber(cut) then return reply('late', slot + 1) end
local r = redis.call('HGET', KEYS[1], 'result')
if r then return {'result', r} end
if cut then
  local owner = redis.call('GET', KEYS[2])
  if owner and owner ~= ARGV[2] then return {'wait'} end
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  if owner then return reply('closer', tonumber(cut)) end
  return reply('takeover', tonumber(cut))
end
if ARGV[3] ~= '1' then return {'wait'} end
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
redis.call('HSET', KEYS[1], 'cut', n, 'partial', '1')
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
return reply('close', n)
"""

# KEYS: group, lock. ARGV: result, nonce, expiry (ms). The first result stays; the counter lives
# as long as its groups (a reset counter would send a new member into an old group).
_PUBLISH = """
local r = redis.call('HGET', KEYS[1], 'result')
if r then return r end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'result', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', string.match(KEYS[1], '^(.*):%d+$'), ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return ARGV[1]
"""

# KEYS: the key's generation counter. ARGV: token, nonce. The request's group is found by its
# nonce (its join's reply may never have come). 1 removed, 2 another request waits on the
# member, 0 kept (its group is closed), 3 not there.
_LEAVE = """
local gen = tonumber(redis.call('GET', KEYS[1]) or '0')
for g = gen, math.max(gen - 1, 0), -1 do
  local h = KEYS[1] .. ':' .. g
  local slot = redis.call('HGET', h, 'c:' .. ARGV[2])
  if slot then
    if redis.call('HEXISTS', h, 'cut') == 1 then return 0 end
    redis.call('HDEL', h, 'c:' .. ARGV[2])
    if redis.call('HINCRBY', h, 'w:' .. slot, -1) > 0 then return 2 end
    redis.call('HDEL', h, 's:' .. slot, 't:' .. ARGV[1], 'w:' .. slot)
    redis.call('HINCRBY', h, 'live', -1)
    return 1
  end
end
return 3
"""

_SCRIPTS = {"join": _JOIN, "wait": _WAIT, "publish": _PUBLISH, "leave": _LEAVE}
_COUNTS = ("completed", "partial", "late", "duplicate", "abandoned", "undelivered", "takeover")


def redact(url: str) -> str:
    """``url`` without its password (``redis://user:***@host``, ``?password=***``)."""
    return redact_url(url)


def _reason(error: BaseException) -> str:
    """What went wrong, in words an operator can act on."""
    from redis.exceptions import AuthenticationError

    text = str(error)
    if isinstance(error, AuthenticationError) or re.search(r"WRONGPASS|NOAUTH|auth", text, re.I):
        return f"authentication failed (wrong or missing password): {text}"
    if "DB index is out of range" in text:
        return f"database index out of range: {text}"
    cause = error.__cause__ or error.__context__
    refused = isinstance(cause, ConnectionRefusedError) or "Error 111 " in text
    return f"connection refused: {text}" if refused else f"{type(error).__name__}: {text}"


class RedisGroups:
    """``await reward(key, code, found, member=None)`` -> :class:`~rewardkit.groups.Member`, as
    :class:`~rewardkit.groups.AsyncGroups`, with the groups in Redis (rules: module docstring).

    ``poll`` is the seconds between a waiter's looks at its group; ``close_ttl`` the close
    lock's lifetime (longer than rewarding and publishing one group takes); ``retry_for`` how
    long one command is retried on connection errors before :class:`StoreUnavailable`.
    """

    def __init__(
        self,
        url: str,
        group_size: int,
        score: Callable[[list[int], list[bool]], np.ndarray],
        timeout: float,
        *,
        poll: float = 0.01,
        prefix: str = "rewardkit",
        close_ttl: float = 5.0,
        retry_for: float = 1.0,
    ) -> None:
        if group_size < 1 or timeout <= 0 or close_ttl <= 0:
            raise ValueError("group_size >= 1, timeout > 0 and close_ttl > 0 are required")
        self.url, self.group_size, self.score, self.timeout = url, group_size, score, timeout
        self.poll, self.prefix, self.close_ttl, self.retry_for = poll, prefix, close_ttl, retry_for
        self.ttl_ms = int(max(10 * timeout, timeout + 10 * close_ttl) * 1000)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._leaving: set[asyncio.Future] = set()
        self.counts = dict.fromkeys(_COUNTS, 0)

    def stats(self) -> dict[str, int]:
        """Counts of this replica (open groups live in Redis and are not counted)."""
        return {"open": 0, **self.counts}

    def _note(self, what: str, key: Hashable, text: str) -> None:
        """Count an event and log it: one line, the key as a digest."""
        self.counts[what] += 1
        level = logging.INFO if what in ("late", "duplicate") else logging.WARNING
        log.log(level, "group %s: %s", digest(key), text)

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            limit = max(5.0, self.close_ttl)  # no command waits forever
            self._client = aioredis.from_url(self.url, socket_timeout=limit)
            self._scripts = {n: self._client.register_script(t) for n, t in _SCRIPTS.items()}
        return self._client

    async def _run(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``, retried on connection errors for ``retry_for`` seconds; any Redis error
        becomes :class:`StoreUnavailable` naming the problem (never the password)."""
        from redis.exceptions import AuthenticationError, ConnectionError, RedisError, TimeoutError

        deadline, pause = time.monotonic() + self.retry_for, 0.02
        while True:
            try:
                return await call()
            except (ConnectionError, TimeoutError, OSError) as e:
                if isinstance(e, AuthenticationError) or time.monotonic() + pause > deadline:
                    raise self._error(f"{what}: {_reason(e)}") from None
                await asyncio.sleep(pause)
                pause = min(2 * pause, 0.25)
            except RedisError as e:
                raise self._error(f"{what}: {_reason(e)}") from None

    def _error(self, text: str) -> StoreUnavailable:  # never the password, wherever it shows
        return StoreUnavailable(redact(f"Redis groups at {self.url}: {text}"))

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._redis()
        script = self._scripts[name]
        return await self._run(name, lambda: script(keys=keys, args=args))

    async def check(self) -> None:
        """Ping Redis and load the scripts; :class:`StoreUnavailable` names the problem
        (connection refused, wrong password, database index out of range, scripts refused)."""
        r = self._redis()
        await self._run("ping", r.ping)
        for script in self._scripts.values():
            await self._run("script load", functools.partial(r.script_load, script.script))

    async def reward(
        self, key: Hashable, code: int, found: bool, member: Hashable | None = None
    ) -> Member:
        """Join (or rejoin by ``member`` identity) the group of ``key`` and wait for it."""
        deadline, cancels = time.monotonic() + self.timeout, _cancels()
        base, nonce = f"{self.prefix}:g:{_sha(key)}", uuid.uuid4().hex
        token = "r:" + nonce if member is None else "i:" + _sha(member)
        payload = json.dumps([int(code), bool(found)])
        args = [token, nonce, payload, self.group_size, self.ttl_ms, int(self.close_ttl * 1000)]
        try:
            gen, slot, status, *first = await self._script("join", [base], args)
            if _text(status) == "again":
                same = "" if first[0] == payload.encode() else " with ANOTHER verdict (kept)"
                self._note("duplicate", key, f"member {digest(member)} retried{same}, same slot")
            group = f"{base}:{_text(gen)}"
            return await self._settle(key, group, int(slot), nonce, (deadline, cancels))
        except BaseException:
            await self._leave(key, base, token, nonce)
            raise

    async def _settle(self, key: Hashable, group: str, slot: int, nonce: str, since: tuple):
        """Poll the group until its result (closing or taking it over when due); bounded."""
        (deadline, cancels), lock_ms = since, int(self.close_ttl * 1000)
        last = deadline + 3 * self.close_ttl
        while True:
            now = time.monotonic()
            args = [slot, nonce, int(now >= deadline), lock_ms]
            reply = await self._script("wait", [group, group + ":lock"], args)
            if _cancels() > cancels:
                raise asyncio.CancelledError
            status = _text(reply[0])
            if status == "result":
                return _read(reply[1], slot)
            if status in ("late", "closer", "takeover", "close"):
                return await self._answer(key, group, slot, nonce, status, reply[1:])
            if status == "gone":
                raise self._error("group state lost (expired or flushed)")
            if now >= last:
                waited = last - deadline + self.timeout
                raise self._error(f"no result for group {digest(key)} {waited:.0f} s after joining")
            await asyncio.sleep(self.poll)

    async def _answer(self, key, group, slot, nonce, status, reply) -> Member:
        """Reward the members in ``reply``: a late member its own; a closer the group, published."""
        partial = _text(reply[0]) == "1" or status == "close"
        slots, codes, found = _members(reply[1:])
        rewards = self.score(codes, found)
        values = [None if x != x else float(x) for x in np.asarray(rewards, float).tolist()]
        if status == "late":
            self._note("late", key, "late member rewarded against its closed group")
            return Member.of(values, slots.index(slot), True)
        data = json.dumps({"slots": slots, "rewards": values, "partial": partial})
        args = [data, nonce, self.ttl_ms]
        stored = await self._script("publish", [group, group + ":lock"], args)
        if stored is None:
            raise self._error("group state lost (expired or flushed)")
        if status == "takeover":
            self._note("takeover", key, "closer gone before publishing; taken over")
        elif status == "close":
            self._note("partial", key, f"timed out with {len(slots)} of {self.group_size} members")
        elif not partial:
            self.counts["completed"] += 1
        return _read(stored, slot)

    async def _leave(self, key: Hashable, base: str, token: str, nonce: str) -> None:
        """Remove a failed request's member (shielded: a cancelled request still leaves)."""

        async def leave() -> None:
            try:
                left = await self._script("leave", [base], [token, nonce])
            except StoreUnavailable as e:
                log.warning("group %s: member not removed: %s", digest(key), e)
                return
            if left == 1:
                self._note("abandoned", key, "a member's request failed; member removed")
            elif left == 0:
                self._note("undelivered", key, "a rewarded (closed) member's request failed")

        task = asyncio.ensure_future(leave())
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)
        with contextlib.suppress(asyncio.CancelledError):  # the removal goes on regardless
            await asyncio.shield(task)

    async def aclose(self) -> None:
        if self._leaving:
            await asyncio.gather(*self._leaving, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _cancels() -> int:
    """Cancellations requested of the current task (Python 3.11+; 0 before). redis-py sends
    under ``asyncio.wait_for``, which before 3.12 can swallow a cancellation that lands as the
    send completes: the count still shows it."""
    return getattr(asyncio.current_task(), "cancelling", lambda: 0)()


def _sha(value: Hashable) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _members(flat: list) -> tuple[list[int], list[int], list[bool]]:
    """Slots, codes and found flags from a script's ``slot, member, ...`` reply (checked)."""
    rows: list[tuple[int, int, bool]] = []
    for s, raw in zip(flat[::2], flat[1::2]):
        try:
            code, flag = json.loads(raw)
        except (ValueError, TypeError):
            code = flag = None
        if type(code) is not int or not -(2**15) <= code < 2**15 or type(flag) is not bool:
            raise StoreUnavailable("Redis groups: malformed group member read from Redis")
        rows.append((int(s), code, flag))
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _read(raw: Any, slot: int) -> Member:
    """The member at ``slot`` of a published result (checked before use)."""
    try:
        data = json.loads(raw)
        slots, rewards, partial = data["slots"], data["rewards"], data["partial"]
        index = slots.index(slot)
        ok = len(slots) == len(rewards) and isinstance(partial, bool)
        ok = ok and all(r is None or isinstance(r, (int, float)) for r in rewards)
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise StoreUnavailable("Redis groups: malformed group result read from Redis")
    return Member.of(rewards, index, partial)
