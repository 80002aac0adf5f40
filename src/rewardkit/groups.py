"""Assembling GRPO groups from completions that arrive one at a time.

Trainers that score one sample per call (OpenRLHF's reward function, verl's reward-loop
workers, an HTTP reward service) never hand a group-relative rule a whole group. A
:class:`GroupBuffer` collects each group's members under a key (the prompt and label, or
verl's ``uid``) and rewards the group once its ``group_size``-th member joins. The same rules
hold for every wrapper (and for :mod:`rewardkit.redis_groups`):

- **complete**: the last member's ``join`` rewards the whole group; every member gets its
  reward from that one computation;
- **timeout**: a member that waited ``timeout`` seconds closes its group with the members
  present, rewarded as a group of their own (``partial``);
- **late member**: a member that joins a group closed by the timeout is rewarded at once
  against that group plus itself, also ``partial``; once the group has ``group_size`` members
  it accepts no more;
- **identity** (``member=``, optional): the member's identity within its group (verl's sample
  index within a ``uid``, an ``id`` in rewardkit's JSON API). A member whose identity already
  joined the key's open group, or its recently closed one, is the same member retried: it gets
  the SAME reward (waiting for the group if it is still open) and is never counted twice
  (``duplicate``). Identities must not recur under one key within ``linger`` seconds except as
  retries. Without identity (OpenRLHF's protocol carries none) every call is a new member;
- **a failed request leaves no member behind**: a member whose wait is cancelled (the client
  went away) or fails before its group is done is removed from the group (``abandoned``), so
  the trainer's retry takes its place instead of joining a second time; a removed member is
  never counted. One whose group was already rewarded stays in it (``undelivered``: a retry
  without identity is then a new member);
- **pruning**: closed groups are forgotten ``linger`` seconds after they closed;
- **bounded memory**: groups are held under a 128-bit digest of their key and members under
  one of their identity (never the prompt or label themselves); at most ``max_open`` groups
  (default 65,536) are open - a member of a new group beyond that is refused with
  :class:`GroupsFull` (the service answers 503), a member of an open group still joins - and
  at most ``max_closed`` (default 65,536) closed groups are kept: beyond that the oldest
  closed group is forgotten first, before its ``linger`` (``pruned``);
- **keys used once** (``keep_complete=True``, for verl's per-step ``uid``): a complete group
  also stays joinable for ``linger`` seconds, so an extra copy of a member (verl pads a batch
  with copies of its first samples to split it evenly between workers) is rewarded at once
  instead of opening a new group that would wait for the timeout. Keys that recur (OpenRLHF's
  prompt and label, asked again next epoch) keep the default.

Partial, late, duplicate, abandoned and undelivered members (and pruned groups) are counted
in ``stats()`` and logged (logger ``rewardkit.groups``, one line each, keys and identities as
short digests).

:class:`GroupBuffer` is pure bookkeeping - no threads, no clock of its own, no event loop - so
its rules are tested once; :class:`ThreadGroups` (OpenRLHF's worker threads) and
:class:`AsyncGroups` (verl's reward loop, the reward service) only add the waiting.

>>> import numpy as np
>>> buffer = GroupBuffer(2, lambda codes, found: np.asarray(codes, float))
>>> first = buffer.join("p", 3, True, now=0.0)
>>> first.group.done
False
>>> second = buffer.join("p", 5, True, now=0.1)
>>> buffer.result(first), buffer.result(second)
(Member(reward=3.0, partial=False, flat=False), Member(reward=5.0, partial=False, flat=False))
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import StoreUnavailable
from .records import Member

__all__ = [
    "Group",
    "GroupsFull",
    "Member",
    "Slot",
    "Ticket",
    "GroupBuffer",
    "ThreadGroups",
    "AsyncGroups",
]

log = logging.getLogger(__name__)

#: ``score(codes, found) -> rewards`` for one group's members, in join order.
Score = Callable[[list[int], list[bool]], np.ndarray]


def digest(value: Any) -> str:
    """A short, stable tag of a key or identity for log lines (never the text itself)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def _held(value: Any) -> str:
    """What a key or identity is held under: 128 bits of its digest (``digest`` is its first
    12 characters, so log lines name it as before)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:32]


class GroupsFull(StoreUnavailable):
    """A member of a new group while ``max_open`` groups are open (the service answers 503)."""


class Slot:
    """One member of a group: its verdict, identity, result once rewarded, and how many
    requests wait on it (a retried member with identity shares its slot)."""

    __slots__ = ("code", "found", "ident", "result", "waiters")

    def __init__(self, code: int, found: bool, ident: Hashable | None) -> None:
        self.code, self.found, self.ident = code, found, ident
        self.result: Member | None = None
        self.waiters = 1


@dataclass(eq=False)
class Group:
    slots: list[Slot] = field(default_factory=list)
    idents: dict[Hashable, Slot] = field(default_factory=dict)
    rewards: np.ndarray | None = None
    done: bool = False
    partial: bool = False
    closed_at: float = 0.0
    signal: Any = None  # the wrapper's event, set when ``done``

    @property
    def codes(self) -> list[int]:
        return [s.code for s in self.slots]

    @property
    def found(self) -> list[bool]:
        return [s.found for s in self.slots]


@dataclass(frozen=True)
class Ticket:
    """A member's place: its group and its slot in the group."""

    key: str  # what the group is held under (:func:`_held`)
    group: Group
    slot: Slot

    @property
    def index(self) -> int:
        return next(i for i, s in enumerate(self.group.slots) if s is self.slot)


