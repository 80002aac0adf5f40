"""Group assembly across Ray workers: one named actor per run holds the one group buffer.

verl runs ``reward.num_workers`` reward-loop workers (8 by default), each a Ray actor with its
own reward manager, and sends a group's samples to different workers (at random while
rolling out, or in contiguous chunks of a reordered batch). Each worker judges its own sample -
judging stays parallel - then hands the verdict code to this actor, which assembles the group
with :class:`rewardkit.groups.GroupBuffer` and answers every member once the group is complete.
The rules are the in-process buffer's: complete groups at once, a timeout fallback for a
sibling that never comes (a worker died), a late sibling rewarded against its closed group, a
retried identity (``member``) answered from its first slot, and a member whose call is
cancelled before its group is done removed from it (a caller that stops awaiting
:func:`remote_reward` cancels its actor call).

The actor is named (``get_if_exists``: the first worker creates it, the others find it), takes
no CPU, is detached from the worker that created it (a worker's death does not take the
groups with it), and exits by itself once idle for ``ttl`` seconds with no group open.

**An actor never answers with another run's settings.** A found actor keeps the settings it
was created with, so its name carries :func:`config_tag` - a hash of the group size, ladder,
rule and timeout, the same in every process: a rerun within the ``ttl`` (same project and
experiment) that changed ``rollout.n``, the rule or the ladder gets an actor of its own, and the
old one exits once idle. Importing this module imports ray.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import re
import time
import types
from collections.abc import Hashable
from typing import Any

import numpy as np
import ray

from ..fingerprint import fingerprint
from ..groups import AsyncGroups, GroupBuffer, Member
from ..ladders import Ladder
from ..rules import Batch, RewardRule

__all__ = ["GroupActor", "group_actor", "config_tag", "DEFAULT_NAME"]

DEFAULT_NAME = "rewardkit-groups"
NAMESPACE = "rewardkit"  # named, so the actor can be found from any job of the cluster


class GroupActor:
    """The state of one run's groups (run as an async Ray actor: calls wait concurrently)."""

    def __init__(
        self,
        group_size: int,
        ladder: Ladder,
        rule: RewardRule,
        timeout: float,
        *,
        ttl: float = 3600.0,
    ) -> None:
        self.ladder, self.rule, self.ttl = ladder, rule, ttl
        self.buffer = GroupBuffer(group_size, self._score, linger=10 * timeout, keep_complete=True)
        self.groups = AsyncGroups(self.buffer, timeout)
        self.last_call = time.monotonic()
        self._watchdog: asyncio.Task | None = None

    def _score(self, codes: list[int], found: list[bool]) -> np.ndarray:
        batch = Batch(self.ladder, np.asarray(codes, np.int16), np.asarray(found, bool), len(codes))
        return self.rule.compute(batch)

    async def reward(
        self, key: str, code: int, found: bool, member: Hashable | None = None
    ) -> tuple[float, bool, bool]:
        """Join (or rejoin by ``member`` identity) the group of ``key`` and wait for it:
        (reward, partial, flat)."""
        self.last_call = time.monotonic()
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        try:
            result = await self.groups.reward(key, code, found, member)
        finally:
            self.last_call = time.monotonic()
        return tuple(result)  # type: ignore[return-value]

    def stats(self) -> dict[str, int]:
        return self.buffer.stats()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(min(self.ttl, 30.0))
            idle = time.monotonic() - self.last_call
            if idle >= self.ttl and not self.buffer.open:
                ray.actor.exit_actor()


def _describe(value: Any) -> str:
    """``value`` as text that is the same in every process for equal settings: sets sorted,
    functions by :func:`~rewardkit.fingerprint.fingerprint`, objects by class and attributes
    (cached properties left out: which ones a process computed varies)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, np.generic)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_describe, value)) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(map(_describe, value))) + "}"
    if isinstance(value, dict):
        return (
            "{" + ",".join(sorted(f"{_describe(k)}:{_describe(v)}" for k, v in value.items())) + "}"
        )
    if isinstance(value, np.ndarray):
        return f"array({value.dtype},{value.tolist()!r})"
    if isinstance(value, re.Pattern):
        return f"re({value.pattern!r},{value.flags})"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        try:
            return fingerprint(value)
        except ValueError:
            return f"{value.__module__}.{value.__qualname__}"
    kind = type(value)
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif hasattr(value, "__dict__"):
        cached = functools.cached_property
        fields = {
            k: v for k, v in vars(value).items() if not isinstance(getattr(kind, k, None), cached)
        }
    else:
        return repr(value)
    return f"{kind.__module__}.{kind.__qualname__}{_describe(fields)}"


def config_tag(group_size: int, ladder: Ladder, rule: RewardRule, timeout: float) -> str:
    """A short hash of the settings that decide a group's rewards (in the actor's name)."""
    text = _describe((int(group_size), ladder, rule, float(timeout)))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def group_actor(
    name: str,
    *,
    group_size: int,
    ladder: Ladder,
    rule: RewardRule,
    timeout: float,
    ttl: float = 3600.0,
) -> Any:
    """The run's group actor for ``name`` and these settings (named ``name-<config_tag>``),
    created if it does not exist yet."""
    cls = ray.remote(GroupActor)
    return cls.options(  # type: ignore[attr-defined]
        name=f"{name}-{config_tag(group_size, ladder, rule, timeout)}",
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        num_cpus=0,
        max_concurrency=100_000,
    ).remote(group_size, ladder, rule, timeout, ttl=ttl)


async def remote_reward(
    handle: Any, key: str, code: int, found: bool, member: Hashable | None = None
) -> Member:
    """Ask the group actor for a member's reward (awaitable from a worker's event loop). If
    the awaiting task is cancelled, so is the actor call: the member leaves its group."""
    ref = handle.reward.remote(key, code, found, member)
    try:
        reward, partial, flat = await ref
    except asyncio.CancelledError:
        ray.cancel(ref)
        raise
    return Member(reward, partial, flat)
