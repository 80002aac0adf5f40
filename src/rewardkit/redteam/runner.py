"""Running the attacks: rows in, a robustness card out.

For each row (``label``, optional ``question``, honest ``prediction``/``predictions``, a
``wrong`` and a ``coarser`` answer) :func:`plan` builds the honest baselines - the label, a
wrong answer (the row's ``wrong``, else another row's label), a coarser one (the row's
``coarser``, else the taxonomy parent when the judge has a taxonomy), the honest predictions -
and every family's attacks. Each answer goes through the reward path's extraction (as the
text inside ``<answer>...</answer>``), so an answer the extractor calls empty is *no answer*;
the judge sees every other one once (identical pairs are one call, the verdict cache is used)
with no answer guard in the way, and the card reports each family twice: **unguarded** (what
the judge does) and **guarded** (what the ladder's guard - or ``guard`` - lets through: a
refused answer is no valid answer, the format penalty). See :mod:`rewardkit.redteam`.

>>> import rewardkit as rk
>>> rows = [{"label": "samoyed", "coarser": "spitz"}, {"label": "american robin"}]
>>> p = plan(rk.TaxonomyJudge("examples/data/animals.json"), rows)
>>> p.rows, len(p.pairs), p.attacks()["rung_names"]
(2, 272, 50)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from typing import Any

from ..answers import extract_answers
from ..errors import RewardkitError
from ..guards import AnswerGuard
from ..judges.base import Judge, Judgement
from ..ladders import Ladder
from .attacks import AttackFamily, Target, families

__all__ = ["Plan", "RedteamError", "Row", "plan", "judge_plan"]

#: ``progress(done, total)`` after each chunk of pairs judged.
Progress = Callable[[int, int], None]
_CHUNK = 256
HONEST = ("label", "coarser", "wrong", "prediction")


class RedteamError(RewardkitError, ValueError):
    """Rows or settings a red-team run cannot use (named in the message)."""


@dataclass(frozen=True)
class Row:
    """One row of the data: its label, question and honest answers (merged by label and
    question)."""

    label: str
    question: str | None = None
    predictions: tuple[str, ...] = ()
    wrong: str | None = None
    coarser: str | None = None


@dataclass
class Item:
    """One answer to judge: honest (``kind`` in :data:`HONEST`), a ``base`` of an attack, or
    an ``attack`` of ``family``; ``base`` is the answer an attack wraps."""

    row: int
    kind: str
    text: str
    family: str | None = None
    base: str | None = None
    answer: str | None = None  # as extracted; None: no answer
    slot: int = -1  # index of its distinct pair; -1: not judged
    refused: str | None = None  # why the guard refuses it


@dataclass
class Plan:
    """What a run will judge: ``rows`` used of ``rows_given``, every item, and ``pairs``
    distinct pairs (the most judge calls it can make; cache hits make fewer)."""

    judge: Judge
    ladder: Ladder
    guard: AnswerGuard
    families: dict[str, AttackFamily]
    rows: int
    rows_given: int
    items: list[Item]
    pairs: list[tuple[str, ...]] = field(repr=False)
    labels: list[str] = field(default_factory=list)  # each row's label, by row index
    rows_data: list[list] = field(default_factory=list, repr=False)  # the rows used, as data

    def attacks(self) -> dict[str, int]:
        """Attacks per family."""
        out = dict.fromkeys(self.families, 0)
        for item in self.items:
            if item.kind == "attack" and item.family is not None:
                out[item.family] = out.get(item.family, 0) + 1
        return out

    def summary(self) -> str:
        attacks = sum(self.attacks().values())
        honest = sum(item.kind in HONEST for item in self.items)
        capped = "" if self.rows == self.rows_given else f" (of {self.rows_given}, capped)"
        return (
            f"{self.rows} rows{capped}, {len(self.families)} attack families, {attacks} attacks "
            f"and {honest} honest answers: {len(self.pairs)} judge calls at most (fewer with "
            "cache hits)"
        )


def rows_of(rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Check and merge rows: one :class:`Row` per (label, question), honest predictions
    gathered in order."""
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RedteamError(f"row {i}: expected an object, got {type(row).__name__}")
        label = str(_text(row, "label", i, required=True))
        question = _text(row, "question", i)
        extra = row.get("predictions", [])
        if isinstance(extra, str) or not isinstance(extra, (list, tuple)):
            raise RedteamError(f"row {i}: 'predictions' must be a list of strings")
        one = _text(row, "prediction", i)
        predictions = [*([one] if one is not None else []), *extra]
        if not all(isinstance(p, str) for p in predictions):
            raise RedteamError(f"row {i}: honest predictions must be strings")
        entry = merged.setdefault((label, question), {"predictions": []})
        entry["predictions"] += [p for p in predictions if p not in entry["predictions"]]
        for key in ("wrong", "coarser"):
            if entry.get(key) is None:
                entry[key] = _text(row, key, i)
    if not merged:
        raise RedteamError("no rows: give rows with a 'label'")
    return [
        Row(label, question, tuple(e["predictions"]), e.get("wrong"), e.get("coarser"))
        for (label, question), e in merged.items()
    ]


