"""The reward monitor across Ray workers: one named actor per run holds the one
:class:`~rewardkit.monitor.watch.GroupWatch`.

verl's reward-loop workers each judge some of a group's samples; no worker sees a whole group.
So each worker, once its sample is rewarded, sends the sample's answer, label, verdict and
reward to this actor, which assembles the groups by ``uid`` for the run's one monitor and
answers with the figures to log. The actor is found or made by name (``get_if_exists``), takes
no CPU and lives as long as the worker that made it. Importing this module imports ray.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import ray

from ..errors import RewardHackingAlarm
from ..pipeline import LadderReward
from ..records import Judged
from ..spec import RewardSpec
from .ray_groups import NAMESPACE

__all__ = ["MonitorActor", "monitor_actor", "remote_watch"]


class MonitorActor:
    """The run's monitor behind a Ray actor: the training reward of ``spec`` (a
    :class:`~rewardkit.spec.RewardSpec` dict), the monitor ``options``
    (:func:`~rewardkit.monitor.watch.monitor_from_options`) and its group watch."""

    def __init__(
        self, spec: dict, options: dict, group_size: int, groups_per_step: int = 8
    ) -> None:
        from ..monitor.watch import GroupWatch, monitor_from_options

        reward = LadderReward.from_spec(RewardSpec.from_dict(spec))
        monitor = monitor_from_options(reward, options, one_sample=True)
        self.watch = GroupWatch(monitor, group_size, groups_per_step)

    def add(
        self,
        key: Hashable,
        judged: Judged,
        label: str,
        reward: float,
        member: Hashable | None,
        partial: bool,
    ) -> tuple[dict[str, float] | None, str | None]:
        """One sample: (the figures to log, None), or (None, the stop alarm's message)."""
        try:
            figures = self.watch.add(
                [key], judged, [label], [reward], members=[member], partial=[partial]
            )
        except RewardHackingAlarm as e:
            return None, str(e)
        return figures, None

    def steps(self) -> int:
        return self.watch.steps


def monitor_actor(name: str, spec: dict, options: dict, group_size: int, groups: int) -> Any:
    """The run's monitor actor ``name``, found or made."""
    cls = ray.remote(MonitorActor)
    return cls.options(  # type: ignore[attr-defined]
        name=name, namespace=NAMESPACE, get_if_exists=True, num_cpus=0
    ).remote(spec, options, group_size, groups)


async def remote_watch(handle: Any, *args: Any) -> dict[str, float]:
    """:meth:`MonitorActor.add` through the actor; a stop alarm raises here, in the worker."""
    figures, alarm = await handle.add.remote(*args)
    if alarm is not None:
        raise RewardHackingAlarm(alarm)
    return figures
