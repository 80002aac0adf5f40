"""The batch interface every judge shares.

A judge places (ground truth, prediction) pairs on its ladder. ``judge(pairs)`` and
``await ajudge(pairs)`` take a whole batch, judge each distinct pair once, and return one
verdict slug per pair - or ``None`` where there is no verdict (the prediction is ``None``,
i.e. no answer was found, or the judge failed). ``judge_records(pairs)`` returns a
:class:`Judgement` per pair instead: the verdict with the judge's raw reply, its error and
token counts, for logs and ``rewardkit judge --explain``.

A pair may carry a third element, the row's question or context; judges whose prompt uses it
(``uses_question``) see it, the others ignore it. Subclasses implement ``judge_unique`` (and
may override ``ajudge_unique`` when they have a native async path, or the ``*_records``
variants when they have more to say than the verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from ..ladders import Ladder
from ..records import Judgement, JudgeStats

__all__ = ["Pair", "Judge", "JudgeStats", "Judgement"]

#: (ground truth, prediction) or (ground truth, prediction, question); a ``None`` prediction
#: means no answer was found.
Pair = tuple


NO_ANSWER = Judgement(None, error="no answer")


class Judge:
    """Base class for judges. Subclasses set ``name`` and ``ladder`` and implement
    :meth:`judge_unique`."""

    name: str = "judge"
    ladder: Ladder
    #: Whether the judge reads the third element of a pair (the question).
    uses_question: bool = False
    #: Whether pairs with one :meth:`key` are judged once (``False``: every pair on its own).
    merges: bool = True

    def __init__(self) -> None:
        self.stats = JudgeStats()

    def key(self, ground_truth: str, prediction: str, *question: str) -> Hashable:
        """What makes two pairs the same judgement (default: the exact strings)."""
        return (ground_truth, prediction, *question)

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        """Verdicts for distinct pairs whose predictions are all strings."""
        raise NotImplementedError

    async def ajudge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        """Async variant; by default runs :meth:`judge_unique` in a worker thread."""
        import asyncio  # imported here: asyncio is slow to import and most users judge sync

        return await asyncio.to_thread(self.judge_unique, pairs)

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        """:class:`Judgement` records for distinct pairs (default: from :meth:`judge_unique`)."""
        return [_record(v) for v in self.judge_unique(pairs)]

    async def ajudge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        """Async :meth:`judge_unique_records`."""
        return [_record(v) for v in await self.ajudge_unique(pairs)]

    def judge_records(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One :class:`Judgement` per pair, in order."""
        index, unique = self._plan(pairs)
        return self._spread(index, self.judge_unique_records(unique) if unique else [])

    async def ajudge_records(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """Async :meth:`judge_records`."""
        index, unique = self._plan(pairs)
        return self._spread(index, await self.ajudge_unique_records(unique) if unique else [])

    def judge(self, pairs: Sequence[Pair]) -> list[str | None]:
        """One verdict slug (or ``None``) per pair, in order."""
        index, unique = self._plan(pairs)
        return self._spread_verdicts(index, self.judge_unique(unique) if unique else [])

    async def ajudge(self, pairs: Sequence[Pair]) -> list[str | None]:
        """Async :meth:`judge`."""
        index, unique = self._plan(pairs)
        return self._spread_verdicts(index, await self.ajudge_unique(unique) if unique else [])

    def __call__(self, pairs: Sequence[Pair]) -> list[str | None]:
        return self.judge(pairs)

    def _plan(self, pairs: Sequence[Pair]) -> tuple[list[int], list[tuple[str, ...]]]:
        slots: dict[Hashable, int] = {}
        unique: list[tuple[str, ...]] = []
        index: list[int] = []
        plain_key = type(self).key is Judge.key  # the pair itself: no call per pair
        merges = self.merges
        for i, pair in enumerate(pairs):
            try:
                truth, prediction = pair
                question = None
            except (TypeError, ValueError):
                truth, prediction, question = _triple(i, pair)
            if not isinstance(truth, str):
                raise TypeError(f"pair {i}: ground truth must be a string, got {truth!r}")
            if prediction is None:
                index.append(-1)
                continue
            if not isinstance(prediction, str):
                raise TypeError(
                    f"pair {i}: prediction must be a string or None, got {prediction!r}"
                )
            item: tuple[str, ...] = (truth, prediction)
            if self.uses_question:
                if not isinstance(question, str):
                    raise TypeError(
                        f"pair {i}: judge {self.name!r} reads the question, which must be a "
                        f"string, got {question!r}"
                    )
                item = (truth, prediction, question)
            if not merges:
                index.append(len(unique))
                unique.append(item)
                continue
            key = item if plain_key else self.key(*item)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = len(unique)
                unique.append(item)
            index.append(slot)
        self.stats.pairs += len(index)
        self.stats.unique += len(unique)
        return index, unique

    def _spread(self, index: list[int], records: list[Judgement]) -> list[Judgement]:
        out = [NO_ANSWER if slot < 0 else records[slot] for slot in index]
        self.stats.missing += sum(r.verdict is None for r in out)
        return out

    def _spread_verdicts(self, index: list[int], verdicts: list[str | None]) -> list[str | None]:
        out = [None if slot < 0 else verdicts[slot] for slot in index]
        self.stats.missing += out.count(None)
        return out


def check_ladder(ladder: Ladder) -> Ladder:
    """``ladder`` itself, once it is a :class:`~rewardkit.Ladder`. Judges take ladder objects;
    a registered name is resolved where it enters (the registry, a spec, the command line).

    >>> check_ladder("binary")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: ladder must be a Ladder, got 'binary' (resolve a name with rewardkit.get_ladder...
    """
    if not isinstance(ladder, Ladder):
        hint = f" (resolve a name with rewardkit.get_ladder({ladder!r}))"
        shown = hint if isinstance(ladder, str) else ""
        raise TypeError(f"ladder must be a Ladder, got {ladder!r}{shown}")
    return ladder


def _triple(i: int, pair: object) -> tuple[Any, Any, Any]:
    """A (ground truth, prediction, question) triple, or the error naming pair ``i``."""
    items = tuple(pair) if isinstance(pair, (tuple, list)) else ()
    if len(items) != 3:
        raise TypeError(f"pair {i} is not a (ground truth, prediction[, question]) pair: {pair!r}")
    return items[0], items[1], items[2]


# A judge that gives only verdicts says the same thing for every pair with one verdict: one
# (immutable) record per verdict serves them all.
_RECORDS: dict[str | None, Judgement] = {None: Judgement(None, error="no verdict")}


def guarded(
    ladder: Ladder,
    pairs: Sequence[tuple[str, ...]],
    judge: Callable[[list[tuple[str, ...]]], list[Judgement]],
) -> list[Judgement]:
    """``judge(pairs)`` for the pairs whose prediction the ladder's answer guard admits; the
    others are never sent and get a ``no valid answer`` record saying why (for judges that put
    the prediction into a model's prompt)."""
    refused = refusals(ladder, pairs)
    if not refused:
        return judge(list(pairs))
    admitted = [p for i, p in enumerate(pairs) if i not in refused]
    return merged(refused, judge(admitted) if admitted else [], len(pairs))


def refusals(ladder: Ladder, pairs: Sequence[tuple[str, ...]]) -> dict[int, str]:
    """Why the ladder's answer guard refuses a pair's prediction, by the pair's index."""
    check = ladder.guard.check
    return {i: why for i, p in enumerate(pairs) if (why := check(p[1])) is not None}


def merged(refused: dict[int, str], sent: list[Judgement], n: int) -> list[Judgement]:
    """The ``n`` records of a batch: ``no valid answer`` where the guard refused the pair, the
    records of the pairs sent in their order elsewhere."""
    records = iter(sent)
    return [
        Judgement(None, error=f"no valid answer: {refused[i]}") if i in refused else next(records)
        for i in range(n)
    ]


def _record(verdict: str | None) -> Judgement:
    record = _RECORDS.get(verdict)
    if record is None:
        record = _RECORDS[verdict] = Judgement(verdict)
    return record