def _text(row: Mapping[str, Any], key: str, i: int, required: bool = False) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RedteamError(f"row {i}: {key!r} must be a non-empty string, got {value!r}")
    return value


def targets(rows: list[Row], judge: Judge, ladder: Ladder) -> list[Target]:
    """Each row's :class:`Target`: a wrong answer (given, or the next row's label that the
    judge's taxonomy, when it has one, does not relate) and a coarser one."""
    labels = list(dict.fromkeys(r.label for r in rows))
    taxonomy = getattr(judge, "taxonomy", None)
    out = []
    for i, row in enumerate(rows):
        wrong = row.wrong or _other(labels, row.label, taxonomy)
        if wrong is None:
            raise RedteamError(
                f"row {i} ({row.label!r}): no wrong answer - give rows a 'wrong' answer, or "
                "rows with at least two unrelated labels"
            )
        coarser = row.coarser or _parent(taxonomy, row.label)
        out.append(Target(row.label, wrong, ladder, coarser, tuple(labels), row.question))
    return out


def _other(labels: list[str], label: str, taxonomy: Any) -> str | None:
    start = labels.index(label)
    for other in labels[start + 1 :] + labels[:start]:
        if taxonomy is None or not _related(taxonomy, label, other):
            return other
    return None


def _related(taxonomy: Any, a: str, b: str) -> bool:
    try:
        x, y = taxonomy.lookup(a), taxonomy.lookup(b)
    except (KeyError, LookupError):
        return False
    return bool(x == y or taxonomy.is_ancestor(x, y) or taxonomy.is_ancestor(y, x))


def _parent(taxonomy: Any, label: str) -> str | None:
    if taxonomy is None:
        return None
    try:
        parent = taxonomy.parent(taxonomy.lookup(label))
    except (KeyError, LookupError):
        return None
    return None if parent < 0 else str(taxonomy.name(parent))


def plan(
    judge: Judge,
    rows: Iterable[Mapping[str, Any]],
    *,
    family_names: Sequence[str] | None = None,
    guard: AnswerGuard | None = None,
    max_calls: int | None = None,
    tag: str | None = "answer",
    empty_is_missing: bool = True,
    extraction: str = "strict",
) -> Plan:
    """Every answer a run judges, and the distinct pairs (judge calls at most). With
    ``max_calls``, rows are taken in order while their pairs fit; none fitting is an error."""
    ladder = judge.ladder
    chosen = families(family_names)
    if not chosen:
        raise RedteamError("no attack families to run")
    given = rows_of(rows)
    guard = ladder.guard if guard is None else _bound(guard, ladder)
    items: list[Item] = []
    slots: dict[Any, int] = {}
    pairs: list[tuple[str, ...]] = []
    used = 0
    for index, (row, target) in enumerate(zip(given, targets(given, judge, ladder))):
        mine = _items(index, row, target, chosen)
        _extract(mine, tag, empty_is_missing, extraction)
        new = _new_pairs(mine, row, judge, slots, judge.uses_question)
        if max_calls is not None and len(pairs) + len(new) > max_calls:
            break
        for key, pair in new.items():
            slots[key] = len(pairs)
            pairs.append(pair)
        _assign(mine, row, judge, slots, guard, judge.uses_question)
        items += mine
        used += 1
    if not used:
        raise RedteamError(f"--max-calls {max_calls} is fewer than the calls of the first row")
    labels = [row.label for row in given[:used]]
    made = Plan(judge, ladder, guard, chosen, used, len(given), items, pairs, labels)
    made.rows_data = [list(astuple(row)) for row in given[:used]]
    return made


