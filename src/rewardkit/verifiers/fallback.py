"""An opt-in LLM judge for the answers a rule-based verifier cannot read.

:class:`Fallback` wraps a judge on the verifier's own ladder (an
:class:`~rewardkit.judges.llm.LLMJudge` from ``openai_judge``, ``litellm_judge``, ...). The
verifier hands it the pairs it could not place; what comes back is hostile input read by the
ladder's reply reader (:mod:`rewardkit.replies`, inside the LLM judge): a reply stating two
verdicts, or none, is a failure - and a failure is **unscored with its reason**, never a rung.
Every pair sent, every verdict and every failure is counted in the verifier's stats, and each
batch logs the fallback's share.

>>> from rewardkit.verifiers.math import MATH
>>> Fallback("openai", MATH)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
TypeError: fallback must be a judge, or on the command line an object naming one: {"judge": ...
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..judges.base import Judge, Judgement
from ..ladders import Ladder
from ..records import JudgeStats

__all__ = ["Fallback", "FallbackStats"]

log = logging.getLogger(__name__)


@dataclass
class FallbackStats(JudgeStats):
    """A verifier's counts with its fallback's: ``fallback`` pairs sent to it, its
    ``fallback_verdicts``, its ``failures`` (unscored) by cause in ``errors``."""

    fallback: int = 0
    fallback_verdicts: int = 0
    failures: int = 0
    errors: dict = field(default_factory=dict)

    @property
    def fallback_share(self) -> float:
        """The share of judged pairs that went to the fallback."""
        return self.fallback / self.unique if self.unique else 0.0


class Fallback:
    """The judge ``spec`` asked about what a verifier on ``ladder`` could not read. Its
    verdicts must be in ``allowed`` (default: any rung)."""

    def __init__(self, spec: Judge, ladder: Ladder, allowed: Collection[str] | None = None) -> None:
        if not isinstance(spec, Judge):
            raise TypeError(
                "fallback must be a judge, or on the command line an object naming one: "
                f'{{"judge": "openai", "model": ..., "api_base": ...}}; got {spec!r}'
            )
        judge = spec
        if judge.ladder.name != ladder.name or judge.ladder.slugs != ladder.slugs:
            raise ValueError(
                f"the fallback judge {judge.name!r} places answers on {judge.ladder.name!r}, "
                f"not on {ladder.name!r}: give it ladder={ladder.name!r}"
            )
        on_failure = getattr(judge, "on_failure", "missing")
        if on_failure != "missing":
            raise ValueError(
                f"the fallback judge's on_failure must be 'missing' (a failed fallback is "
                f"unscored), got {on_failure!r}"
            )
        self.judge, self.ladder = judge, ladder
        self.allowed = frozenset(ladder.slugs if allowed is None else allowed)

    def __repr__(self) -> str:
        return f"Fallback({self.judge!r})"

    def records(
        self, pairs: Sequence[tuple[str, ...]], stats: FallbackStats, of: int
    ) -> list[Judgement]:
        """Judgements for ``pairs`` (the verifier could not read them; ``of`` pairs were
        judged in the batch), counted in ``stats`` and logged."""
        out = [self._one(r, stats) for r in self.judge.judge_records(list(pairs))]
        stats.fallback += len(pairs)
        scored = sum(r.verdict is not None for r in out)
        stats.fallback_verdicts += scored
        log.info(
            "%d of %d answers (%.1f%%) could not be read by the rule and went to the fallback "
            "judge %s: %d verdicts, %d unscored",
            len(pairs), of, 100.0 * len(pairs) / max(of, 1), self.judge.name, scored,
            len(pairs) - scored,
        )  # fmt: skip
        return out

    def _one(self, record: Judgement, stats: FallbackStats) -> Judgement:
        verdict = record.verdict
        if verdict is None:
            cause = record.error or "no verdict"
        elif verdict not in self.allowed:
            cause = f"the fallback said {verdict!r}, which this judge never gives"
        else:
            return Judgement(
                verdict,
                reply=f"fallback {self.judge.name}: {record.reply or verdict}",
                prompt_tokens=record.prompt_tokens,
                completion_tokens=record.completion_tokens,
            )
        stats.failures += 1
        key = re.split(r"[:(]| from ", cause, maxsplit=1)[0].strip()[:60]
        stats.errors[key] = stats.errors.get(key, 0) + 1
        return Judgement(
            None, reply=record.reply, error=f"unscored: the fallback judge failed: {cause}"
        )
