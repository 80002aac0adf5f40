"""A verl (>= 0.9) reward manager for group-relative rules, grouping rollouts by ``uid``.

verl 0.9's trainer resolves reward managers from its reward-loop registry, whose managers
score one sample per ``run_single`` call (the ``batch`` manager is no longer among them). Each
reward-loop worker runs ``run_single`` for all samples of its chunk concurrently, as asyncio
tasks on one event loop, so this manager waits there for the ``n`` samples sharing a ``uid``
(``actor_rollout_ref.rollout.n``) and rewards them as a group. If a group is not complete within
``timeout`` seconds - its samples were split between two reward-loop workers, or one failed -
the samples present are rewarded as a group of their own (``partial_group`` = 1 in the logged
extra info), and a sample that arrives later is rewarded at once against that group plus itself
(the rules of :mod:`rewardkit.groups`, the same as OpenRLHF's). Keep each worker's chunk a
multiple of ``n`` (batch size x n divisible by
``reward_loop`` workers x n) so groups are never split.

Configure with::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=RewardkitRewardManager
    reward.reward_manager.module.path=<this file>
    +reward.reward_kwargs={judge: taxonomy, rule: speciarl, taxonomy: /data/tax.json}

Importing this module imports verl.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from ..groups import AsyncGroups, GroupBuffer, Member
from ..pipeline import LadderReward
from ..spec import RewardSpec
from .verl import _results

__all__ = ["RewardkitRewardManager"]

_OWN = ("unscored", "timeout")  # this manager's own options; the rest make the RewardSpec


def _options(config: Any) -> dict:
    try:
        kwargs = config.reward.get("reward_kwargs") or {}
    except AttributeError:
        kwargs = {}
    return dict(kwargs)


class RewardkitRewardManager(RewardManagerBase):
    def __init__(
        self,
        config,
        tokenizer,
        compute_score=None,
        reward_router_address=None,
        reward_model_tokenizer=None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        spec, own = RewardSpec.from_options({**_options(config), **kwargs}, own=_OWN)
        self.group_size = int(spec.group_size or config.actor_rollout_ref.rollout.n)
        self.timeout = float(own.get("timeout", 300.0))
        self.unscored = float(own.get("unscored", 0.0))
        self.reward = LadderReward.from_spec(spec)
        buffer = GroupBuffer(self.group_size, self._rewards, linger=10 * self.timeout)
        self.groups = AsyncGroups(buffer, self.timeout)

    async def run_single(self, data) -> dict:
        item = data[-1:][0]
        response_ids = item.batch["responses"]
        length = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        tokenizer: Any = self.tokenizer
        response = tokenizer.decode(response_ids[:length], skip_special_tokens=True)
        truth = item.non_tensor_batch["reward_model"]["ground_truth"]
        uid = str(item.non_tensor_batch.get("uid", id(item)))
        judged = await self.reward.ajudge_completions([response], [truth])
        member = await self._rendezvous(uid, int(judged.codes[0]), bool(judged.found[0]))
        (info,) = _results(judged, np.array([member.reward]), self.unscored)
        return {
            "reward_score": info.pop("score"),
            "reward_extra_info": {
                **info,
                "partial_group": float(member.partial),
                "zero_variance_group": float(member.flat),
            },
        }

    def _rewards(self, codes: list[int], found: list[bool]) -> np.ndarray:
        return self.reward.rewards_of(codes, found, len(codes))

    async def _rendezvous(self, uid: str, code: int, found: bool) -> Member:
        if self.group_size == 1 or not self.reward.rule.group_relative:
            return Member(float(self._rewards([code], [found])[0]), False, True)
        return await self.groups.reward(uid, code, found)