def _forget(groups: dict[Hashable, Group], horizon: float) -> None:
    """Drop groups closed before ``horizon`` (dicts are kept in closing order)."""
    while groups:
        key, group = next(iter(groups.items()))
        if group.closed_at >= horizon:
            return
        del groups[key]


class GroupBuffer:
    """Groups of ``group_size`` members by key; see the module docstring for the rules.

    ``score`` rewards one group's members; ``linger`` is how long (seconds) a closed group
    still takes late members and answers retried identities; ``max_open`` and ``max_closed``
    cap the groups held. Not thread-safe: wrappers hold a lock (or run on one event loop).
    """

    def __init__(
        self,
        group_size: int,
        score: Score,
        *,
        linger: float = 3000.0,
        keep_complete: bool = False,
        max_open: int = 65_536,
        max_closed: int = 65_536,
    ) -> None:
        if group_size < 1 or max_open < 1 or max_closed < 0:
            raise ValueError("group_size and max_open must be >= 1, max_closed >= 0")
        self.group_size, self.max_open, self.max_closed = group_size, max_open, max_closed
        self.score = score
        self.linger = linger
        self.keep_complete = keep_complete
        self.open: dict[Hashable, Group] = {}
        self.closed: dict[Hashable, Group] = {}  # partial groups that may get late members
        self.recent: dict[Hashable, Group] = {}  # full groups kept to answer retried identities
        self.completed = self.partials = self.late = 0
        self.duplicates = self.abandoned = self.undelivered = self.pruned = 0

    def join(
        self, key: Hashable, code: int, found: bool, now: float, member: Hashable | None = None
    ) -> Ticket:
        """Add a member (or find it again by ``member`` identity); its group is ``done`` when
        it completed, and its slot has a ``result`` once it is rewarded. :class:`GroupsFull`
        if it would open a group beyond ``max_open``."""
        self.prune(now)
        key, member = _held(key), None if member is None else _held(member)
        again = None if member is None else self._find(key, member)
        if again is not None:
            again.slot.waiters += 1
            self.duplicates += 1
            same = (again.slot.code, again.slot.found) == (code, found)
            what = "retried" if same else "retried with ANOTHER verdict (kept)"
            log.info("group %s: member %s %s, same slot", key[:12], str(member)[:12], what)
            return again
        slot = Slot(code, found, member)
        late = self.closed.get(key)
        if late is not None:
            return self._join_late(key, late, slot)
        group = self.open.get(key)
        if group is None:
            if len(self.open) >= self.max_open:
                raise GroupsFull(
                    f"in-process groups: {len(self.open)} groups open, the most held "
                    "(max_open); a new group's member is refused until groups complete"
                )
            group = self.open[key] = Group()
        self._add(group, slot)
        if len(group.slots) >= self.group_size:
            del self.open[key]
            self._settle(group, False, now)
            self.completed += 1
            self._keep(self.closed if self.keep_complete else self.recent, key, group)
        return Ticket(key, group, slot)

    def _find(self, key: str, member: Hashable) -> Ticket | None:
        for groups in (self.open, self.closed, self.recent):
            group = groups.get(key)
            if group is not None and member in group.idents:
                return Ticket(key, group, group.idents[member])
        return None

    def _add(self, group: Group, slot: Slot) -> None:
        group.slots.append(slot)
        if slot.ident is not None:
            group.idents[slot.ident] = slot

    def _join_late(self, key: str, group: Group, slot: Slot) -> Ticket:
        rewards = self.score([*group.codes, slot.code], [*group.found, slot.found])
        self._add(group, slot)
        group.rewards = rewards
        slot.result = Member.of(rewards, -1, True)
        if len(group.slots) >= self.group_size and not self.keep_complete:
            del self.closed[key]
            self._keep(self.recent, key, group)
        self.late += 1
        log.info("group %s: late member rewarded against its closed group", key[:12])
        return Ticket(key, group, slot)

    def _settle(self, group: Group, partial: bool, now: float) -> None:
        """Reward every member present (raises, changing nothing, if ``score`` does)."""
        rewards = self.score(group.codes, group.found)
        for slot, result in zip(group.slots, Member.all(rewards, partial)):
            slot.result = result
        group.rewards, group.done, group.partial, group.closed_at = rewards, True, partial, now

    def _keep(self, groups: dict[Hashable, Group], key: Hashable, group: Group) -> None:
        if groups is self.recent and not group.idents:
            return  # no identity to answer a retry by
        groups.pop(key, None)  # re-inserted at the end: dicts stay in closing order
        groups[key] = group
        while len(self.closed) + len(self.recent) > self.max_closed:  # the oldest goes first
            held = [g for g in (self.closed, self.recent) if g]
            oldest = min(held, key=lambda g: next(iter(g.values())).closed_at)
            del oldest[next(iter(oldest))]
            self.pruned += 1

    def close(self, ticket: Ticket, now: float) -> None:
        """The member of ``ticket`` timed out: close its group with the members present."""
        group = ticket.group
        if group.done:
            return
        self._settle(group, True, now)
        if self.open.get(ticket.key) is group:
            del self.open[ticket.key]
        self.partials += 1
        log.warning(
            "group %s: closed by the timeout with %d of %d members",
            ticket.key[:12],
            len(group.slots),
            self.group_size,
        )
        self._keep(self.closed, ticket.key, group)

    def release(self, ticket: Ticket) -> bool:
        """The request of ``ticket`` failed before its result: remove its member unless it was
        rewarded already or another request (the same identity) still waits on it. True if
        the member was removed."""
        slot, group = ticket.slot, ticket.group
        slot.waiters -= 1
        if slot.waiters > 0:
            return False
        if slot.result is not None:
            self.undelivered += 1
            log.warning("group %s: a rewarded member's request failed", ticket.key[:12])
            return False
        group.slots.remove(slot)
        if slot.ident is not None:
            del group.idents[slot.ident]
        if not group.slots and self.open.get(ticket.key) is group:
            del self.open[ticket.key]
        self.abandoned += 1
        log.warning("group %s: a member's request failed; member removed", ticket.key[:12])
        return True

    def result(self, ticket: Ticket) -> Member:
        """The :class:`Member` result of a member whose group is done."""
        if ticket.slot.result is None:
            raise RuntimeError("the group of this member is not done yet")
        return ticket.slot.result

    def prune(self, now: float) -> None:
        """Forget closed groups older than ``linger``."""
        _forget(self.closed, now - self.linger)
        _forget(self.recent, now - self.linger)

    def stats(self) -> dict[str, int]:
        """Open groups, closed partial groups, and counts since the start."""
        return {
            "open": len(self.open),
            "closed_partial": sum(1 for g in self.closed.values() if g.partial),
            "completed": self.completed,
            "partial": self.partials,
            "late": self.late,
            "duplicate": self.duplicates,
            "abandoned": self.abandoned,
            "undelivered": self.undelivered,
            "pruned": self.pruned,
        }


