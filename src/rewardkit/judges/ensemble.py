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
    """Moves a ``rate`` fraction of verdicts one step up or down (at random, with ``seed``),
    staying on the ladder; missing verdicts stay missing. Each completion is flipped on its
    own, after the inner judge's de-duplication (its ``stats`` count every completion as a
    judgement of its own).

    ``scheme="paper"`` (default) is the SpeciaRL authors' noise ablation: steps are between
    *tiers* - rungs of equal score merged (More specific counts as Specific), so on the SpeciaRL
    ladder there are five, and the top tier can only move down (to Less specific). A verdict
    landing on a merged tier becomes its lowest rung (Specific). ``scheme="rungs"`` steps
    between the six rungs instead.
    """

    merges = False  # every completion is flipped on its own: no two are one judgement

    def __init__(self, judge: Judge, rate: float, *, seed: int = 0, scheme: str = "paper") -> None:
        super().__init__()
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if scheme not in ("paper", "rungs"):
            raise ValueError(f"scheme must be paper or rungs, got {scheme!r}")
        self.inner, self.rate, self.scheme = judge, rate, scheme
        self.ladder, self.name = judge.ladder, f"noisy({judge.name},{rate:g})"
        self.uses_question = judge.uses_question
        self._random = random.Random(seed)
        self.flipped = 0
        # tier of each rung, and the rung each tier lands on
        ladder = self.ladder
        if scheme == "rungs":
            self._tier = list(range(len(ladder)))
        else:
            keys: list = []
            self._tier = []
            for rung in ladder:
                key = ("score", rung.score) if rung.correct else ("rung", rung.slug)
                if key not in keys:
                    keys.append(key)
                self._tier.append(keys.index(key))
        self._tiers = max(self._tier) + 1
        self._landing = [self._tier.index(t) for t in range(self._tiers)]

    def _flip(self, records: list[Judgement]) -> list[Judgement]:
        out = []
        top = self._tiers - 1
        for r in records:
            if r.verdict is not None and self._random.random() < self.rate:
                t = self._tier[self.ladder.index(r.verdict)]
                step = self._random.choice((-1, 1)) if 0 < t < top else (1 if t == 0 else -1)
                r = replace(r, verdict=self.ladder.slugs[self._landing[t + step]])
                self.flipped += 1
            out.append(r)
        return out

    def judge_unique_records(self, pairs):
        return self._flip(self.inner.judge_records(pairs))

    async def ajudge_unique_records(self, pairs):
        return self._flip(await self.inner.ajudge_records(pairs))

    def judge_unique(self, pairs):
        return [r.verdict for r in self.judge_unique_records(pairs)]

    async def ajudge_unique(self, pairs):
        return [r.verdict for r in await self.ajudge_unique_records(pairs)]
