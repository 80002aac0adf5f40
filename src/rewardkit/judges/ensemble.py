"""Judges over judges: a majority vote, and seeded verdict noise (the paper's ablation).

>>> from rewardkit.judges.taxonomy import TaxonomyJudge
>>> from rewardkit.taxonomy import Taxonomy
>>> base = TaxonomyJudge(Taxonomy([["animal", "dog", "spitz", "samoyed"]]))
>>> NoisyJudge(base, 0.0, seed=0)([("samoyed", "dog")])
['generic']
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from .base import Judge, Judgement

__all__ = ["MajorityJudge", "NoisyJudge"]


class MajorityJudge(Judge):
    """The most common verdict of several judges on one ladder; ties go to the lower rung
    (the conservative choice). Judges that give no verdict do not vote; with no votes at all
    the verdict is missing."""

    def __init__(self, judges: Sequence[Judge]) -> None:
        super().__init__()
        if not judges:
            raise ValueError("MajorityJudge needs at least one judge")
        ladders = {j.ladder for j in judges}
        if len(ladders) != 1:
            raise ValueError("all judges must share one ladder")
        self.judges = list(judges)
        self.ladder = self.judges[0].ladder
        self.name = "majority(" + ",".join(j.name for j in self.judges) + ")"

    def _vote(self, votes: list[str | None]) -> str | None:
        counts = Counter(v for v in votes if v is not None)
        if not counts:
            return None
        top = max(counts.values())
        return min((v for v, c in counts.items() if c == top), key=self.ladder.index)

    def judge_unique(self, pairs):
        columns = [j.judge(pairs) for j in self.judges]
        return [self._vote(list(votes)) for votes in zip(*columns)]

    async def ajudge_unique(self, pairs):
        import asyncio

        columns = await asyncio.gather(*(j.ajudge(pairs) for j in self.judges))
        return [self._vote(list(votes)) for votes in zip(*columns)]


class NoisyJudge(Judge):
    """Flips a ``rate`` fraction of verdicts one rung up or down (at random, with ``seed``),
    staying on the ladder; missing verdicts stay missing. Each completion is flipped on its
    own, after the inner judge's de-duplication."""

    def __init__(self, judge: Judge, rate: float, *, seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        self.inner, self.rate = judge, rate
        self.ladder, self.name = judge.ladder, f"noisy({judge.name},{rate:g})"
        self._random = random.Random(seed)
        self.flipped = 0

    def _flip(self, records: list[Judgement]) -> list[Judgement]:
        out = []
        top = len(self.ladder) - 1
        for r in records:
            if r.verdict is not None and self._random.random() < self.rate:
                i = self.ladder.index(r.verdict)
                step = self._random.choice((-1, 1)) if 0 < i < top else (1 if i == 0 else -1)
                r = replace(r, verdict=self.ladder.slugs[i + step])
                self.flipped += 1
            out.append(r)
        return out

    def judge_records(self, pairs):
        return self._flip(self.inner.judge_records(pairs))

    async def ajudge_records(self, pairs):
        return self._flip(await self.inner.ajudge_records(pairs))
