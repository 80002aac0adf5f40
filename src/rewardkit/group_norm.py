"""Per-reward group normalisation: each term normalised within its GRPO group, then weighted.

With several rewards of different scales (a correctness reward in {0, 1}, a format reward in
{-1, 1}, a length penalty in [-1, 0]), a plain weighted sum lets the term with the largest
spread decide the advantage. :class:`GroupNormalised` (GDPO-style decoupled normalisation)
normalises each term within each group first - ``"std"``: (x - group mean) / group std, 0 for a
group whose values are all equal; ``"rank"``: the value's rank in its group (ties averaged)
mapped to [-0.5, 0.5] - and returns the weighted sum of the normalised terms. The returned
total is exactly the weighted sum of the ``<term>/norm`` parts, so what a trainer logs as the
reward is what it optimises. A term that is unscored makes the total unscored and is left out
of its group's statistics.

>>> from rewardkit.rules import Correct, Format
>>> from rewardkit.rules import Batch
>>> rule = GroupNormalised([(Correct(), 1.0), (Format(), 0.5)])
>>> batch = Batch.from_verdicts(["specific", "wrong", "wrong", "generic"], group_size=4,
...                             answer_found=[True, True, False, True])
>>> [round(r, 3) for r in rule.compute(batch).tolist()]
[1.193, -0.013, -2.374, 1.193]
>>> {k: v.tolist() for k, v in rule.parts(batch).items()}["correct"]
[1.0, 0.0, -1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rules import Batch, RewardRule, WeightedSum

__all__ = ["GroupNormalised", "normalise"]

_EPS = 1e-8


def normalise(values: np.ndarray, group_size: int, how: str = "std") -> np.ndarray:
    """``values`` normalised within contiguous groups of ``group_size``; NaN stays NaN and is
    left out of its group's statistics.

    >>> normalise(np.array([1.0, 0.0, 0.0, 2.0, 2.0, 2.0]), 3).round(3).tolist()
    [1.414, -0.707, -0.707, 0.0, 0.0, 0.0]
    >>> normalise(np.array([3.0, 1.0, 2.0, np.nan]), 4, "rank").tolist()
    [0.5, -0.5, 0.0, nan]
    """
    if len(values) % group_size:
        raise ValueError(f"{len(values)} rewards do not split into groups of {group_size}")
    groups = values.reshape(-1, group_size)
    scored = ~np.isnan(groups)
    if how == "std":
        count = scored.sum(axis=1, keepdims=True)
        safe = np.where(scored, groups, 0.0)
        mean = safe.sum(axis=1, keepdims=True) / np.maximum(count, 1)
        var = (np.where(scored, groups - mean, 0.0) ** 2).sum(axis=1, keepdims=True)
        std = np.sqrt(var / np.maximum(count, 1))
        out = np.where(std > _EPS, (groups - mean) / np.where(std > _EPS, std, 1.0), 0.0)
    elif how == "rank":
        out = np.array([_ranks(row) for row in groups])
    else:
        raise ValueError(f"normalisation must be 'std' or 'rank', got {how!r}")
    return np.where(scored, out, np.nan).ravel()


def _ranks(row: np.ndarray) -> np.ndarray:
    """Average ranks of the scored entries, mapped to [-0.5, 0.5] (0 for one entry)."""
    out = np.full(len(row), np.nan)
    idx = np.flatnonzero(~np.isnan(row))
    if len(idx) == 0:
        return out
    values = row[idx]
    ranks = np.array([(values < v).sum() + ((values == v).sum() - 1) / 2 for v in values])
    out[idx] = ranks / (len(idx) - 1) - 0.5 if len(idx) > 1 else 0.0
    return out


class GroupNormalised(RewardRule):
    """Weighted sum of terms, each normalised within its group first (``how``: ``"std"`` or
    ``"rank"``). ``parts`` keeps each term's raw rewards (``<term>``) and normalised ones
    (``<term>/norm``); the total is exactly ``sum(weight * parts[<term>/norm])``."""

    name = "group_normalised"
    group_relative = True

    def __init__(self, terms: Sequence[tuple[RewardRule, float]], how: str = "std") -> None:
        super().__init__(no_answer=None)
        if how not in ("std", "rank"):
            raise ValueError(f"normalisation must be 'std' or 'rank', got {how!r}")
        self.sum = WeightedSum(terms)  # checks the terms and names the parts
        self.terms, self.how = self.sum.terms, how
        self.name = f"{how}_normalised({self.sum.name})"

    def __repr__(self) -> str:
        return f"GroupNormalised({self.sum!r}, how={self.how!r})"

    def parts(self, batch: Batch) -> dict[str, np.ndarray]:
        raw = self.sum.parts(batch)
        out = dict(raw)
        for name, values in raw.items():
            out[f"{name}/norm"] = normalise(values, batch.group_size, self.how)
        return out

    def compute(self, batch: Batch) -> np.ndarray:
        parts = self.parts(batch)
        total = np.zeros(len(batch), dtype=np.float64)
        for (_, weight), name in zip(self.terms, self.sum.parts(batch)):
            total += weight * parts[f"{name}/norm"]
        return total
