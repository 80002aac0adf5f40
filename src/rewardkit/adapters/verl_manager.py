"""A verl (>= 0.9) reward manager for group-relative rules, grouping rollouts by ``uid``.

verl 0.9's trainer resolves reward managers from its reward-loop registry, whose managers
score one sample per ``run_single`` call (the ``batch`` manager is no longer among them). Each
reward-loop worker runs ``run_single`` for all samples of its chunk concurrently, as asyncio
tasks on one event loop, so this manager waits there for the ``n`` samples sharing a ``uid``
(``actor_rollout_ref.rollout.n``) and rewards them as a group. If a group is not complete within
``timeout`` seconds - its samples were split between two reward-loop workers, or one failed -
the samples present are rewarded as a group of their own (``partial_group`` = 1 in the logged
extra info). Keep each worker's chunk a multiple of ``n`` (batch size x n divisible by
``reward_loop`` workers x n) so groups are never split.

Configure with::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=RewardkitRewardManager
    reward.reward_manager.module.path=<this file>
    +reward.reward_kwargs={judge: taxonomy, rule: speciarl, taxonomy: /data/tax.json}

Importing this module imports verl.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from ..pipeline import LadderReward
from .verl import _results

__all__ = ["RewardkitRewardManager"]

_OWN = ("judge", "rule", "tag", "unscored", "timeout", "group_size")


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
        options = {**_options(config), **kwargs}
        self.group_size = int(options.get("group_size") or config.actor_rollout_ref.rollout.n)
        self.timeout = float(options.get("timeout", 300.0))
        self.unscored = float(options.get("unscored", 0.0))
        judge_options = {k: v for k, v in options.items() if k not in _OWN}
        self.reward = LadderReward(
            options.get("judge", "taxonomy"),
            options.get("rule", "speciarl"),
            tag=options.get("tag", "answer"),
            **judge_options,
        )
        self._groups: dict[str, dict] = {}

    async def run_single(self, data) -> dict:
        item = data[-1:][0]
        response_ids = item.batch["responses"]
        length = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        response = self.tokenizer.decode(response_ids[:length], skip_special_tokens=True)
        truth = item.non_tensor_batch["reward_model"]["ground_truth"]
        uid = str(item.non_tensor_batch.get("uid", id(item)))
        judged = await self.reward.ajudge_completions([response], [truth])
        value, partial = await self._rendezvous(uid, int(judged.codes[0]), bool(judged.found[0]))
        (info,) = _results(judged, np.array([value]), self.unscored)
        return {
            "reward_score": info.pop("score"),
            "reward_extra_info": {**info, "partial_group": float(partial)},
        }

    def _rewards(self, group: dict) -> np.ndarray:
        return self.reward.rewards_of(group["codes"], group["found"], len(group["codes"]))

    async def _rendezvous(self, uid: str, code: int, found: bool) -> tuple[float, bool]:
        if self.group_size == 1 or not self.reward.rule.group_relative:
            group = {"codes": [code], "found": [found]}
            return float(self._rewards(group)[0]), False
        group = self._groups.setdefault(
            uid,
            {"codes": [], "found": [], "done": asyncio.Event(), "rewards": None, "partial": False},
        )
        index = len(group["codes"])
        group["codes"].append(code)
        group["found"].append(found)
        if len(group["codes"]) == self.group_size:
            self._groups.pop(uid, None)
            group["rewards"] = self._rewards(group)
            group["done"].set()
        else:
            try:
                await asyncio.wait_for(group["done"].wait(), self.timeout)
            except asyncio.TimeoutError:
                if not group["done"].is_set():  # close it with the members present
                    self._groups.pop(uid, None)
                    group["partial"] = True
                    group["rewards"] = self._rewards(group)
                    group["done"].set()
        if index >= len(group["rewards"]):  # arrived after a partial close: its own group
            return float(self._rewards({"codes": [code], "found": [found]})[0]), True
        return float(group["rewards"][index]), group["partial"]
