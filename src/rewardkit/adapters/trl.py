"""TRL: a reward function for ``GRPOTrainer(reward_funcs=[...])``::

    args = GRPOConfig(num_generations=10, ...)
    reward = TRLReward(rk.LadderReward("taxonomy", "speciarl", taxonomy="tax.json"), args)
    trainer = GRPOTrainer(model, reward_funcs=[reward], args=args, ...)

The group size comes from the config's ``num_generations`` (and ``num_generations_eval``).
TRL calls a reward function on each process's own generation batch, with the G completions of a
prompt contiguous; when that local batch is not a multiple of G a group is split across
processes, so this reward gathers verdicts from every process, rewards whole groups, and hands
each process its own slice - the same rewards as one process would compute. When groups are
whole on every process no collective runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import GroupLayoutError
from ..pipeline import Judged, LadderReward
from ..rules import to_list

__all__ = ["TRLReward", "GroupLayoutError"]


def _world() -> tuple[int, int]:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is part of the trl extra
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_gather(obj: Any, world: int) -> list[Any]:
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


class TRLReward:
    """A :class:`~rewardkit.LadderReward` as a TRL GRPO reward function.

    ``args`` is the ``GRPOConfig`` (its ``num_generations`` sets the group size); or give
    ``num_generations`` directly. ``label_key`` names the dataset column with the ground truth.
    Per batch it logs correctness, specificity, HM, each rung's share, unscored and no-answer
    counts through ``log_metric`` (as ``<name>/<metric>``), and each completion's verdict and
    judge error through ``log_extra`` (TRL's completions table). Unscored completions get
    ``None``, which TRL leaves out. A judge whose prompt shows the question reads the
    ``question_key`` column, or else the prompt's text. On its first call it writes the
    reward's :class:`~rewardkit.spec.RewardSpec` to ``reward_spec.json`` in ``args.output_dir``.
    ``require_card``: a robustness card (``rewardkit redteam``) this reward must have passed.
    ``monitor``: a :class:`rewardkit.monitor.Monitor` watching rank 0's groups each step (its
    figures logged as ``<name>/audit/...``, ``<name>/window/...``; the completions table gets
    an ``audit_verdict`` column; its records go to ``args.output_dir``).

    The call is synchronous on purpose: a cross-process gather must run on the trainer's
    main thread (TRL runs async reward functions on a side thread, where an NCCL collective
    would use the wrong device). Judges with an async path still judge the batch concurrently.
    """

    def __init__(
        self,
        reward: LadderReward,
        args: Any = None,
        *,
        num_generations: int | None = None,
        label_key: str = "label",
        question_key: str = "question",
        name: str | None = None,
        require_card: str | os.PathLike | None = None,
        monitor: Any = None,
    ) -> None:
        if require_card is not None:  # a robustness card made for this reward, which passed
            from ..redteam.gate import check_card

            check_card(require_card, reward)
        if num_generations is None:
            if args is None or not getattr(args, "num_generations", None):
                raise ValueError("give the GRPOConfig (args=...) or num_generations=...")
            num_generations = int(args.num_generations)
        eval_generations = getattr(args, "num_generations_eval", None)  # None without args
        self.reward = reward
        self.group_sizes = [int(num_generations)]
        if eval_generations and int(eval_generations) != self.group_sizes[0]:
            self.group_sizes.append(int(eval_generations))
        self.label_key = label_key
        self.question_key = question_key
        self.output_dir = getattr(args, "output_dir", None)
        self._spec_written = False
        self.__name__ = name or reward.name
        self.monitor = monitor if _world()[0] == 0 else None  # rank 0 watches its groups
        self._steps = 0
        if self.monitor is not None and self.output_dir is not None:
            self.monitor.attach(self.output_dir)

    def __repr__(self) -> str:
        return f"TRLReward({self.reward!r}, group_sizes={self.group_sizes})"

    def __call__(
        self, prompts: Sequence, completions: Sequence, **kwargs: Any
    ) -> list[float | None]:
        if self.label_key not in kwargs:
            columns = sorted(
                k
                for k in kwargs
                if k not in ("trainer_state", "log_extra", "log_metric", "completion_ids")
            )
            raise KeyError(
                f"{self.__name__}: the dataset has no {self.label_key!r} column with the ground "
                f"truth (columns: {', '.join(columns) or 'none'}); set label_key="
            )
        labels = kwargs[self.label_key]
        if not self._spec_written:
            self._write_spec()
        questions = None
        if self.reward.judge.uses_question:
            questions = kwargs.get(self.question_key)
            if questions is None:
                questions = [_prompt_text(p) for p in prompts]
        ids = kwargs.get("completion_ids")  # token lengths for rules that read them
        lengths = None if ids is None else [len(x) for x in ids]
        judged = self.reward.judge_completions(completions, labels, questions, lengths=lengths)
        rewards = self._rewards(judged, [_prompt_key(p, y) for p, y in zip(prompts, labels)])
        self._log(judged, rewards, kwargs.get("log_metric"), kwargs.get("log_extra"))
        if self.monitor is not None:
            rewards = self._watch(judged, labels, rewards, questions, kwargs)
        return to_list(rewards)

    def _watch(self, judged, labels, rewards, questions, kwargs) -> np.ndarray:
        """The monitor's step: an alarm under ``stop`` from the step before raises here, at
        the boundary; its figures and each row's audit verdict are logged."""
        monitor = self.monitor
        assert monitor is not None
        monitor.check()
        state = kwargs.get("trainer_state")
        self._steps = int(getattr(state, "global_step", self._steps)) + 1
        size = self._local_group_size(len(judged))
        if size is None:  # this process holds no whole group: nothing to audit
            return rewards
        rewards, figures = monitor.step(
            self._steps, judged, list(labels), rewards, size, questions=questions
        )
        log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
        if log_metric is not None:
            for key, value in figures.items():
                if key.startswith(("audit/", "window/", "reward/")) and value is not None:
                    log_metric(f"{self.__name__}/{key}", float(value))
        if log_extra is not None:
            log_extra(
                "audit_verdict", [monitor.audited_rows.get(i, "") for i in range(len(judged))]
            )
        return rewards

    def _write_spec(self) -> None:
        """``reward_spec.json`` in the trainer's output folder (rank 0), so the reward can be
        rebuilt from the run."""
        self._spec_written = True
        if self.output_dir is None or self.reward.spec is None or _world()[0] != 0:
            return
        import os

        spec = self.reward.to_spec(group_size=self.group_sizes[0])
        spec.save(os.path.join(self.output_dir, "reward_spec.json"))

    # -- groups -------------------------------------------------------------------------------

    def _rewards(self, judged: Judged, keys: list[bytes]) -> np.ndarray:
        n = len(judged)
        rank, world = _world()
        # Same decision on every process: it depends only on n and the config.
        split = world > 1 and any(n % g for g in self.group_sizes)
        if not split:
            size = self._group_size(keys)
            return self.reward.rewards(judged, size)
        local = (judged.codes, judged.found, keys, judged.texts, judged.lengths)
        parts = _all_gather(local, world)
        codes = np.concatenate([p[0] for p in parts])
        found = np.concatenate([p[1] for p in parts])
        all_keys = [k for p in parts for k in p[2]]
        texts = None if any(p[3] is None for p in parts) else sum((p[3] for p in parts), ())
        tokens = [p[4] for p in parts]
        lengths = None if any(t is None for t in tokens) else np.concatenate(tokens)
        size = self._group_size(all_keys)
        rewards = self.reward.rewards_of(codes, found, size, texts=texts, lengths=lengths)
        start = sum(len(p[0]) for p in parts[:rank])
        return rewards[start : start + n]

    def _local_group_size(self, n: int) -> int | None:
        """The group size for this process's own batch, when its groups are whole."""
        return next((g for g in self.group_sizes if n % g == 0), None)

    def _group_size(self, keys: list[bytes]) -> int:
        for size in self.group_sizes:
            if len(keys) % size == 0 and all(
                len(set(keys[i : i + size])) == 1 for i in range(0, len(keys), size)
            ):
                return size
        raise GroupLayoutError(
            f"{self.__name__}: {len(keys)} completions do not form contiguous groups of "
            f"{' or '.join(map(str, self.group_sizes))} sharing one prompt and label; rewardkit "
            "expects "
            "GRPOTrainer's layout (num_generations contiguous completions per prompt)"
        )

    def _log(
        self,
        judged: Judged,
        rewards: np.ndarray,
        log_metric: Callable[[str, float], None] | None,
        log_extra: Callable[[str, list], None] | None,
    ) -> None:
        if log_metric is not None:
            size = self._local_group_size(len(judged))
            for key, value in self.reward.metrics(judged, rewards, size).items():
                log_metric(f"{self.__name__}/{key}", value)
        if log_extra is not None:
            log_extra("verdict", judged.outcomes)
            log_extra("judge_error", [e or "" for e in judged.errors])


def _prompt_text(prompt: Any) -> str:
    """A prompt as text: a string, or the text parts of chat messages."""
    if isinstance(prompt, str):
        return prompt
    parts = []
    for message in prompt or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            texts = (p.get("text") for p in content if isinstance(p, dict))
            parts.extend(t for t in texts if isinstance(t, str))
    return "\n".join(p for p in parts if p)


def _prompt_key(prompt: Any, label: Any) -> bytes:
    """A digest of a row's prompt text and label, the same in every process (``hash`` is
    salted). Images and other objects inside chat prompts count by type only; the JSON is
    ASCII (a lone surrogate is escaped), so any text encodes."""
    text = json.dumps([prompt, label], default=lambda o: type(o).__name__, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).digest()
