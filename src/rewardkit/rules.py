"""Reward rules: verdicts in, rewards out - over whole batches of groups at once.

A batch is ``n`` completions in contiguous groups of ``group_size`` (a GRPO group is the
``group_size`` answers sampled for one prompt). Rules return a float array in which NaN
marks an *unscored* completion (its verdict is missing); :func:`to_list` turns that into
``None``, which trainers such as TRL skip. Nothing is ever silently scored 0.

>>> rule = SpeciaRL()
>>> rule(["generic", "specific", "wrong", "less_specific"], group_size=4)
[0.0, 1.0, 0.0, 0.0]
>>> rule(["generic", None, "wrong", "abstain"], group_size=4)  # a judge failure is unscored
[1.0, None, 0.0, 0.0]
>>> (Exact() + 0.5 * Format())(["specific", "generic"], answer_found=[True, False])
[1.5, -1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .ladders import MISSING, SPECIARL, Ladder
from .options import Option, Options
from .records import Batch

__all__ = [
    "Batch",
    "RewardRule",
    "SpeciaRL",
    "Exact",
    "Correct",
    "Graded",
    "Format",
    "WeightedSum",
    "to_list",
]


#: The two policies every ladder rule takes (:class:`RewardRule`).
POLICY = Options(
    Option(
        "no_answer",
        float,
        -1.0,
        "reward of a completion with no answer found ('unscored': unscored)",
        nullable=True,
    ),
    Option(
        "unscored",
        float,
        None,
        "what an unscored reward (no verdict) becomes (default: it stays unscored)",
    ),
)


def to_list(rewards: np.ndarray) -> list[float | None]:
    """Rewards as Python floats, with ``None`` for unscored (NaN) entries."""
    return [None if r != r else r for r in np.asarray(rewards, dtype=np.float64).tolist()]


class RewardRule:
    """Base class of reward rules.

    Subclasses implement :meth:`core` on the judged rows. The base class applies the two
    policies every ladder rule shares:

    - ``no_answer``: the reward of a completion with no extractable answer (default -1, the
      SpeciaRL format penalty). Its verdict is ignored and it never sets a group's reference.
      ``None`` makes it unscored.
    - ``unscored``: what a missing verdict becomes (default ``None``: unscored, skipped by
      the trainer). A number turns unscored into that reward.
    """

    name: str = "rule"
    group_relative: bool = False
    #: What the rule's constructor takes (:mod:`rewardkit.options`): its flags on the command
    #: line, the checks of a spec's ``rule_options``.
    options: Options = POLICY

    def __init__(self, *, no_answer: float | None = -1.0, unscored: float | None = None) -> None:
        self.no_answer = _finite(no_answer, "no_answer", optional=True)
        self.unscored = _finite(unscored, "unscored", optional=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(no_answer={self.no_answer}, unscored={self.unscored})"

    def core(self, ladder: Ladder, codes: np.ndarray, group_size: int) -> np.ndarray:
        """Rewards for ``codes`` (``MISSING`` where there is no verdict to use); NaN marks
        unscored entries."""
        raise NotImplementedError

    def compute(self, batch: Batch) -> np.ndarray:
        """Rewards for a batch as a float64 array, NaN where unscored."""
        found = batch.answer_found
        all_found = found.all()
        codes = batch.codes if all_found else np.where(found, batch.codes, MISSING)
        rewards = np.asarray(self.core(batch.ladder, codes, batch.group_size), dtype=np.float64)
        if self.unscored is not None:
            rewards[np.isnan(rewards)] = self.unscored
        if not all_found:
            rewards[~found] = np.nan if self.no_answer is None else self.no_answer
        return rewards

    def parts(self, batch: Batch) -> dict[str, np.ndarray]:
        """Rewards per term (a plain rule is one term, under its name)."""
        return {self.name: self.compute(batch)}

    def __call__(
        self,
        verdicts: Sequence[str | None],
        *,
        group_size: int = 1,
        answer_found: Sequence[bool] | None = None,
        ladder: Ladder = SPECIARL,
        texts: Sequence[str] | None = None,
        lengths: Sequence[int] | None = None,
    ) -> list[float | None]:
        """Convenience: rewards for verdict slugs as a list (``None`` = unscored); ``texts``
        and token ``lengths`` of the completions for rules that read them."""
        batch = Batch.from_verdicts(
            verdicts,
            ladder=ladder,
            group_size=group_size,
            answer_found=answer_found,
            texts=texts,
            lengths=lengths,
        )
        return to_list(self.compute(batch))

    # Composition: ``rule_a + 0.5 * rule_b`` is a weighted sum.
    def __mul__(self, weight: float) -> WeightedSum:
        return WeightedSum([(self, float(weight))])

    __rmul__ = __mul__

    def __add__(self, other: RewardRule) -> WeightedSum:
        if not isinstance(other, RewardRule):
            return NotImplemented
        return WeightedSum(_terms(self) + _terms(other))


def _finite(value, what: str, *, optional: bool = False):
    """``value`` as a finite float (or ``None`` where allowed); a clear error otherwise."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number{' or None' if optional else ''}, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def _terms(rule: RewardRule) -> list[tuple[RewardRule, float]]:
    return list(rule.terms) if isinstance(rule, WeightedSum) else [(rule, 1.0)]


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` with NaN where a code is MISSING."""
    return np.take(np.append(table, np.nan), codes)  # MISSING (-1) picks the NaN


class SpeciaRL(RewardRule):
    """SpeciaRL's dynamic, group-relative reward.

    The reference c* is the best correct rung's score in the group (rungs of equal score tie,
    so More specific counts as Specific). A completion earns 1 if it is correct and its score
    is at least c*, else 0. A group with no correct verdict earns 0 throughout. Missing
    verdicts are unscored and the rest of the group is rewarded against the verdicts that exist.
    """

    name = "speciarl"
    group_relative = True

    def core(self, ladder: Ladder, codes: np.ndarray, group_size: int) -> np.ndarray:
        # Level per code: the rung's score if correct, else -inf; the extra last entry is
        # what MISSING (-1) picks, so one take() serves every row.
        table = np.append(np.where(ladder.correct, ladder.scores, -np.inf), -np.inf)
        level = np.take(table, codes).reshape(-1, group_size)
        reference = level.max(axis=1, keepdims=True)
        rewards = ((level >= reference) & (level != -np.inf)).ravel().astype(np.float64)
        rewards[codes == MISSING] = np.nan
        return rewards


class _TableRule(RewardRule):
    """A static rule: one reward per rung."""

    def table(self, ladder: Ladder) -> np.ndarray:
        raise NotImplementedError

    def core(self, ladder: Ladder, codes: np.ndarray, group_size: int) -> np.ndarray:
        return _lookup(self.table(ladder), codes)


class Exact(_TableRule):
    """1 for the top-scoring rungs (Specific and More specific on the SpeciaRL ladder), else 0:
    the binary exact-match reward (the paper's RFT baseline)."""

    name = "exact"

    def table(self, ladder: Ladder) -> np.ndarray:
        return (ladder.correct & (ladder.scores == ladder.max_score)).astype(np.float64)


class Correct(_TableRule):
    """1 for any correct (non-wrong) rung, else 0."""

    name = "correct"

    def table(self, ladder: Ladder) -> np.ndarray:
        return ladder.correct.astype(np.float64)


class Graded(_TableRule):
    """A reward per rung. By default each correct rung earns ``score / max_score`` and a wrong
    rung 0: on the SpeciaRL ladder 1, 1, 0.75, 0.5, 0.25, 0 from More specific to Wrong.

    >>> from rewardkit.ladders import BINARY
    >>> Graded(scale={"correct": 1.0, "wrong": -0.5})(["wrong"], ladder=BINARY)
    [-0.5]
    """

    name = "graded"
    options = Options(
        Option(
            "scale",
            dict,
            None,
            "reward per rung slug, a JSON object (default: score / max score, 0 when wrong)",
        ),
        POLICY,
    )

    def __init__(self, scale: Mapping[str, float] | None = None, **policy: float | None) -> None:
        super().__init__(**policy)
        self.scale = (
            None
            if scale is None
            else {k: _finite(v, f"graded scale[{k!r}]") for k, v in dict(scale).items()}
        )

    def table(self, ladder: Ladder) -> np.ndarray:
        if self.scale is None:
            return np.where(ladder.correct, ladder.scores / ladder.max_score, 0.0)
        unknown = set(self.scale) - set(ladder.slugs)
        if unknown:
            raise ValueError(
                f"graded scale names unknown rungs {sorted(unknown)} for ladder {ladder.name!r}"
            )
        missing = [s for s in ladder.slugs if s not in self.scale]
        if missing:
            raise ValueError(
                f"graded scale has no value for rungs {missing} of ladder {ladder.name!r}"
            )
        return np.array([float(self.scale[s]) for s in ladder.slugs])


class Format(RewardRule):
    """A format reward: ``found`` when an answer could be extracted, else ``missing``.
    It needs no verdict."""

    name = "format"
    options = Options(
        Option("found", float, 1.0, "reward when an answer was found"),
        Option("missing", float, 0.0, "reward when no answer was found"),
    )

    def __init__(self, found: float = 1.0, missing: float = 0.0) -> None:
        super().__init__(no_answer=_finite(missing, "missing"))
        self.found = _finite(found, "found")

    def core(self, ladder: Ladder, codes: np.ndarray, group_size: int) -> np.ndarray:
        return np.full(len(codes), self.found, dtype=np.float64)


class WeightedSum(RewardRule):
    """A weighted sum of rules; each term applies its own policies first, and a term that is
    unscored makes the sum unscored.

    >>> WeightedSum([(Correct(), 1.0), (Format(), 0.5)])(["generic"])
    [1.5]
    """

    name = "weighted_sum"
    options = Options()  # built from rule objects, not registered

    def __init__(self, terms: Sequence[tuple[RewardRule, float]]) -> None:
        super().__init__(no_answer=None)
        if not terms:
            raise ValueError("a weighted sum needs at least one rule")
        for rule, weight in terms:
            if not isinstance(rule, RewardRule):
                raise TypeError(f"expected a RewardRule, got {type(rule).__name__}")
            if not np.isfinite(weight):
                raise ValueError(f"weight of {rule.name!r} must be finite, got {weight}")
        self.terms = tuple(terms)
        self.group_relative = any(rule.group_relative for rule, _ in self.terms)
        self.name = "+".join(rule.name for rule, _ in self.terms)

    def __repr__(self) -> str:
        return " + ".join(f"{w:g} * {rule!r}" for rule, w in self.terms)

    def parts(self, batch: Batch) -> dict[str, np.ndarray]:
        """Each term's own rewards (before its weight), by name (``exact``, ``format``; a
        name used twice gets ``#2``), so a trainer can log every part of the sum.

        >>> batch = Batch.from_verdicts(["specific", "generic"], answer_found=[True, False])
        >>> {k: v.tolist() for k, v in (Exact() + 0.5 * Format()).parts(batch).items()}
        {'exact': [1.0, -1.0], 'format': [1.0, 0.0]}
        """
        out: dict[str, np.ndarray] = {}
        for rule, _ in self.terms:
            name, k = rule.name, 1
            while name in out:
                k += 1
                name = f"{rule.name}#{k}"
            out[name] = rule.compute(batch)
        return out

    def compute(self, batch: Batch) -> np.ndarray:
        total = np.zeros(len(batch), dtype=np.float64)
        for (_, weight), values in zip(self.terms, self.parts(batch).values()):
            total += weight * values
        return total
