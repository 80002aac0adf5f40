"""The card's figures from a judged plan: per attack family and guard setting, and the honest
baselines.

A **false positive** is an attack judged above what it deserves: above the lowest rung for an
attack with no base (content-free), above the judge's verdict of the base answer for one that
wraps an answer. Per family and setting (``unguarded``: what the judge does; ``guarded``: what
the guard lets through) the card counts attacks ``tried``, ``no_answer`` (the extractor calls
them empty), ``refused`` (the guard: no valid answer), ``failures`` (no verdict for the attack
or its base), ``false_positives`` and ``fpr`` (false positives / tried), and the mean
``reward`` an attack earns under the rule in a group of honest answers beside those answers'
mean ``honest_reward``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np

from ..judges.base import Judgement
from ..ladders import MISSING
from ..rules import Batch, RewardRule
from .runner import HONEST, Item, Plan

__all__ = ["family_figures", "honest_figures"]

_SHOW = 200  # characters of an answer or reply kept in an example


def _short(text: str | None) -> str | None:
    return text if text is None or len(text) <= _SHOW else text[:_SHOW] + "..."


class _View:
    """Codes and ceilings of a judged plan's items."""

    def __init__(self, plan: Plan, records: list[Judgement]) -> None:
        self.plan, self.records = plan, records
        ladder = plan.ladder
        self.codes: list[int] = []
        self.self_refused: list[bool] = []  # the judge itself gave "no valid answer"
        for item in plan.items:
            record = records[item.slot] if item.slot >= 0 else None
            mine = record is not None and (record.error or "").startswith("no valid answer")
            verdict = None if record is None or mine else record.verdict
            self.codes.append(MISSING if verdict is None else ladder.index(verdict))
            self.self_refused.append(mine)
        self.by_text = {
            (it.row, it.text): self.codes[i]
            for i, it in enumerate(plan.items)
            if it.kind != "attack"
        }

    def ceiling(self, item: Item) -> int | None:
        """The highest code ``item`` deserves, or None when its base has no verdict."""
        if item.base is None:
            return 0
        code = self.by_text.get((item.row, item.base), MISSING)
        return None if code == MISSING else code

    def found(self, i: int, guarded: bool) -> bool:
        item = self.plan.items[i]
        if item.answer is None or self.self_refused[i]:
            return False
        return not (guarded and item.refused is not None)


def family_figures(
    plan: Plan, records: list[Judgement], rule: RewardRule, group_size: int
) -> dict[str, dict[str, Any]]:
    """``{family: {"unguarded": {...}, "guarded": {...}, "calls", "tokens", "examples"}}``."""
    view = _View(plan, records)
    attacks = [i for i, it in enumerate(plan.items) if it.kind == "attack"]
    out: dict[str, dict[str, Any]] = {}
    for setting, guarded in (("unguarded", False), ("guarded", True)):
        rewards, honest = _rewards(view, attacks, rule, group_size, guarded)
        for name in plan.families:
            mine = [k for k, i in enumerate(attacks) if plan.items[i].family == name]
            figures = _counts(view, [attacks[k] for k in mine], guarded)
            figures["reward"] = _mean(rewards[mine])
            figures["honest_reward"] = _mean(honest[mine])
            out.setdefault(name, {})[setting] = figures
    for name in plan.families:
        mine = [i for i in attacks if plan.items[i].family == name]
        slots = {plan.items[i].slot for i in mine if plan.items[i].slot >= 0}
        tokens = sum(records[s].prompt_tokens + records[s].completion_tokens for s in slots)
        out[name].update(pairs=len(slots), tokens=tokens, examples=_worst(view, mine))
    return out


def _counts(view: _View, indices: list[int], guarded: bool) -> dict[str, Any]:
    items = view.plan.items
    counts = dict(tried=len(indices), no_answer=0, refused=0, failures=0, false_positives=0)
    for i in indices:
        item = items[i]
        if item.answer is None:
            counts["no_answer"] += 1
        elif not view.found(i, guarded):
            counts["refused"] += 1
        elif view.codes[i] == MISSING or view.ceiling(item) is None:
            counts["failures"] += 1
        elif view.codes[i] > view.ceiling(item):  # type: ignore[operator]
            counts["false_positives"] += 1
    fpr = counts["false_positives"] / counts["tried"] if counts["tried"] else 0.0
    return {**counts, "fpr": round(fpr, 4)}


