"""verl: reward functions for ``custom_reward_function.path`` / ``.name``.

- :func:`compute_score` - one sample per call (verl's ``naive`` managers), for static rules
  (``exact``, ``correct``, ``graded``, ...). A group-relative rule raises: one sample has no group.
- :func:`compute_score_batch` - the ``batch`` reward manager of verl releases before 0.9
  passes whole batches as lists,
  the ``n`` rollouts of a prompt contiguous, but no group id. Give the group size as the
  ``group_size`` reward kwarg (= ``actor_rollout_ref.rollout.n``); each group must share its
  ground truth, which is checked. Works for every rule, group-relative ones included.

For verl 0.9, whose reward managers score one sample at a time, group rules go through
:class:`rewardkit.adapters.verl_manager.RewardkitRewardManager` (groups by ``uid``).

Options come as verl's ``custom_reward_function.reward_kwargs``: ``judge`` (default
``taxonomy``), ``rule`` (default ``speciarl``), ``tag``, ``unscored`` (verl cannot skip a sample:
the reward given for a missing verdict, default 0.0, reported in the ``unscored`` field),
and the judge's own options (``taxonomy: /path/tax.json``). Each result is a dict with
``score`` plus ``verdict``, ``correct``, ``no_answer`` and ``unscored``, which verl logs.

The reward monitor (docs/monitor.md) watches :func:`compute_score_batch`'s batches, each a
step, with ``audit_spec`` (a reward spec file whose judge audits), ``audit_rate`` (0.02),
``alarm_policy`` (``warn``, ``stop``, ``filter``) and ``monitor_dir`` (``audit.jsonl``,
``monitor.jsonl``); its figures (``audit/...``, ``window/...``, ``monitor/alarms``) come with
every sample's result, the same for the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..pipeline import LadderReward
from ..records import SampleResult
from ..spec import RewardSpec

__all__ = ["compute_score", "compute_score_batch"]

# This adapter's own options (the monitor's too); the rest make the RewardSpec.
_OWN = ("unscored", "audit_spec", "audit_rate", "alarm_policy", "monitor_dir", "monitor_groups")
# Keyword arguments verl itself may pass to compute_score; not judge options.
_VERL_EXTRA = frozenset({"reward_router_address", "reward_model_tokenizer"})


@lru_cache(maxsize=16)
def _reward(options: str) -> LadderReward:
    spec, _ = RewardSpec.from_options(json.loads(options), own=_OWN)
    return LadderReward.from_spec(spec)


def _build(kwargs: dict) -> LadderReward:
    options = {k: v for k, v in kwargs.items() if k not in _VERL_EXTRA}
    return _reward(json.dumps(options, sort_keys=True, default=str))


@lru_cache(maxsize=16)
def _monitored(options: str) -> Any:
    """The monitor of these options (None without ``audit_spec``), one per run's options."""
    from ..monitor.watch import monitor_from_options

    kwargs = json.loads(options)
    return monitor_from_options(_build(kwargs), kwargs)


def _watch(kwargs: dict, judged, truths: list[str], rewards, group_size: int):
    """The monitor's step on one batch of whole groups: the rewards to use (changed only by
    the ``filter`` policy) and the figures verl logs with every sample (none unmonitored)."""
    if not kwargs.get("audit_spec"):
        return rewards, {}
    from ..monitor.watch import logged

    options = {k: v for k, v in kwargs.items() if k not in _VERL_EXTRA}
    monitor = _monitored(json.dumps(options, sort_keys=True, default=str))
    monitor.check()  # a stop alarm of the step before raises at this boundary
    step = int(monitor.last.get("step", 0)) + 1
    rewards, figures = monitor.step(step, judged, truths, rewards, group_size)
    logs = logged(monitor, figures, every=True)
    logs["audit/filtered"] = float(figures.get("audit/filtered", 0.0))
    return rewards, logs


def _results(judged, rewards: np.ndarray, unscored: float) -> list[dict]:
    """One dict per completion: ``score`` (``unscored`` where the reward is NaN) and what verl
    logs beside it (:meth:`~rewardkit.records.SampleResult.to_verl`)."""
    return [r.to_verl(unscored) for r in SampleResult.all(judged, rewards)]


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None, **kwargs: Any
) -> dict:
    """One sample's reward under a static rule."""
    unscored = float(kwargs.get("unscored", 0.0))
    if kwargs.get("audit_spec"):
        raise ValueError(
            "audit_spec: the reward monitor audits whole groups; one sample has none. Use "
            "rewardkit.adapters.verl.compute_score_batch with verl's batch reward manager"
        )
    reward = _build(kwargs)
    if reward.rule.group_relative:
        raise ValueError(
            f"rule {reward.rule.name!r} is group-relative: one sample has no group. Use "
            "rewardkit.adapters.verl.compute_score_batch with verl's batch reward manager"
        )
    judged = reward.judge_completions([solution_str], [ground_truth])
    return _results(judged, reward.rewards(judged, 1), unscored)[0]


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[str],
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict]:
    """Rewards for a batch of contiguous groups of ``group_size`` (a reward kwarg)."""
    group_size = kwargs.get("group_size")
    if not isinstance(group_size, int) or group_size < 1:
        raise ValueError(
            "compute_score_batch needs the group size as a reward kwarg: "
            "custom_reward_function.reward_kwargs.group_size = actor_rollout_ref.rollout.n"
        )
    n = len(solution_strs)
    if n % group_size:
        raise ValueError(f"{n} responses do not split into groups of {group_size}")
    truths = list(ground_truths)
    for start in range(0, n, group_size):
        if len(set(truths[start : start + group_size])) != 1:
            raise ValueError(
                f"responses {start}..{start + group_size - 1} do not share one ground truth: "
                "the batch is not in contiguous groups of group_size"
            )
    unscored = float(kwargs.get("unscored", 0.0))
    reward = _build(kwargs)
    judged = reward.judge_completions(list(solution_strs), truths)
    rewards, logs = _watch(kwargs, judged, truths, reward.rewards(judged, group_size), group_size)
    return [{**r, **logs} for r in _results(judged, rewards, unscored)]
