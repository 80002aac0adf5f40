"""The rendezvous: where samples that arrive one at a time meet their group.

Every adapter for a trainer that scores one sample per call is decode -> rendezvous -> render:
it decodes the trainer's call into completions and labels, judges them, hands the verdicts to a
:class:`Rendezvous`, and renders the :class:`~rewardkit.records.SampleResult` records it gets
back for the trainer (``to_openrlhf``, ``to_verl``, ``to_json``). The rendezvous holds the one
rule for when a sample needs its group (:attr:`Rendezvous.grouped`: a group-relative rule and
groups of more than one), the one way a group is rewarded (:meth:`Rendezvous.score`), and a
group store behind :func:`open_rendezvous`:

- ``"threads"`` - :class:`~rewardkit.groups.ThreadGroups`, for calls on worker threads
  (OpenRLHF's reward file); :meth:`Rendezvous.results_blocking` waits on them;
- ``"asyncio"`` - :class:`~rewardkit.groups.AsyncGroups`, for tasks on one event loop (verl's
  reward loop outside Ray, ``rewardkit serve``);
- ``"redis://..."`` - :class:`~rewardkit.redis_groups.RedisGroups`, shared by every replica;
- ``"ray:<name>"`` - :class:`RayGroups`, one named Ray actor
  (:mod:`rewardkit.adapters.ray_groups`) shared by every worker of a run.

The group rules - complete, timeout, late, partial, duplicate, next round - are
:mod:`rewardkit.groups`' for every store.

>>> import rewardkit as rk
>>> reward = rk.LadderReward("taxonomy", "speciarl", taxonomy="examples/data/animals.json")
>>> rendezvous = open_rendezvous(reward, 2, "threads", timeout=5.0)
>>> judged = reward.judge_completions(["<answer>dog</answer>", "<answer>samoyed</answer>"],
...                                   ["samoyed", "samoyed"])
>>> [r.reward for r in rendezvous.results_blocking(judged, [("p", "samoyed")] * 2)]
[0.0, 1.0]
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Hashable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from .groups import AsyncGroups, GroupBuffer, ThreadGroups
from .records import Batch, Judged, Member, SampleResult
from .shaping import split_per_sample

__all__ = [
    "Groups",
    "RayGroups",
    "Rendezvous",
    "open_rendezvous",
    "group_size_of",
    "openrlhf_reply",
    "json_reply",
]


class Groups(Protocol):
    """A group store: ``reward`` joins a member to the group of ``key`` and answers once the
    group is done (see :mod:`rewardkit.groups` for the rules)."""

    async def reward(
        self, key: Hashable, code: int, found: bool, member: Hashable | None = None
    ) -> Member: ...

    def stats(self) -> dict[str, int]: ...

    async def check(self) -> None: ...

    async def aclose(self) -> None: ...


def group_size_of(reward: Any, size: int | None = None) -> int:
    """The group size of ``reward``: ``size`` if given, else its spec's ``group_size``, else 1
    for a static rule; a group-relative rule without one is a :class:`ValueError`."""
    if size is None:
        spec = reward.spec
        size = None if spec is None else spec.group_size
    if size is None:
        if reward.rule.group_relative:
            raise ValueError(f"rule {reward.rule.name!r} is group-relative: give group_size")
        return 1
    if size < 1:
        raise ValueError(f"group_size must be >= 1, got {size}")
    return size


class Rendezvous:
    """Judged samples in, one :class:`~rewardkit.records.SampleResult` each out, assembled into
    groups by ``groups`` (a :class:`Groups` store, or a :class:`~rewardkit.groups.ThreadGroups`
    for :meth:`results_blocking`) where the rule needs them."""

    def __init__(self, reward: Any, group_size: int, groups: Any = None) -> None:
        self.reward, self.group_size, self.groups = reward, group_size, groups
        # Only verdicts travel between a group's members: a sum's shaping terms are earned by
        # each completion alone, beside its group (a rule that cannot be split fails here).
        split = split_per_sample(reward.rule) if self.grouped else (reward.rule, None)
        self.group_rule: Any = split[0]
        self.own_rule: Any = split[1]

    @property
    def grouped(self) -> bool:
        """Whether a sample waits for its group: a group-relative rule, groups of more than one."""
        return self.group_size > 1 and self.reward.rule.group_relative

    def score(self, codes: list[int], found: list[bool]) -> np.ndarray:
        """The rewards of one group's members (codes and found flags, in join order), before
        what each completion earns alone (:meth:`own`)."""
        if self.own_rule is None:
            return self.reward.rewards_of(codes, found, len(codes))
        batch = Batch(self.reward.ladder, np.asarray(codes), np.asarray(found), len(codes))
        return self.group_rule.compute(batch)

    def own(self, judged: Judged, groups: list[Member]) -> list[Member]:
        """Each member's group reward plus the shaping terms its completion earns alone."""
        if self.own_rule is None:
            return groups
        ladder, texts, lengths = self.reward.ladder, judged.texts, judged.lengths
        batch = Batch(ladder, judged.codes, judged.found, 1, texts, lengths)
        extra = self.own_rule.compute(batch).tolist()
        return [m._replace(reward=m.reward + v) for m, v in zip(groups, extra)]

    async def results(
        self,
        judged: Judged,
        keys: Sequence[Hashable],
        members: Sequence[Hashable | None] | None = None,
    ) -> list[SampleResult]:
        """Each sample's result; a grouped sample waits for its group under ``keys[i]`` with
        identity ``members[i]`` (``None``: each call is a new member). If one sample's wait
        fails, the others leave their groups before the error is raised."""
        if not self.grouped:
            return SampleResult.all(judged, self.reward.rewards(judged, 1))
        codes, found = judged.codes.tolist(), judged.found.tolist()
        idents = [None] * len(codes) if members is None else list(members)
        joins = [self._member(*row) for row in zip(keys, codes, found, idents)]
        groups = [await joins[0]] if len(joins) == 1 else await _all(joins)
        return SampleResult.all(judged, None, self.own(judged, groups))

    async def _member(self, key: Hashable, code: int, found: bool, member: Any) -> Member:
        if member is None:
            return await self.groups.reward(key, code, found)
        return await self.groups.reward(key, code, found, member=member)

    def results_blocking(self, judged: Judged, keys: Sequence[Hashable]) -> list[SampleResult]:
        """:meth:`results` on the calling thread, for a :class:`~rewardkit.groups.ThreadGroups`
        store (no identities: each call is a new member). Several samples of one call wait side
        by side (one after another, siblings would wait on each other)."""
        if not self.grouped:
            return SampleResult.all(judged, self.reward.rewards(judged, 1))
        codes, found = judged.codes.tolist(), judged.found.tolist()
        if len(keys) == 1:
            groups = [self.groups.reward(keys[0], codes[0], found[0])]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(keys), thread_name_prefix="rewardkit-group") as pool:
                groups = list(pool.map(self.groups.reward, keys, codes, found))
        return SampleResult.all(judged, None, self.own(judged, groups))

    def stats(self) -> dict[str, int]:
        """The group store's counts (:meth:`~rewardkit.groups.GroupBuffer.stats`)."""
        return self.groups.stats()

    async def check(self) -> None:
        """Reach the group store once (Redis); :class:`~rewardkit.errors.StoreUnavailable`."""
        await self.groups.check()

    async def aclose(self) -> None:
        await self.groups.aclose()


