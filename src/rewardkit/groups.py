"""Assembling GRPO groups from completions that arrive one at a time.

Trainers that score one sample per call (OpenRLHF's reward function, verl's reward-loop
workers, an HTTP reward service) never hand a group-relative rule a whole group. A
:class:`GroupBuffer` collects each group's members under a key (the prompt and label, or
verl's ``uid``) and rewards the group once its ``group_size``-th member joins. The same rules
hold for every wrapper:

- **complete**: the last member's ``join`` rewards the whole group; every member gets its
  reward from that one computation;
- **timeout**: a member that waited ``timeout`` seconds closes its group with the members
  present, rewarded as a group of their own (``partial``);
- **late member**: a member that joins a group closed by the timeout is rewarded at once
  against that group plus itself (the group's rewards are recomputed for it), also
  ``partial``; once the group has ``group_size`` members it accepts no more;
- **pruning**: closed groups are forgotten ``linger`` seconds after they closed;
- **keys used once** (``keep_complete=True``, for verl's per-step ``uid``): a complete group
  also stays joinable for ``linger`` seconds, so an extra copy of a member (verl pads a batch
  with copies of its first samples to split it evenly between workers) is rewarded at once
  instead of opening a new group that would wait for the timeout. Keys that recur (OpenRLHF's
  prompt and label, asked again next epoch) keep the default.

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
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Group", "Member", "Ticket", "GroupBuffer", "ThreadGroups", "AsyncGroups"]

#: ``score(codes, found) -> rewards`` for one group's members, in join order.
Score = Callable[[list[int], list[bool]], np.ndarray]


@dataclass(eq=False)
class Group:
    codes: list[int] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    rewards: np.ndarray | None = None
    done: bool = False
    partial: bool = False
    closed_at: float = 0.0
    signal: Any = None  # the wrapper's event, set when ``done``


class Member(NamedTuple):
    """What a member gets: its ``reward``, whether its group was ``partial``, and whether its
    group was ``flat`` (every scored member got the same reward: no learning signal)."""

    reward: float
    partial: bool
    flat: bool

    @classmethod
    def of(cls, rewards: Any, index: int, partial: bool) -> Member:
        """Member ``index`` of a group with ``rewards`` (NaN or ``None`` where unscored)."""
        values = np.array([np.nan if r is None else r for r in rewards], dtype=np.float64)
        scored = values[np.isfinite(values)]
        flat = bool(scored.size < 2 or scored.min() == scored.max())
        return cls(float(values[index]), partial, flat)


@dataclass(frozen=True)
class Ticket:
    """A member's place: its group and its index in the group."""

    key: Hashable
    group: Group
    index: int


class GroupBuffer:
    """Groups of ``group_size`` members by key; see the module docstring for the rules.

    ``score`` rewards one group's members; ``linger`` is how long (seconds) a group closed
    by the timeout still takes late members. Not thread-safe: wrappers hold a lock.
    """

    def __init__(
        self, group_size: int, score: Score, *, linger: float = 3000.0, keep_complete: bool = False
    ) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size
        self.score = score
        self.linger = linger
        self.keep_complete = keep_complete
        self.open: dict[Hashable, Group] = {}
        self.closed: dict[Hashable, Group] = {}  # partial groups that may get late members
        self.completed = 0
        self.partials = 0
        self.late = 0

    def join(self, key: Hashable, code: int, found: bool, now: float) -> Ticket:
        """Add a member; its group is ``done`` when it completed (or the member was late)."""
        if self.closed:
            self.prune(now)
        late = self.closed.get(key)
        if late is not None:
            late.codes.append(code)
            late.found.append(found)
            late.rewards = self.score(late.codes, late.found)
            if len(late.codes) >= self.group_size and not self.keep_complete:
                del self.closed[key]
            self.late += 1
            return Ticket(key, late, len(late.codes) - 1)
        group = self.open.setdefault(key, Group())
        group.codes.append(code)
        group.found.append(found)
        ticket = Ticket(key, group, len(group.codes) - 1)
        if len(group.codes) >= self.group_size:
            del self.open[key]
            group.rewards = self.score(group.codes, group.found)
            group.done, group.closed_at = True, now
            self.completed += 1
            if self.keep_complete:
                self.closed[key] = group
        return ticket

    def close(self, ticket: Ticket, now: float) -> None:
        """The member of ``ticket`` timed out: close its group with the members present."""
        group = ticket.group
        if group.done:
            return
        if self.open.get(ticket.key) is group:
            del self.open[ticket.key]
        group.rewards = self.score(group.codes, group.found)
        group.done, group.partial, group.closed_at = True, True, now
        self.partials += 1
        self.prune(now)
        self.closed[ticket.key] = group

    def result(self, ticket: Ticket) -> Member:
        """The :class:`Member` result of a member whose group is done."""
        group = ticket.group
        if not group.done or group.rewards is None:
            raise RuntimeError("the group of this member is not done yet")
        return Member.of(group.rewards, ticket.index, group.partial)

    def prune(self, now: float) -> None:
        """Forget closed groups older than ``linger``."""
        horizon = now - self.linger
        for key in [k for k, g in self.closed.items() if g.closed_at < horizon]:
            del self.closed[key]

    def stats(self) -> dict[str, int]:
        """Open groups, closed partial groups, and counts since the start."""
        return {
            "open": len(self.open),
            "closed_partial": len(self.closed),
            "completed": self.completed,
            "partial": self.partials,
            "late": self.late,
        }


class ThreadGroups:
    """:class:`GroupBuffer` for members that arrive on different threads."""

    def __init__(self, buffer: GroupBuffer, timeout: float, clock=time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.buffer, self.timeout, self.clock = buffer, timeout, clock
        self._lock = threading.Lock()

    def reward(self, key: Hashable, code: int, found: bool) -> Member:
        """Join and wait for the group."""
        with self._lock:
            ticket = self.buffer.join(key, code, found, self.clock())
            group = ticket.group
            if group.signal is None:
                group.signal = threading.Event()
            if group.done:
                group.signal.set()
        if not group.signal.wait(self.timeout):
            with self._lock:
                self.buffer.close(ticket, self.clock())
                group.signal.set()
        with self._lock:
            return self.buffer.result(ticket)


class AsyncGroups:
    """:class:`GroupBuffer` for members that arrive as tasks on one event loop."""

    def __init__(self, buffer: GroupBuffer, timeout: float, clock=time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.buffer, self.timeout, self.clock = buffer, timeout, clock

    async def reward(self, key: Hashable, code: int, found: bool) -> Member:
        """Join and wait for the group."""
        ticket = self.buffer.join(key, code, found, self.clock())
        group = ticket.group
        if group.signal is None:
            group.signal = asyncio.Event()
        if group.done:
            group.signal.set()
        try:
            await asyncio.wait_for(group.signal.wait(), self.timeout)
        except asyncio.TimeoutError:
            self.buffer.close(ticket, self.clock())
            group.signal.set()
        return self.buffer.result(ticket)
