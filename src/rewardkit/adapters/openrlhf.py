"""OpenRLHF (0.11.x): a reward file for ``--reward.remote_url /path/reward.py``.

OpenRLHF's ``SingleTurnAgentExecutor`` imports ``reward_func`` from the file and calls
``reward_func(queries, prompts, labels)`` with ONE sample per call, each in a worker thread
(``asyncio.to_thread``). The N samples of a prompt are generated together by one engine, in
one process, so a group-relative rule can wait there for a sample's siblings:
:class:`RendezvousReward` collects the samples of each (prompt, label) as they arrive, judges
each on arrival, and when the N-th arrives rewards the whole group and releases every waiting
call. Static rules need no waiting and return at once.

Fallback: if a group is not complete within ``timeout`` seconds (a sibling failed or never
came), the members present are rewarded as a group of their own; a sibling that arrives later
is rewarded against that group plus itself, at once. ``extra_logs`` reports ``partial_group``.
The rules are :mod:`rewardkit.groups`' (the same for verl's reward manager).

Write a reward file with :func:`write_reward_file` or ``rewardkit openrlhf-reward``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..pipeline import LadderReward
from ..rendezvous import open_rendezvous, openrlhf_reply
from ..spec import RewardSpec

__all__ = ["RendezvousReward", "write_reward_file", "openrlhf_response", "END_MARKERS"]

#: End-of-turn markers stripped from a decoded response before answer extraction.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|end_of_text|>")


class RendezvousReward:
    """A :class:`~rewardkit.LadderReward` behind OpenRLHF's one-sample ``reward_func``.

    ``group_size`` is OpenRLHF's ``n_samples_per_prompt``. ``unscored`` is the reward given
    when the judge returns no verdict: OpenRLHF cannot skip a sample, so it needs a number
    (default 0.0, and the sample is counted in ``extra_logs["unscored"]``).
    ``max_threads`` widens the event loop's thread pool when the file is loaded inside
    OpenRLHF's engine, so calls waiting for siblings never starve the siblings of threads.
    ``require_card``: a robustness card (``rewardkit redteam``) the reward must have passed.
    ``monitor``: a :class:`rewardkit.monitor.Monitor` (``warn`` or ``stop``) watching the
    groups as they complete, ``monitor_groups`` whole groups a step; its figures go to
    ``extra_logs`` with every sample (docs/monitor.md).
    """

    def __init__(
        self,
        reward: LadderReward,
        group_size: int,
        *,
        timeout: float = 120.0,
        unscored: float = 0.0,
        max_threads: int = 1024,
        require_card: str | None = None,
        monitor: Any = None,
        monitor_groups: int = 8,
    ) -> None:
        if require_card is not None:  # a robustness card made for this reward, which passed
            from ..redteam.gate import check_card

            check_card(require_card, reward)
        self.rendezvous = open_rendezvous(reward, group_size, "threads", timeout=timeout)
        self.reward = reward
        self.group_size = group_size
        self.timeout = timeout
        self.unscored = float(unscored)
        self.max_threads = max_threads
        self.groups = self.rendezvous.groups
        self.watch = None
        if monitor is not None:
            from ..monitor.watch import GroupWatch

            self.watch = GroupWatch(monitor, group_size, monitor_groups)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RendezvousReward:
        """Build from what a generated reward file carries: ``{"reward": <RewardSpec>,
        "timeout": ..., "unscored": ..., "monitor": {"audit_spec": ..., ...}}`` (the group size
        is the spec's; ``monitor``: :func:`rewardkit.monitor.watch.monitor_from_options`)."""
        options = dict(spec)
        reward_spec = RewardSpec.from_dict(options.pop("reward"))
        if reward_spec.group_size is None:
            raise ValueError("the reward spec of an OpenRLHF reward file needs a group_size")
        reward = LadderReward.from_spec(reward_spec)
        watched = dict(options.pop("monitor", None) or {})
        if watched:
            from ..monitor.watch import monitor_from_options

            groups = int(watched.pop("monitor_groups", 8))
            monitor = monitor_from_options(reward, watched, one_sample=True)
            options.update(monitor=monitor, monitor_groups=groups)
        return cls(reward, reward_spec.group_size, **options)

    def widen_thread_pool(self) -> None:
        """Give the running event loop (OpenRLHF's engine) a large default thread pool."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=self.max_threads, thread_name_prefix="rewardkit")
        )

    # -- the reward_func ------------------------------------------------------------------------

    def __call__(self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str]):
        import torch

        if not (len(queries) == len(prompts) == len(labels)):
            raise ValueError(
                f"reward_func got {len(queries)} queries, {len(prompts)} prompts and "
                f"{len(labels)} labels"
            )
        responses = [openrlhf_response(q, p) for q, p in zip(queries, prompts)]
        judged = self.reward.judge_completions(responses, list(labels))
        # OpenRLHF's call carries no identity: each sample is a new member (docs/serve.md).
        results = self.rendezvous.results_blocking(judged, list(zip(prompts, labels)))
        reply = openrlhf_reply(results, self.unscored, self.rendezvous.grouped)
        if self.watch is not None:  # the last monitor step's figures, with every sample
            figures = self.watch.add(
                list(zip(prompts, labels)),
                judged,
                list(labels),
                [r.reward for r in results],
                questions=list(prompts),
                partial=[r.group is not None and r.group.partial for r in results],
            )
            n = len(results)
            reply["extra_logs"].update({k: [v] * n for k, v in figures.items() if v == v})

        def tensor(values: list[float]) -> Any:
            return torch.tensor(values, dtype=torch.float32)

        return {
            "rewards": tensor(reply["rewards"]),
            "scores": tensor(reply["scores"]),
            "extra_logs": {k: tensor(v) for k, v in reply["extra_logs"].items()},
        }


def openrlhf_response(query: str, prompt: str) -> str:
    """The generated part of OpenRLHF's query (prompt + response, special tokens kept)."""
    response = query[len(prompt) :] if query.startswith(prompt) else query
    for marker in END_MARKERS:
        response = response.replace(marker, " ")
    return response


_TEMPLATE = '''"""OpenRLHF reward file written by rewardkit {version}.

Use: --reward.remote_url {path} (labels from --data.label_key).
Spec: judge {judge!r}, rule {rule!r}, groups of {group_size} (--rollout.n_samples_per_prompt).
"""

import json

from rewardkit.adapters.openrlhf import RendezvousReward

SPEC = json.loads({spec!r})
_reward = RendezvousReward.from_spec(SPEC)
_reward.widen_thread_pool()  # OpenRLHF loads this file inside its engine's event loop


def reward_func(queries, prompts, labels):
    return _reward(queries, prompts, labels)
'''


def write_reward_file(
    path: str | Path,
    *,
    group_size: int,
    judge: str = "taxonomy",
    rule: str = "speciarl",
    judge_options: Mapping[str, Any] | None = None,
    rule_options: Mapping[str, Any] | None = None,
    tag: str | None = "answer",
    timeout: float = 120.0,
    unscored: float = 0.0,
    require_card: str | Path | None = None,
    monitor: Mapping[str, Any] | None = None,
) -> Path:
    """Write an OpenRLHF reward file (its folder is made if missing); the judge and rule are
    checked by building them first, and ``require_card`` (a robustness card the reward must
    have passed) now and when OpenRLHF loads the file. ``monitor``: the reward monitor's
    options (``audit_spec``, ``audit_rate``, ``alarm_policy``, ``monitor_dir``,
    ``monitor_groups``; docs/monitor.md), its paths made absolute.

    >>> write_reward_file("runs/reward.py", group_size=10,
    ...                   judge_options={"taxonomy": "examples/data/animals.json"})
    PosixPath('runs/reward.py')
    """
    from ..plugins import judge_options as declared
    from ..version import __version__

    # The judge's path options made absolute: OpenRLHF runs elsewhere. Its secret options are
    # never written (RewardSpec.to_dict): OpenRLHF's process reads them from their variable.
    options = declared(judge).absolute(dict(judge_options or {}))
    reward_spec = RewardSpec.from_options(
        {
            "judge": judge,
            "rule": rule,
            "rule_options": dict(rule_options or {}),
            "tag": tag,
            "group_size": group_size,
            **options,
        }
    )[0]
    spec: dict[str, Any] = {
        "reward": reward_spec.to_dict(),
        "timeout": timeout,
        "unscored": unscored,
    }
    if require_card is not None:  # checked now and when OpenRLHF loads the file
        spec["require_card"] = str(Path(require_card).resolve())
    if monitor:
        spec["monitor"] = dict(monitor)
        for key in ("audit_spec", "monitor_dir"):
            if isinstance(monitor.get(key), (str, Path)):
                spec["monitor"][key] = str(Path(monitor[key]).resolve())
    # Fail now, not inside the trainer (the monitor's records are the trainer's to write).
    check = {
        **spec,
        "monitor": {k: v for k, v in spec.get("monitor", {}).items() if k != "monitor_dir"},
    }
    checked = RendezvousReward.from_spec(check)
    if checked.watch is not None:
        checked.watch.monitor.close()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        _TEMPLATE.format(
            version=__version__,
            path=path.resolve(),
            judge=judge,
            rule=rule,
            group_size=group_size,
            spec=json.dumps(spec),
        )
    )
    return path