class RayGroups:
    """The Ray group store: the run's group actor ``name``
    (:func:`~rewardkit.adapters.ray_groups.group_actor`), found or made on the first call -
    ray is imported then, not before (``handle`` is ``None`` until then)."""

    def __init__(
        self, name: str, group_size: int, ladder: Any, rule: Any, timeout: float, *, ttl=3600.0
    ) -> None:
        self.name, self.group_size, self.ladder, self.rule = name, group_size, ladder, rule
        self.timeout, self.ttl = timeout, float(ttl)
        self.handle: Any = None

    async def reward(
        self, key: str, code: int, found: bool, member: Hashable | None = None
    ) -> Member:
        from .adapters import ray_groups

        if self.handle is None:
            self.handle = ray_groups.group_actor(
                self.name,
                group_size=self.group_size,
                ladder=self.ladder,
                rule=self.rule,
                timeout=self.timeout,
                ttl=self.ttl,
            )
        return await ray_groups.remote_reward(self.handle, key, code, found, member)

    def stats(self) -> dict[str, int]:
        return {}  # the counts are the actor's (GroupActor.stats)

    async def check(self) -> None: ...  # the actor is found or made on the first call

    async def aclose(self) -> None: ...


def open_rendezvous(
    reward: Any,
    group_size: int | None = None,
    where: str = "asyncio",
    *,
    timeout: float = 120.0,
    keep_complete: bool = False,
    **options: Any,
) -> Rendezvous:
    """A :class:`Rendezvous` for ``reward`` with the group store ``where`` names (module
    docstring); ``group_size`` as :func:`group_size_of`. Closed groups are kept ``10 x
    timeout``; ``keep_complete`` for keys used once (verl's ``uid``); ``options`` go to the
    store (:class:`~rewardkit.redis_groups.RedisGroups`' poll and lease, the Ray actor's
    ``ttl``)."""
    size = group_size_of(reward, group_size)
    rendezvous = Rendezvous(reward, size)
    if where in ("threads", "asyncio"):
        buffer = GroupBuffer(
            size,
            rendezvous.score,
            linger=10 * timeout,
            keep_complete=keep_complete,
            **_only(options),
        )
        wrap = ThreadGroups if where == "threads" else AsyncGroups
        rendezvous.groups = wrap(buffer, timeout)
    elif where.startswith(("redis://", "rediss://", "unix://")):
        from .redis_groups import RedisGroups

        rendezvous.groups = RedisGroups(where, size, rendezvous.score, timeout, **options)
    elif where.startswith("ray:") and len(where) > 4:
        rendezvous.groups = RayGroups(
            where[4:], size, reward.ladder, rendezvous.group_rule, timeout, **options
        )
    else:
        raise ValueError(
            f"a rendezvous is 'threads', 'asyncio', a redis:// URL or 'ray:<name>', got {where!r}"
        )
    return rendezvous


