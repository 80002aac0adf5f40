"""A verl (>= 0.9) reward manager for group-relative rules, grouping rollouts by ``uid``.

verl 0.9's trainer resolves reward managers from its reward-loop registry, whose managers
score one sample per ``run_single`` call. verl runs ``reward.num_workers`` reward-loop workers
(8 by default), each a Ray actor with its own manager, and the samples of one group reach
different workers: at random while rolling out (the agent loop streams each finished sample to
a random worker), or in contiguous chunks of a batch reordered by ``balance_batch``.

So each manager judges its own sample (judging stays parallel) and hands the verdict to the
run's **group actor** (:mod:`rewardkit.adapters.ray_groups`), one named Ray actor that
assembles the ``n`` samples sharing a ``uid`` (``actor_rollout_ref.rollout.n``) and answers each
with its reward. Outside Ray (a test, a single process) the manager keeps an in-process buffer.
The rules are :mod:`rewardkit.groups`': a group not complete within ``timeout`` seconds (a
worker died) is rewarded with the members present (``partial_group`` = 1 in the logged extra
info); a sample that arrives later is rewarded at once against that group plus itself.

Each sample also has an identity within its group, so a sample scored twice - verl's padding
copies of the first samples of a batch, a Ray task retried after a worker died - is answered
with the same reward and never counted twice: verl gives every sample of a step a distinct
``priority`` (``AgentLoopManager.generate_sequences`` numbers the repeated batch with
``np.arange`` unless the dataset has a ``priority`` column), and the reward loop receives it
with the sample; the identity is that value plus a digest of the response, so that a dataset
whose ``priority`` column repeats within a prompt cannot merge different rollouts. A sample
whose reward call is cancelled before its group is done leaves the group.

Without that column (``group_member: none``) every call is a new member, and nothing tells a
padding copy from a rollout with the same text: a copy that reaches the group after its group
completed is answered at once, but one that overtakes the group's last sample (the copy's
chunk scored before that sample's) is counted in its place, and that sample is then a late
member (``partial_group`` = 1, rewarded against the group plus itself).

Configure with (either path works)::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=RewardkitRewardManager
    reward.reward_manager.module.path=pkg://rewardkit.adapters.verl_manager
    +reward.reward_kwargs={judge: taxonomy, rule: speciarl, taxonomy: /data/tax.json}

``reward_kwargs`` are a :class:`~rewardkit.spec.RewardSpec` plus this manager's own
``timeout`` (default 300), ``unscored`` (default 0.0), ``group_backend`` (``ray`` when running
inside Ray, else ``local``), ``group_actor`` (the actor's name; default
``rewardkit-groups-<project>-<experiment>`` from verl's ``trainer`` config) and
``group_member`` (the non-tensor column that numbers samples; default ``priority``, ``none``
to send no identity) and ``require_card`` (a robustness card from ``rewardkit redteam`` that
this reward must have passed, or the manager refuses to start).

The reward monitor (docs/monitor.md): ``audit_spec`` (a reward spec file whose judge audits),
``audit_rate`` (0.02), ``alarm_policy`` (``warn`` or ``stop``: the rewards are given before a
group is watched, so no ``filter``), ``monitor_dir`` and ``monitor_groups`` (whole groups per
monitor step, default 8). Each rewarded sample goes to the run's one monitor, which assembles
the groups by ``uid`` (:class:`rewardkit.monitor.watch.GroupWatch`): under Ray a named monitor
actor every worker reaches (:mod:`rewardkit.adapters.ray_monitor`; one more round trip per
sample), else in the process. Its figures come in every sample's ``reward_extra_info`` (always
the same keys, NaN where undefined).

Importing this module imports verl. Its imports are absolute so verl can also load it by
file path (``module.path=/path/to/verl_manager.py``), which executes it outside its package.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rewardkit.groups import Member
from rewardkit.pipeline import LadderReward
from rewardkit.rendezvous import open_rendezvous
from rewardkit.spec import RewardSpec

__all__ = ["RewardkitRewardManager"]

# This manager's own options; the rest make the RewardSpec.
_OWN = (
    "unscored",
    "timeout",
    "group_backend",
    "group_actor",
    "group_ttl",
    "group_member",
    "require_card",
    "audit_spec",
    "audit_rate",
    "alarm_policy",
    "monitor_dir",
    "monitor_groups",
)


def _options(config: Any) -> dict:
    try:
        kwargs = config.reward.get("reward_kwargs") or {}
    except AttributeError:
        kwargs = {}
    return dict(kwargs)


def _run_name(config: Any) -> str:
    try:
        trainer = config.get("trainer") or {}
        parts = [str(trainer.get("project_name") or ""), str(trainer.get("experiment_name") or "")]
    except AttributeError:
        parts = []
    suffix = "-".join(p for p in parts if p)
    return f"rewardkit-groups-{suffix}" if suffix else "rewardkit-groups"


def _in_ray() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()


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
        if own.get("require_card"):  # a robustness card made for this reward, which passed
            from rewardkit.redteam.gate import check_card

            check_card(str(own["require_card"]), self.reward)
        self.backend = own.get("group_backend") or ("ray" if _in_ray() else "local")
        if self.backend not in ("ray", "local"):
            raise ValueError(f"group_backend must be ray or local, got {self.backend!r}")
        self.actor_name = str(own.get("group_actor") or _run_name(config))
        self.actor_ttl = float(own.get("group_ttl", 3600.0))
        column = own.get("group_member", "priority")
        self.member_column = None if column in (None, "", "none") else str(column)
        ray = self.backend == "ray"
        self.rendezvous = open_rendezvous(
            self.reward,
            self.group_size,
            f"ray:{self.actor_name}" if ray else "asyncio",
            timeout=self.timeout,
            keep_complete=True,
            **({"ttl": self.actor_ttl} if ray else {}),
        )
        self.groups = self.rendezvous.groups
        self.watch = self._watch(own, spec)
        self._monitor: Any = None  # the run's monitor actor, under Ray, once a sample came

    def _watch(self, own: dict, spec: RewardSpec) -> Any:
        """The reward monitor of ``audit_spec`` (docs/monitor.md), or None: in-process, a
        :class:`~rewardkit.monitor.watch.GroupWatch`; under Ray, the arguments of the run's
        one monitor actor (made on the first call), which every worker's samples reach."""
        from rewardkit.monitor.watch import MONITOR_OPTIONS, GroupWatch, monitor_from_options

        groups = int(own.get("monitor_groups") or 8)
        if self.backend != "ray":
            monitor = monitor_from_options(self.reward, own, one_sample=True)
            return None if monitor is None else GroupWatch(monitor, self.group_size, groups)
        if not own.get("audit_spec"):
            return monitor_from_options(self.reward, own)  # None, or a stray option refused
        if own.get("alarm_policy") == "filter":
            monitor_from_options(self.reward, own, one_sample=True)  # refuses it, by name
        RewardSpec.load(str(own["audit_spec"]))  # fail in the worker, not in the actor
        options = {k: own[k] for k in MONITOR_OPTIONS if own.get(k) is not None}
        args = (spec.to_dict(), options, self.group_size, groups)
        tag = hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()
        return (f"{self.actor_name}-monitor-{tag[:12]}", *args)

    async def _watched(self, uid, judged, truth, result, identity) -> dict:
        """The monitor's figures for one rewarded sample (a stop alarm raises here)."""
        partial = result.group is not None and result.group.partial
        if self.backend != "ray":
            return self.watch.add(
                [uid], judged, [truth], [result.reward], members=[identity], partial=[partial]
            )
        from rewardkit.adapters import ray_monitor

        if self._monitor is None:
            self._monitor = ray_monitor.monitor_actor(*self.watch)
        return await ray_monitor.remote_watch(
            self._monitor, uid, judged, truth, result.reward, identity, partial
        )

    async def run_single(self, data) -> dict:
        item = data[-1:][0]
        response_ids = item.batch["responses"]
        length = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        tokenizer: Any = self.tokenizer
        response = tokenizer.decode(response_ids[:length], skip_special_tokens=True)
        truth = item.non_tensor_batch["reward_model"]["ground_truth"]
        uid = str(item.non_tensor_batch.get("uid", id(item)))
        judged = await self.reward.ajudge_completions([response], [truth], lengths=[length])
        identity = self._identity(item, response)
        (result,) = await self.rendezvous.results(judged, [uid], [identity])
        if result.group is None:  # no group needed: verl still logs one, whole and flat
            result = result._replace(group=Member(result.reward, False, True))
        info = result.to_verl(self.unscored)
        if self.watch is not None:  # the same keys for every sample, as verl needs
            info.update(await self._watched(uid, judged, truth, result, identity))
        return {"reward_score": info.pop("score"), "reward_extra_info": info}

    @property
    def _actor(self) -> Any:
        """The run's group actor once a group needed it (``None`` before, or outside Ray)."""
        return self.groups.handle if self.backend == "ray" else None

    def _identity(self, item: Any, response: str) -> str | None:
        """The sample's identity within its ``uid``: verl's per-sample number (``priority``)
        and a digest of the response; None where verl gives no number."""
        value = item.non_tensor_batch.get(self.member_column) if self.member_column else None
        if value is None:
            return None
        number = value.item() if hasattr(value, "item") else value
        return f"{number}:{hashlib.sha256(response.encode()).hexdigest()[:16]}"
