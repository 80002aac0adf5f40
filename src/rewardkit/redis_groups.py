"""Groups assembled in Redis, so several ``rewardkit serve`` replicas share them
(``rewardkit serve --groups redis://...``).

OpenRLHF rotates through its reward URLs call by call, so the siblings of one group reach
different replicas. The rules are :mod:`rewardkit.groups`' (complete, timeout, late member,
identity, a failed request leaves no member behind); every change of a group is one Lua script
(:mod:`rewardkit.redis_scripts`):

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
- **leases: a failed request's member is never counted in a group closed after the failure.**
  Each member holds a lease (``l:<slot>``, in Redis's clock) that its request's polls renew;
  a renewal reaches at most ``lease`` seconds past the moment the replica sent it (the replica
  maps its clock onto Redis's with ``TIME``), so a command Redis runs late - after an outage,
  a ``DEBUG SLEEP`` - cannot extend it. The member that completes a group and the one that
  closes it at the timeout first remove every member whose lease has run out, and a poll that
  finds its own lease run out removes it (the request fails, 503). A request that cannot remove
  its member (Redis unreachable) keeps trying and answers its error only once the removal is
  confirmed or its lease has surely run out - so the trainer's retry can never join, complete or
  share a group with the failed request's ghost. A member frozen into a group before its
  request failed stays in it (``undelivered`` above). A replica that dies outright cannot
  wait: its members count until their leases run out. Assumes Redis's clock is not stepped
  back while members wait (NTP slewing is fine);
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
from .redis_scripts import SCRIPTS
from .urls import redact_url

__all__ = ["RedisGroups", "redact"]

log = logging.getLogger(__name__)

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
    long one command is retried on connection errors before :class:`StoreUnavailable`;
    ``command_timeout`` how long one command may take; ``lease`` how long a member stays
    counted after its request's last poll (longer than a poll takes; a failed request waits
    out at most this before its error when Redis cannot be reached).
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
        command_timeout: float = 5.0,
        lease: float = 5.0,
    ) -> None:
        if group_size < 1 or min(timeout, close_ttl, command_timeout, lease) <= 0:
            raise ValueError("group_size >= 1 and positive times are required")
        self.url, self.group_size, self.score, self.timeout = url, group_size, score, timeout
        self.poll, self.prefix, self.close_ttl, self.retry_for = poll, prefix, close_ttl, retry_for
        self.command_timeout, self.lease = command_timeout, lease
        self._clock: tuple[float, float, float] | None = None  # Redis - local (s), error, when
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

            self._client = aioredis.from_url(self.url, socket_timeout=self.command_timeout)
            self._scripts = {n: self._client.register_script(t) for n, t in SCRIPTS.items()}
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

    async def _script(
        self, name: str, keys: list[str], args: list[Any], lease: _Lease | None = None
    ) -> Any:
        """Run a script; with ``lease``, each try also sends the lease end it may set."""
        self._redis()
        script = self._scripts[name]
        if lease is None:
            return await self._run(name, lambda: script(keys=keys, args=args))
        await self._sync()
        return await self._run(name, lambda: script(keys=keys, args=[*args, self._renew(lease)]))

    async def _sync(self) -> None:
        """Map this process's clock onto Redis's (``TIME``), again every 5 s: the offset is
        an upper bound, off by at most the round trip, which is kept as its error."""
        if self._clock is not None and time.monotonic() - self._clock[2] < 5.0:
            return
        r = self._redis()
        sent = time.monotonic()
        seconds, micros = await self._run("time", r.time)
        back = time.monotonic()
        self._clock = (seconds + micros / 1e6 - sent, back - sent + 0.01, back)

    def _renew(self, lease: _Lease) -> int:
        """The lease end (ms, Redis's clock) for a command sent now; ``lease.ends`` (this
        clock) is then a time by which every lease this request has set has run out."""
        assert self._clock is not None
        offset, error, _ = self._clock
        sent = time.monotonic()
        lease.ends = max(lease.ends, sent + self.lease + error)
        return int((sent + offset + self.lease) * 1000)

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
        deadline, cancels, lease = time.monotonic() + self.timeout, _cancels(), _Lease()
        base, nonce = f"{self.prefix}:g:{_sha(key)}", uuid.uuid4().hex
        token = "r:" + nonce if member is None else "i:" + _sha(member)
        payload = json.dumps([int(code), bool(found)])
        args = [token, nonce, payload, self.group_size, self.ttl_ms, int(self.close_ttl * 1000)]
        try:
            gen, slot, status, *first = await self._script("join", [base], args, lease)
            if _text(status) == "stale":
                raise self._error(f"Redis ran the join after its {self.lease:g} s lease")
            if _text(status) == "again":
                same = "" if first[0] == payload.encode() else " with ANOTHER verdict (kept)"
                self._note("duplicate", key, f"member {digest(member)} retried{same}, same slot")
            group = f"{base}:{_text(gen)}"
            return await self._settle(key, group, int(slot), nonce, (deadline, cancels, lease))
        except BaseException:
            await self._leave(key, base, (token, nonce), lease)
            raise

    async def _settle(self, key: Hashable, group: str, slot: int, nonce: str, since: tuple):
        """Poll the group until its result (closing or taking it over when due); bounded."""
        (deadline, cancels, lease), lock_ms = since, int(self.close_ttl * 1000)
        last = deadline + 3 * self.close_ttl
        while True:
            now = time.monotonic()
            args = [slot, nonce, int(now >= deadline), lock_ms]
            reply = await self._script("wait", [group, group + ":lock"], args, lease)
            if _cancels() > cancels:
                raise asyncio.CancelledError
            status = _text(reply[0])
            if status == "result":
                return _read(reply[1], slot)
            if status in ("late", "closer", "takeover", "close"):
                return await self._answer(key, group, slot, nonce, status, reply[1:])
            if status == "stale":
                raise self._error(f"member removed: no poll reached Redis for {self.lease:g} s")
            if status == "gone":
                raise self._error("member not in its group (removed, or the group expired)")
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

    async def _leave(self, key: Hashable, base: str, ids: tuple[str, str], lease: _Lease) -> None:
        """Remove a failed request's member, trying until it is removed or its lease has
        surely run out (shielded: a cancelled request still leaves)."""

        async def leave() -> None:
            while True:
                try:
                    left = await self._script("leave", [base], list(ids))
                    break
                except StoreUnavailable as e:
                    wait = lease.ends - time.monotonic()
                    if wait <= 0:
                        tag = digest(key)
                        log.warning("group %s: member not removed, lease run out: %s", tag, e)
                        return
                    await asyncio.sleep(min(wait, 0.25))
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


class _Lease:
    """A request's lease: ``ends`` is when (``time.monotonic()``) every lease end it sent has
    surely passed in Redis's clock."""

    __slots__ = ("ends",)

    def __init__(self) -> None:
        self.ends = 0.0


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