def _only(options: dict[str, Any]) -> dict[str, Any]:
    """The options an in-process buffer takes (``max_open``, ``max_closed``)."""
    unknown = set(options) - {"max_open", "max_closed"}
    if unknown:
        raise TypeError(f"in-process groups take no option {sorted(unknown)[0]!r}")
    return options


async def _all(members: Iterable[Coroutine[Any, Any, Any]]) -> list:
    """The members' results; if one fails, the rest are cancelled (and leave) before it raises."""
    tasks = [asyncio.ensure_future(m) for m in members]
    try:
        if tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in (t for t in tasks if t.done()):
            task.result()  # the first failure, if one failed
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def openrlhf_reply(
    results: Sequence[SampleResult], unscored: float, grouped: bool
) -> dict[str, Any]:
    """OpenRLHF's reward reply (:meth:`~rewardkit.records.SampleResult.to_openrlhf`); the
    reward file and ``rewardkit serve`` both answer with it."""
    return SampleResult.to_openrlhf(results, unscored, grouped)


def json_reply(results: Sequence[SampleResult]) -> dict[str, list]:
    """``{"rewards": [...], "verdicts": [...], "errors": [...]}`` for rewardkit's JSON API
    (:meth:`~rewardkit.records.SampleResult.to_json`, by field)."""
    rows = [r.to_json() for r in results]
    return {f"{name}s": [row[name] for row in rows] for name in ("reward", "verdict", "error")}
