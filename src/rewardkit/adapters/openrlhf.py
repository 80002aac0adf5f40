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

Write a reward file with :func:`write_reward_file` or ``rewardkit openrlhf-reward``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline import LadderReward

__all__ = ["RendezvousReward", "write_reward_file", "END_MARKERS"]

#: End-of-turn markers stripped from a decoded response before answer extraction.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|end_of_text|>")


@dataclass
class _Group:
    codes: list[int] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    rewards: np.ndarray | None = None
    partial: bool = False
    closed_at: float = 0.0


class RendezvousReward:
    """A :class:`~rewardkit.LadderReward` behind OpenRLHF's one-sample ``reward_func``.

    ``group_size`` is OpenRLHF's ``n_samples_per_prompt``. ``unscored`` is the reward given
    when the judge returns no verdict: OpenRLHF cannot skip a sample, so it needs a number
    (default 0.0, and the sample is counted in ``extra_logs["unscored"]``).
    ``max_threads`` widens the event loop's thread pool when the file is loaded inside
    OpenRLHF's engine, so calls waiting for siblings never starve the siblings of threads.
    """

    def __init__(
        self,
        reward: LadderReward,
        group_size: int,
        *,
        timeout: float = 120.0,
        unscored: float = 0.0,
        max_threads: int = 1024,
    ) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.reward = reward
        self.group_size = group_size
        self.timeout = timeout
        self.unscored = float(unscored)
        self.max_threads = max_threads
        self._lock = threading.Lock()
        self._open: dict[tuple, _Group] = {}
        self._closed: dict[tuple, _Group] = {}  # partial groups that may still get late members

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RendezvousReward:
        """Build from the JSON spec a generated reward file carries."""
        spec = dict(spec)
        reward = LadderReward(
            spec.pop("judge", "taxonomy"),
            spec.pop("rule", "speciarl"),
            tag=spec.pop("tag", "answer"),
            rule_options=spec.pop("rule_options", None),
            **spec.pop("judge_options", {}),
        )
        return cls(reward, **spec)

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
        responses = [_response(q, p) for q, p in zip(queries, prompts)]
        judged = self.reward.judge_completions(responses, list(labels))
        codes, found = judged.codes.tolist(), judged.found.tolist()
        if self.group_size == 1 or not self.reward.rule.group_relative:
            rewards = self.reward.rewards(judged, 1).tolist()
            partial = [False] * len(rewards)
        else:
            joined = [self._join((p, y), c, f) for p, y, c, f in zip(prompts, labels, codes, found)]
            rewards, partial = [], []
            for key, (group, index) in zip(zip(prompts, labels), joined):
                value, was_partial = self._await(key, group, index)
                rewards.append(value)
                partial.append(was_partial)
        unscored = [r != r for r in rewards]
        values = [self.unscored if u else r for r, u in zip(rewards, unscored)]
        return {
            "rewards": torch.tensor(values, dtype=torch.float32),
            "scores": torch.tensor(np.clip(values, 0.0, 1.0), dtype=torch.float32),
            "extra_logs": {
                "correct": torch.tensor(judged.correct.astype(np.float32)),
                "no_answer": torch.tensor([float(not f) for f in found]),
                "unscored": torch.tensor([float(u) for u in unscored]),
                "partial_group": torch.tensor([float(p) for p in partial]),
            },
        }

    # -- rendezvous -----------------------------------------------------------------------------

    def _rewards(self, group: _Group) -> np.ndarray:
        return self.reward.rewards_of(group.codes, group.found, len(group.codes))

    def _join(self, key: tuple, code: int, found: bool) -> tuple[_Group, int]:
        with self._lock:
            late = self._closed.get(key)
            if late is not None:
                # A sibling of a group closed by the timeout: reward it against that group.
                late.codes.append(code)
                late.found.append(found)
                index = len(late.codes) - 1
                late.rewards = self._rewards(late)
                if len(late.codes) >= self.group_size:
                    del self._closed[key]
                return late, index
            group = self._open.setdefault(key, _Group())
            group.codes.append(code)
            group.found.append(found)
            index = len(group.codes) - 1
            if len(group.codes) == self.group_size:
                del self._open[key]
                group.rewards = self._rewards(group)
                group.done.set()
            return group, index

    def _await(self, key: tuple, group: _Group, index: int) -> tuple[float, bool]:
        if not group.done.wait(self.timeout):
            with self._lock:
                if not group.done.is_set():  # nobody closed it meanwhile: close it partial
                    if self._open.get(key) is group:
                        del self._open[key]
                    group.partial, group.closed_at = True, time.monotonic()
                    group.rewards = self._rewards(group)
                    self._prune()
                    self._closed[key] = group
                    group.done.set()
        return float(group.rewards[index]), group.partial

    def _prune(self) -> None:
        horizon = time.monotonic() - 10 * self.timeout
        for key in [k for k, g in self._closed.items() if g.closed_at < horizon]:
            del self._closed[key]


def _response(query: str, prompt: str) -> str:
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
) -> Path:
    """Write an OpenRLHF reward file; the judge and rule are checked by building them first.

    >>> write_reward_file("/tmp/reward.py", group_size=10,
    ...                   judge_options={"taxonomy": "examples/data/animals.json"})
    PosixPath('/tmp/reward.py')
    """
    from .. import __version__

    spec = {
        "judge": judge,
        "rule": rule,
        "judge_options": dict(judge_options or {}),
        "rule_options": dict(rule_options or {}),
        "tag": tag,
        "group_size": group_size,
        "timeout": timeout,
        "unscored": unscored,
    }
    options = spec["judge_options"]
    for key in ("taxonomy", "cache", "prompt"):  # file paths made absolute: OpenRLHF runs elsewhere
        value = options.get(key)
        if isinstance(value, str) and (key != "prompt" or Path(value).is_file()):
            options[key] = str(Path(value).resolve())
    RendezvousReward.from_spec(spec)  # fail now, not inside the trainer
    path = Path(path)
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
