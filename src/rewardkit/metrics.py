"""Metrics over verdicts: correctness, specificity, their harmonic mean, and best-of-N.

With ``n`` scored predictions of which ``n_wrong`` are wrong (not correct):

- correctness = 1 - n_wrong / n
- specificity = (sum of rung scores over the correct predictions) / (n - n_wrong) / max score
- hm = 2 * specificity * correctness / (specificity + correctness)

Missing verdicts are counted as ``unscored`` and left out of ``n``.

>>> s = score(["abstain"] * 10 + ["generic"] * 15 + ["less_specific"] * 5 + ["specific"] * 20)
>>> round(s.specificity, 3), s.correctness, round(s.hm, 3)
(0.675, 1.0, 0.806)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .ladders import MISSING, SPECIARL, Ladder

__all__ = ["Scores", "score", "group_best", "best_of_n", "grpo_diagnostics"]


@dataclass(frozen=True)
class Scores:
    """Metrics of a set of verdicts. The ratios are ``None`` when nothing was scored (n = 0)."""

    n: int
    correctness: float | None
    specificity: float | None
    hm: float | None
    counts: dict[str, int]
    unscored: int

    def to_dict(self) -> dict:
        return asdict(self)


def _codes(verdicts: Sequence[str | None] | np.ndarray, ladder: Ladder) -> np.ndarray:
    if isinstance(verdicts, np.ndarray) and np.issubdtype(verdicts.dtype, np.integer):
        return verdicts
    return ladder.encode(verdicts)


def score(verdicts: Sequence[str | None] | np.ndarray, ladder: Ladder = SPECIARL) -> Scores:
    """Metrics of verdict slugs (``None`` = missing) or of rung codes."""
    codes = _codes(verdicts, ladder)
    counts = np.bincount(codes[codes != MISSING], minlength=len(ladder))
    unscored = int(np.count_nonzero(codes == MISSING))
    n = int(counts.sum())
    by_slug = dict(zip(ladder.slugs, counts.tolist()))
    if n == 0:
        return Scores(0, None, None, None, by_slug, unscored)
    n_correct = int(counts[ladder.correct].sum())
    correctness = n_correct / n
    if n_correct == 0:
        specificity = 0.0
    else:
        total = float(counts[ladder.correct] @ ladder.scores[ladder.correct])
        specificity = total / n_correct / ladder.max_score
    denom = specificity + correctness
    hm = 0.0 if denom == 0 else 2 * specificity * correctness / denom
    return Scores(n, correctness, specificity, hm, by_slug, unscored)


def group_best(
    verdicts: Sequence[str | None] | np.ndarray, group_size: int, ladder: Ladder = SPECIARL
) -> np.ndarray:
    """The best rung (highest on the ladder) of each contiguous group, as codes; ``MISSING``
    for a group without any verdict."""
    codes = _codes(verdicts, ladder)
    if group_size < 1 or len(codes) % group_size:
        raise ValueError(f"{len(codes)} verdicts do not split into groups of {group_size}")
    return codes.reshape(-1, group_size).max(axis=1)


def best_of_n(
    verdicts: Sequence[str | None] | np.ndarray, group_size: int, ladder: Ladder = SPECIARL
) -> Scores:
    """Metrics of each group's best verdict (the best-of-N upper bound)."""
    return score(group_best(verdicts, group_size, ladder), ladder)


def grpo_diagnostics(judged: Any, rewards: np.ndarray, group_size: int) -> dict[str, float]:
    """GRPO health of a batch: ``zero_variance_groups``, the share of groups whose scored
    rewards are all equal (they give no learning signal); ``group_best_rung``, the mean ladder
    index of each group's best verdict; ``unscored_share`` and ``no_answer_share`` (shares of
    the batch). Registered as the built-in metric ``grpo``."""
    n = len(judged.codes)
    out = (
        {
            "unscored_share": float(np.count_nonzero((judged.codes == MISSING) & judged.found)) / n,
            "no_answer_share": float(np.count_nonzero(~judged.found)) / n,
        }
        if n
        else {}
    )
    if not n or group_size < 1 or n % group_size:
        return out
    r = np.asarray(rewards, dtype=np.float64).reshape(-1, group_size)
    lo = np.where(np.isnan(r), np.inf, r).min(axis=1)
    hi = np.where(np.isnan(r), -np.inf, r).max(axis=1)
    out["zero_variance_groups"] = float(np.mean(~(hi > lo)))
    best = group_best(np.where(judged.found, judged.codes, MISSING), group_size, judged.ladder)
    if (best != MISSING).any():
        out["group_best_rung"] = float(best[best != MISSING].mean())
    return out