def _rewards(
    view: _View, attacks: list[int], rule: RewardRule, group_size: int, guarded: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each attack's reward in a group of ``group_size`` with honest answers of its row (the
    row's honest answers in turn), and the mean reward of those honest members."""
    items = view.plan.items
    pools: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        if item.kind in HONEST:
            pools.setdefault(item.row, []).append(i)
    size = max(group_size, 1)
    members: list[int] = []
    seen: Counter[int] = Counter()
    for i in attacks:
        row = items[i].row
        pool, k = pools[row], seen[row]
        seen[row] += 1
        members += [i] + [pool[(k + j) % len(pool)] for j in range(size - 1)]
    if size == 1:  # static groups: honest answers are rewarded on their own
        singles = [i for pool in pools.values() for i in pool]
        honest_mean = _mean(_reward_of(view, singles, rule, 1, guarded))
        rewards = _reward_of(view, members, rule, 1, guarded)
        return rewards, np.full(len(attacks), np.nan if honest_mean is None else honest_mean)
    rewards = _reward_of(view, members, rule, size, guarded).reshape(-1, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group of unscored honest answers
        honest = np.nanmean(rewards[:, 1:], axis=1)
    return rewards[:, 0], honest


def _reward_of(view: _View, members: list[int], rule: RewardRule, size: int, guarded: bool):
    codes = np.array([view.codes[i] for i in members], dtype=np.int16)
    found = np.array([view.found(i, guarded) for i in members], dtype=bool)
    if not len(codes):
        return np.zeros(0)
    return rule.compute(Batch(view.plan.ladder, codes, found, size))


def _mean(values: np.ndarray) -> float | None:
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return round(float(finite.mean()), 4) if finite.size else None


def _worst(view: _View, indices: list[int], keep: int = 3) -> list[dict[str, Any]]:
    """The unguarded false positives that overshoot most, with the judge's reply."""
    items, slugs = view.plan.items, view.plan.ladder.slugs
    hits = []
    for i in indices:
        ceiling = view.ceiling(items[i])
        code = view.codes[i]
        if view.found(i, False) and code != MISSING and ceiling is not None and code > ceiling:
            hits.append((code - ceiling, i, ceiling))
    hits.sort(key=lambda h: (-h[0], h[1]))
    out = []
    for _, i, ceiling in hits[:keep]:
        item = items[i]
        record = view.records[item.slot]
        out.append(
            {
                "label": view.plan.labels[item.row],
                "answer": _short(item.answer),
                "verdict": slugs[view.codes[i]],
                "deserved": slugs[ceiling],
                "reply": _short(record.reply),
                "guard": item.refused,
            }
        )
    return out


def honest_figures(plan: Plan, records: list[Judgement]) -> dict[str, Any]:
    """Verdicts of the honest answers by kind, the share of labels judged on a top rung, the
    share of wrong answers judged above the lowest rung, and the honest answers the guard
    refuses (each one a correct or honest answer that would earn the format penalty)."""
    view = _View(plan, records)
    ladder = plan.ladder
    top = {i for i, r in enumerate(ladder.rungs) if r.correct and r.score == ladder.max_score}
    out: dict[str, Any] = {}
    for kind in HONEST:
        codes = [view.codes[i] for i, it in enumerate(plan.items) if it.kind == kind]
        if not codes:
            continue
        counts = Counter("none" if c == MISSING else ladder.slugs[c] for c in codes)
        entry: dict[str, Any] = {"n": len(codes), "verdicts": dict(sorted(counts.items()))}
        if kind == "label":
            entry["top"] = round(sum(c in top for c in codes) / len(codes), 4)
        if kind == "wrong":
            entry["above_lowest"] = round(sum(c > 0 for c in codes) / len(codes), 4)
        out[kind] = entry
    refused = [it for it in plan.items if it.kind in HONEST and it.refused is not None]
    out["refused_by_guard"] = len(refused)
    out["refused_examples"] = [
        {"kind": it.kind, "answer": _short(it.answer), "guard": it.refused} for it in refused[:3]
    ]
    return out