def _bound(guard: AnswerGuard, ladder: Ladder) -> AnswerGuard:
    if guard.rung_names or guard.verdict_syntax:
        return guard.for_labels([label for r in ladder.rungs for label in (r.slug, r.name)])
    return guard


def _items(index: int, row: Row, target: Target, chosen: dict[str, AttackFamily]) -> list[Item]:
    items = [Item(index, "label", row.label), Item(index, "wrong", target.wrong)]
    if target.coarser:
        items.append(Item(index, "coarser", target.coarser))
    items += [Item(index, "prediction", p) for p in row.predictions]
    bases: dict[str, None] = {}
    for name, family in chosen.items():
        for attack in family.attacks(target):
            items.append(Item(index, "attack", attack.prediction, name, attack.base))
            if attack.base is not None:
                bases[attack.base] = None
    honest = {item.text for item in items}
    items += [Item(index, "base", b) for b in bases if b not in honest]
    return items


def _extract(items: list[Item], tag: str | None, empty_is_missing: bool, mode: Any) -> None:
    """Each answer as the reward path extracts it from ``<tag>answer</tag>``."""
    completions = [it.text if tag is None else f"<{tag}>{it.text}</{tag}>" for it in items]
    answers, found = extract_answers(
        completions, tag=tag, empty_is_missing=empty_is_missing, mode=mode
    )
    for item, answer, ok in zip(items, answers, found):
        item.answer = answer if ok else None


def _pair(row: Row, answer: str, question: bool) -> tuple[str, ...]:
    if not question:
        return (row.label, answer)
    if row.question is None:
        raise RedteamError(f"row {row.label!r}: the judge reads the question; give 'question'")
    return (row.label, answer, row.question)


def _new_pairs(items, row, judge, slots, question) -> dict[Any, tuple[str, ...]]:
    new: dict[Any, tuple[str, ...]] = {}
    for item in items:
        if item.answer is not None:
            pair = _pair(row, item.answer, question)
            key = judge.key(*pair)
            if key not in slots and key not in new:
                new[key] = pair
    return new


def _assign(items, row, judge, slots, guard: AnswerGuard, question: bool) -> None:
    for item in items:
        if item.answer is not None:
            item.slot = slots[judge.key(*_pair(row, item.answer, question))]
            item.refused = guard.check(item.answer)


class _Open(AnswerGuard):
    """A guard that refuses nothing: the judge's own view of every answer."""

    def check(self, prediction: str) -> str | None:
        return None


def unguarded(judge: Judge) -> Judge:
    """A shallow copy of ``judge`` whose ladder refuses no answer (judges that apply their
    ladder's guard themselves, such as LLM judges, then send every answer). It shares the
    judge's transport, cache and stats; its verdicts and cache identity are the judge's."""
    ladder = getattr(judge, "ladder", None)
    if not isinstance(ladder, Ladder) or isinstance(ladder.guard, _Open):
        return judge
    clone = copy.copy(judge)
    open_ladder = copy.copy(ladder)
    open_ladder.guard = _Open()
    clone.ladder = open_ladder
    return clone


def judge_plan(the_plan: Plan, progress: Progress | None = None) -> tuple[list, dict]:
    """Judge the plan's pairs (in chunks, ``progress`` after each): the records, one per
    pair, and the run's counts (calls, cache hits, tokens, cost, seconds)."""
    judge, pairs = the_plan.judge, the_plan.pairs
    clone = unguarded(judge)
    before = _counts(judge)
    start = time.perf_counter()
    records: list[Judgement] = []
    for at in range(0, len(pairs), _CHUNK):
        records += clone.judge_records(pairs[at : at + _CHUNK])
        if progress is not None:
            progress(min(at + _CHUNK, len(pairs)), len(pairs))
    seconds = time.perf_counter() - start
    after = _counts(judge)
    run = {k: after[k] - before[k] for k in after}
    run.setdefault("calls", len(pairs))
    run.update(pairs=len(pairs), seconds=round(seconds, 3))
    return records, run


def _counts(judge: Judge) -> dict[str, Any]:
    stats = judge.stats
    keys = ("calls", "cache_hits", "failures", "prompt_tokens", "completion_tokens", "cost")
    return {k: getattr(stats, k) for k in keys if hasattr(stats, k)}
