"""The batch interface every judge shares.

A judge places (ground truth, prediction) pairs on its ladder. ``judge(pairs)`` and
``await ajudge(pairs)`` take a whole batch, judge each distinct pair once, and return one
verdict slug per pair - or ``None`` where there is no verdict (the prediction is ``None``,
i.e. no answer was found, or the judge failed). Subclasses implement ``judge_unique`` (and
may override ``ajudge_unique`` when they have a native async path).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ..ladders import Ladder

__all__ = ["Pair", "Judge", "JudgeStats"]

#: (ground truth, prediction); a ``None`` prediction means no answer was found.
Pair = tuple[str, "str | None"]


@dataclass
class JudgeStats:
    """Running counts: ``pairs`` seen, ``unique`` pairs judged, ``missing`` verdicts returned
    (no answer or judge failure)."""

    pairs: int = 0
    unique: int = 0
    missing: int = 0


class Judge:
    """Base class for judges. Subclasses set ``name`` and ``ladder`` and implement
    :meth:`judge_unique`."""

    name: str = "judge"
    ladder: Ladder

    def __init__(self) -> None:
        self.stats = JudgeStats()

    def key(self, ground_truth: str, prediction: str) -> Hashable:
        """What makes two pairs the same judgement (default: the exact strings)."""
        return (ground_truth, prediction)

    def judge_unique(self, pairs: Sequence[tuple[str, str]]) -> list[str | None]:
        """Verdicts for distinct pairs whose predictions are all strings."""
        raise NotImplementedError

    async def ajudge_unique(self, pairs: Sequence[tuple[str, str]]) -> list[str | None]:
        """Async variant; by default runs :meth:`judge_unique` in a worker thread."""
        import asyncio  # imported here: asyncio is slow to import and most users judge sync

        return await asyncio.to_thread(self.judge_unique, pairs)

    def judge(self, pairs: Sequence[Pair]) -> list[str | None]:
        """One verdict slug (or ``None``) per pair, in order."""
        index, unique = self._plan(pairs)
        return self._spread(index, self.judge_unique(unique) if unique else [])

    async def ajudge(self, pairs: Sequence[Pair]) -> list[str | None]:
        """Async :meth:`judge`."""
        index, unique = self._plan(pairs)
        return self._spread(index, await self.ajudge_unique(unique) if unique else [])

    def __call__(self, pairs: Sequence[Pair]) -> list[str | None]:
        return self.judge(pairs)

    def _plan(self, pairs: Sequence[Pair]) -> tuple[list[int], list[tuple[str, str]]]:
        slots: dict[Hashable, int] = {}
        unique: list[tuple[str, str]] = []
        index: list[int] = []
        for i, pair in enumerate(pairs):
            try:
                truth, prediction = pair
            except (TypeError, ValueError):
                raise TypeError(
                    f"pair {i} is not a (ground truth, prediction) pair: {pair!r}"
                ) from None
            if not isinstance(truth, str):
                raise TypeError(f"pair {i}: ground truth must be a string, got {truth!r}")
            if prediction is None:
                index.append(-1)
                continue
            if not isinstance(prediction, str):
                raise TypeError(
                    f"pair {i}: prediction must be a string or None, got {prediction!r}"
                )
            key = self.key(truth, prediction)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = len(unique)
                unique.append((truth, prediction))
            index.append(slot)
        self.stats.pairs += len(index)
        self.stats.unique += len(unique)
        return index, unique

    def _spread(self, index: list[int], verdicts: list[str | None]) -> list[str | None]:
        out = [None if slot < 0 else verdicts[slot] for slot in index]
        self.stats.missing += sum(v is None for v in out)
        return out