class _Waiting:
    """A buffer and the ``timeout`` its members wait: an in-process :mod:`~rewardkit.rendezvous`."""

    def __init__(self, buffer: GroupBuffer, timeout: float, clock=time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.buffer, self.timeout, self.clock = buffer, timeout, clock
        self._lock = threading.Lock()

    def _join(self, key: Hashable, code: int, found: bool, member: Any, event: Any) -> tuple:
        """Join: (ticket, the group's signal - an ``event()``, set once the group is done)."""
        ticket = self.buffer.join(key, code, found, self.clock(), member)
        if ticket.group.signal is None:
            ticket.group.signal = event()
        if ticket.group.done:
            ticket.group.signal.set()
        return ticket, ticket.group.signal

    def stats(self) -> dict[str, int]:
        return self.buffer.stats()

    async def check(self) -> None: ...  # nothing to reach or close: it is in-process

    async def aclose(self) -> None: ...


class ThreadGroups(_Waiting):
    """:class:`GroupBuffer` for members that arrive on different threads."""

    def reward(
        self, key: Hashable, code: int, found: bool, member: Hashable | None = None
    ) -> Member:
        """Join (or rejoin by ``member`` identity) and wait for the group, ``timeout`` at most."""
        with self._lock:
            ticket, signal = self._join(key, code, found, member, threading.Event)
        try:
            if not signal.wait(self.timeout):
                with self._lock:
                    self.buffer.close(ticket, self.clock())
                    signal.set()
        except BaseException:
            with self._lock:
                self.buffer.release(ticket)
            raise
        with self._lock:
            return self.buffer.result(ticket)


class AsyncGroups(_Waiting):
    """:class:`GroupBuffer` for members that arrive as tasks on one event loop."""

    async def reward(
        self, key: Hashable, code: int, found: bool, member: Hashable | None = None
    ) -> Member:
        """Join (or rejoin by ``member`` identity) and wait for the group, ``timeout`` at most.
        If the wait is cancelled or fails, the member leaves its group (see the rules)."""
        ticket, signal = self._join(key, code, found, member, asyncio.Event)
        if ticket.slot.result is not None:  # it completed the group, or was late
            return ticket.slot.result
        try:
            try:
                await asyncio.wait_for(signal.wait(), self.timeout)
            except asyncio.TimeoutError:
                self.buffer.close(ticket, self.clock())
                signal.set()
        except BaseException:
            self.buffer.release(ticket)
            raise
        return self.buffer.result(ticket)
