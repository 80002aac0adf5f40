"""The whole reward path in one object: completions -> answers -> verdicts -> rewards.

Trainer adapters are thin glue over :class:`LadderReward`; its three steps stay separate
(``judge_completions``, ``rewards``, ``metrics``) so a caller can gather verdicts across
processes between them.

>>> import rewardkit as rk
>>> reward = rk.LadderReward("taxonomy", "speciarl", taxonomy="examples/data/animals.json")
>>> reward(["<answer>dog</answer>", "<answer>spitz</answer>", "oops"], ["samoyed"] * 3,
...        group_size=3)
[0.0, 1.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .answers import MODES, Mode, completion_text, extract_answers
from .judges.base import Judge
from .ladders import MISSING, Ladder
from .metrics import Scores, score
from .records import Batch, Judged, Judgement
from .rules import RewardRule, to_list

__all__ = ["Judged", "LadderReward"]


class LadderReward:
    """A judge, a rule and the answer extractor, applied to whole batches.

    ``judge`` and ``rule`` are objects or registered names; ``judge_options`` build a judge
    given by name (e.g. ``taxonomy="tax.json"``). ``tag``, ``empty_is_missing`` and
    ``extraction`` (its ``mode``) control answer extraction (see
    :func:`rewardkit.extract_answers`).
    """

    def __init__(
        self,
        judge: Judge | str = "taxonomy",
        rule: RewardRule | str = "speciarl",
        *,
        tag: str | None = "answer",
        empty_is_missing: bool = True,
        rule_options: Mapping[str, Any] | None = None,
        extraction: Mode = "strict",
        **judge_options: Any,
    ) -> None:
        from .plugins import get_judge, get_rule
        from .spec import RewardSpec, SpecError

        if extraction not in MODES:
            raise ValueError(f"extraction must be one of {', '.join(MODES)}, got {extraction!r}")
        #: The :class:`~rewardkit.spec.RewardSpec` this reward was built from (``None`` when
        #: judge or rule were given as objects: such a reward cannot be rebuilt from data).
        self.spec: RewardSpec | None = None
        if isinstance(judge, str) and isinstance(rule, str):
            options = dict(judge_options)
            ladder = options.pop("ladder", None)
            try:
                self.spec = RewardSpec(
                    judge=judge,
                    judge_options=options,
                    rule=rule,
                    rule_options=dict(rule_options or {}),
                    ladder=ladder,
                    tag=tag,
                    empty_is_missing=empty_is_missing,
                    extraction=extraction,
                )
            except SpecError:  # options that are objects, not data: no spec
                self.spec = None
        if isinstance(judge, str):
            judge = get_judge(judge, **judge_options)
        elif judge_options:
            raise TypeError(f"judge options {sorted(judge_options)} given with a judge object")
        if isinstance(rule, str):
            rule = get_rule(rule, **(rule_options or {}))
        elif rule_options:
            raise TypeError("rule_options given with a rule object")
        if not isinstance(judge, Judge):
            raise TypeError(f"judge must be a rewardkit Judge, got {type(judge).__name__}")
        if not isinstance(rule, RewardRule):
            raise TypeError(f"rule must be a rewardkit RewardRule, got {type(rule).__name__}")
        self.judge = judge
        self.rule = rule
        self.tag = tag
        self.empty_is_missing = empty_is_missing
        self.extraction: Mode = extraction

    def __repr__(self) -> str:
        return f"LadderReward(judge={self.judge.name!r}, rule={self.rule.name!r})"

    @classmethod
    def from_spec(cls, spec: Any) -> LadderReward:
        """Build from a :class:`~rewardkit.spec.RewardSpec` (or its dict or JSON form)."""
        from .spec import RewardSpec

        if isinstance(spec, str):
            spec = RewardSpec.from_json(spec)
        elif isinstance(spec, Mapping):
            spec = RewardSpec.from_dict(spec)
        reward = cls(
            spec.judge,
            spec.rule,
            tag=spec.tag,
            empty_is_missing=spec.empty_is_missing,
            rule_options=spec.rule_options,
            extraction=spec.extraction,
            **spec.judge_kwargs(),
        )
        reward.spec = spec
        return reward

    def to_spec(self, **changes: Any) -> Any:
        """The :class:`~rewardkit.spec.RewardSpec` to rebuild this reward (``changes`` such
        as ``group_size=10`` are applied)."""
        from dataclasses import replace

        if self.spec is None:
            raise TypeError(
                "this reward was built from judge or rule objects: it has no spec; build it "
                "from registered names (or a RewardSpec) to record it"
            )
        return replace(self.spec, **changes) if changes else self.spec

    @property
    def ladder(self) -> Ladder:
        return self.judge.ladder

    @property
    def name(self) -> str:
        return f"{self.rule.name}_{self.judge.name}"

    # -- step 1: answers and verdicts ---------------------------------------------------------

    def _prepare(
        self, completions: Sequence, labels: Sequence[str], questions: Sequence[str] | None
    ) -> tuple[list, list, list, dict[int, str]]:
        if len(completions) != len(labels):
            raise ValueError(f"{len(completions)} completions but {len(labels)} labels")
        answers, found = extract_answers(
            completions,
            tag=self.tag,
            empty_is_missing=self.empty_is_missing,
            mode=self.extraction,
        )
        refused = self._guard(answers, found)
        if questions is None:
            if self.judge.uses_question:
                raise ValueError(
                    f"judge {self.judge.name!r} reads each row's question: pass questions="
                )
            return answers, found, list(zip(labels, answers)), refused
        if len(questions) != len(labels):
            raise ValueError(f"{len(questions)} questions but {len(labels)} labels")
        return answers, found, list(zip(labels, answers, questions)), refused

    def _guard(self, answers: list, found: list) -> dict[int, str]:
        """Refuse answers the ladder's guard refuses: no valid answer, never judged."""
        refused = {}
        check = self.ladder.guard.check
        for i, answer in enumerate(answers):
            why = None if answer is None else check(answer)
            if why is not None:
                answers[i], found[i], refused[i] = None, False, f"no valid answer: {why}"
        return refused

    def _judged(
        self,
        answers: list,
        found: list,
        records: list[Judgement],
        refused: dict[int, str],
        completions: Sequence,
        lengths: Sequence[int] | None,
    ) -> Judged:
        if refused:
            records = list(records)
            for i, why in refused.items():
                records[i] = Judgement(None, error=why)
        codes = self.ladder.encode([r.verdict for r in records])
        texts = tuple(completion_text(c) for c in completions)
        tokens = None if lengths is None else np.asarray(lengths)
        if tokens is not None and tokens.shape != codes.shape:
            raise ValueError(f"{len(tokens)} lengths for {len(codes)} completions")
        flags = np.asarray(found, dtype=bool)
        return Judged(self.ladder, answers, flags, codes, records, texts, tokens)

    def judge_completions(
        self,
        completions: Sequence,
        labels: Sequence[str],
        questions: Sequence[str] | None = None,
        *,
        lengths: Sequence[int] | None = None,
    ) -> Judged:
        """Extract each answer and judge the batch (identical pairs once). ``questions``
        (the prompts, as text) reach judges whose prompt shows the question; ``lengths``
        (each completion's length in tokens) reach rules that read them."""
        answers, found, pairs, refused = self._prepare(completions, labels, questions)
        records = self.judge.judge_records(pairs)
        return self._judged(answers, found, records, refused, completions, lengths)

    async def ajudge_completions(
        self,
        completions: Sequence,
        labels: Sequence[str],
        questions: Sequence[str] | None = None,
        *,
        lengths: Sequence[int] | None = None,
    ) -> Judged:
        """Async :meth:`judge_completions`: a judge with an async path runs concurrently."""
        answers, found, pairs, refused = self._prepare(completions, labels, questions)
        records = await self.judge.ajudge_records(pairs)
        return self._judged(answers, found, records, refused, completions, lengths)

    # -- step 2: rewards ------------------------------------------------------------------------

    def rewards(self, judged: Judged, group_size: int = 1) -> np.ndarray:
        """Rewards (float64, NaN = unscored) for judged completions in groups of ``group_size``."""
        return self.rewards_of(
            judged.codes, judged.found, group_size, texts=judged.texts, lengths=judged.lengths
        )

    def rewards_of(
        self, codes, found, group_size: int = 1, *, texts=None, lengths=None
    ) -> np.ndarray:
        """:meth:`rewards` from rung codes and answer-found flags (as gathered across processes
        or collected one sample at a time); ``texts`` and token ``lengths`` for rules that
        read them."""
        codes = np.asarray(codes, dtype=np.int16)
        found = np.asarray(found, bool)
        return self.rule.compute(Batch(self.ladder, codes, found, group_size, texts, lengths))

    def __call__(
        self, completions: Sequence, labels: Sequence[str], group_size: int = 1
    ) -> list[float | None]:
        """Rewards for a batch as a list (``None`` = unscored)."""
        return to_list(self.rewards(self.judge_completions(completions, labels), group_size))

    # -- step 3: metrics ------------------------------------------------------------------------

    def reward_parts(self, judged: Judged, group_size: int = 1) -> dict[str, np.ndarray]:
        """Each term's rewards (unweighted) for a composed rule (``a + 0.5 * b``), by term
        name; a plain rule is its own one part."""
        batch = Batch(
            self.ladder, judged.codes, judged.found, group_size, judged.texts, judged.lengths
        )
        return self.rule.parts(batch)

    def metrics(
        self, judged: Judged, rewards: np.ndarray | None = None, group_size: int | None = None
    ) -> dict[str, float]:
        """Flat metrics of a batch for a trainer's log. Units: ``no_answer`` and ``unscored``
        are counts; ``rung/<slug>`` are shares of the judged completions; ``correctness``,
        ``specificity`` and ``hm`` as in :func:`rewardkit.score`; ``reward_mean``. With
        ``group_size``: each term of a composed rule as ``part/<term>`` (its mean), and every
        registered metric (``register_metrics``), such as the built-in GRPO diagnostics
        ``grpo/...``, under its name."""
        codes = np.where(judged.found, judged.codes, MISSING)
        s: Scores = score(codes, self.ladder)
        out: dict[str, float] = {
            "no_answer": float(np.count_nonzero(~judged.found)),
            "unscored": float(np.count_nonzero((judged.codes == MISSING) & judged.found)),
        }
        if s.n:
            for key in ("correctness", "specificity", "hm"):
                value = getattr(s, key)
                if value is not None:
                    out[key] = float(value)
            out.update({f"rung/{slug}": count / s.n for slug, count in s.counts.items()})
        if rewards is not None and np.isfinite(rewards).any():
            out["reward_mean"] = float(np.nanmean(rewards))
        if group_size is not None:
            parts = self.reward_parts(judged, group_size)
            if len(parts) > 1:
                for term, values in parts.items():
                    if np.isfinite(values).any():
                        out[f"part/{term}"] = float(np.nanmean(values))
            if rewards is not None:
                from .plugins import metrics as registered

                for name, metric in registered().items():
                    out.update(
                        {
                            f"{name}/{k}": float(v)
                            for k, v in metric(judged, rewards, group_size).items()
                        }
                    )
        return out
