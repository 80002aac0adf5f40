"""The value types every layer passes around, at the bottom of the import graph.

A judge's :class:`Judgement` per pair and its running :class:`JudgeStats` (:class:`LLMStats`
for model judges, :class:`EndpointStats` per server, :class:`CacheStats` per verdict cache);
a batch's :class:`Judged` answers and verdicts and the :class:`Batch` a reward rule reads; a
:class:`Member`'s reward when groups are assembled one sample at a time. They import nothing of
rewardkit but the ladders; the modules that use them re-export them under their old names.

>>> Batch.from_verdicts(["generic", None], group_size=2).codes.tolist()
[2, -1]
>>> Member.all([1.0, None, 0.0], partial=False)[0]
Member(reward=1.0, partial=False, flat=False)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .ladders import MISSING, SPECIARL, Ladder

__all__ = [
    "Judgement",
    "JudgeStats",
    "LLMStats",
    "EndpointStats",
    "CacheStats",
    "Judged",
    "Batch",
    "Member",
    "SampleResult",
]


@dataclass
class JudgeStats:
    """Running counts: ``pairs`` seen, ``unique`` pairs judged, ``missing`` verdicts returned
    (no answer or judge failure)."""

    pairs: int = 0
    unique: int = 0
    missing: int = 0


@dataclass(frozen=True)
class Judgement:
    """What a judge said about one pair: the ``verdict`` (``None`` when there is none), the
    raw ``reply`` of an LLM judge (truncated), the ``error`` that left it without a verdict,
    tokens used, and whether it came from the cache."""

    verdict: str | None
    reply: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False


@dataclass
class LLMStats(JudgeStats):
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    off_ladder: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    shared: int = 0  # pairs another batch was judging at the time: awaited, not judged again
    refused: int = 0  # predictions the ladder's answer guard refused: never sent
    errors: dict = field(default_factory=dict)  # cause -> count


@dataclass
class EndpointStats:
    """One server of a judge: calls made, failures, requests in flight, and whether it is out
    (``down_until``, after repeated connection failures)."""

    calls: int = 0
    failures: int = 0
    in_flight: int = 0
    consecutive: int = 0
    down_until: float = 0.0
    ejections: int = 0


@dataclass
class CacheStats:
    """What a verdict cache met: ``junk`` values read back that were not verdicts (misses),
    ``outages`` of a shared store (each logged once) and ``unavailable`` operations that
    failed or were skipped while it was away (the pairs were judged without it)."""

    junk: int = 0
    outages: int = 0
    unavailable: int = 0


@dataclass(frozen=True)
class Judged:
    """Answers and verdicts of a batch: ``codes`` are rung codes (``MISSING`` where there
    is no verdict), ``found`` flags completions whose answer could be extracted, ``records``
    the judge's :class:`~rewardkit.judges.base.Judgement` per completion (reply, error)."""

    ladder: Ladder
    answers: list[str | None]
    found: np.ndarray
    codes: np.ndarray
    records: list[Judgement] = field(default_factory=list, compare=False, repr=False)
    #: The completions as text and their lengths in tokens, for rules that read them
    #: (format and length shaping); ``None`` when not known.
    texts: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    lengths: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def verdicts(self) -> list[str | None]:
        return self.ladder.decode(self.codes)

    @property
    def outcomes(self) -> list[str]:
        """Per completion: its verdict slug, ``"no_answer"`` or ``"unscored"`` (for logs)."""
        return [
            "no_answer" if not f else "unscored" if v is None else v
            for v, f in zip(self.verdicts, self.found.tolist())
        ]

    @property
    def errors(self) -> list[str | None]:
        """Per completion: why it has no verdict (``"no answer"``, a judge failure), or None."""
        if not self.records:
            return [None if c != MISSING else "no verdict" for c in self.codes.tolist()]
        return [r.error for r in self.records]

    @property
    def correct(self) -> np.ndarray:
        """Per completion: an answer was found and judged on a correct rung."""
        return self.found & (self.codes != MISSING) & self.ladder.correct[self.codes]

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class Batch:
    """Verdicts for ``n`` completions in contiguous groups of ``group_size``.

    ``codes`` are rung indices on ``ladder`` (``MISSING`` = -1 where the judge gave no
    verdict); ``answer_found`` is False where no answer could be extracted. Optional, for
    rules that read the completions themselves (format and length shaping): ``texts``, the
    completions as text, and ``lengths``, their lengths in tokens.
    """

    ladder: Ladder
    codes: np.ndarray
    answer_found: np.ndarray
    group_size: int = 1
    texts: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    lengths: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        found = np.asarray(self.answer_found)
        if found.dtype != bool:
            bad = next(
                (x for x in found.ravel().tolist() if not isinstance(x, bool)),
                found.dtype,
            )
            raise TypeError(f"answer_found must be true/false flags, got {bad!r}")
        if codes.ndim != 1 or found.shape != codes.shape:
            raise ValueError(
                f"codes and answer_found must be 1-D and of equal length, got shapes "
                f"{codes.shape} and {found.shape}"
            )
        if not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, (int, np.integer)):
            raise TypeError(f"group_size must be an int, got {self.group_size!r}")
        if self.group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {self.group_size}")
        if len(codes) % self.group_size:
            raise ValueError(
                f"{len(codes)} completions do not split into groups of {self.group_size}"
            )
        if len(codes) and (codes.min() < MISSING or codes.max() >= len(self.ladder)):
            raise ValueError(
                f"verdict codes must lie in [{MISSING}, {len(self.ladder) - 1}] for ladder "
                f"{self.ladder.name!r}"
            )
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "answer_found", found)
        if self.texts is not None:
            object.__setattr__(self, "texts", _texts(self.texts, len(codes)))
        if self.lengths is not None:
            object.__setattr__(self, "lengths", _lengths(self.lengths, len(codes)))

    @classmethod
    def from_verdicts(
        cls,
        verdicts: Iterable[str | None],
        *,
        ladder: Ladder = SPECIARL,
        group_size: int = 1,
        answer_found: Iterable[bool] | None = None,
        texts: Iterable[str] | None = None,
        lengths: Iterable[int] | None = None,
    ) -> Batch:
        """Build a batch from verdict slugs (``None`` for a missing verdict)."""
        codes = ladder.encode(verdicts)
        found = np.ones(len(codes), bool) if answer_found is None else list(answer_found)
        text = None if texts is None else tuple(texts)
        tokens = None if lengths is None else np.asarray(list(lengths))
        return cls(ladder, codes, np.asarray(found), group_size, text, tokens)

    def __len__(self) -> int:
        return len(self.codes)


def _texts(texts: Iterable[str], n: int) -> tuple[str, ...]:
    """``texts`` as a tuple of ``n`` strings; a clear error otherwise."""
    out = tuple(texts)
    bad = [type(t).__name__ for t in out if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings, got {bad[0]}")
    if len(out) != n:
        raise ValueError(f"{len(out)} texts for {n} completions")
    return out


def _lengths(lengths: Any, n: int) -> np.ndarray:
    """``lengths`` as ``n`` non-negative integers; a clear error otherwise."""
    out = np.asarray(lengths)
    if out.size == 0:
        out = out.astype(np.int64)
    if out.ndim != 1 or len(out) != n:
        raise ValueError(f"lengths must be 1-D with one per completion ({n}), got {out.shape}")
    if not np.issubdtype(out.dtype, np.integer):
        raise TypeError(f"lengths must be integers (tokens), got dtype {out.dtype}")
    if (out < 0).any():
        raise ValueError(f"lengths must be >= 0, got {int(out.min())}")
    return out


class Member(NamedTuple):
    """What a member gets: its ``reward``, whether its group was ``partial``, and whether its
    group was ``flat`` (every scored member got the same reward: no learning signal)."""

    reward: float
    partial: bool
    flat: bool

    @classmethod
    def of(cls, rewards: Any, index: int, partial: bool) -> Member:
        """Member ``index`` of a group with ``rewards`` (NaN or ``None`` where unscored)."""
        return cls.all(rewards, partial)[index]

    @classmethod
    def all(cls, rewards: Any, partial: bool) -> list[Member]:
        """Every member of a group with ``rewards``, in order."""
        values = np.array([np.nan if r is None else r for r in rewards], dtype=np.float64)
        scored = values[np.isfinite(values)]
        flat = bool(scored.size < 2 or scored.min() == scored.max())
        return [cls(float(v), partial, flat) for v in values.tolist()]


class SampleResult(NamedTuple):
    """One sample's result as every trainer and the JSON API receive it: its ``reward`` (NaN
    where unscored), ``outcome`` (the verdict, or why there is none), whether its answer was
    ``correct`` and ``found``, ``group`` - its group's :class:`Member` answer, ``None`` for a
    rule that needs no group - and its ``verdict`` (a slug, or None) and ``error`` (why there
    is no verdict). The ``to_*`` methods render it; ``unscored`` is the number a trainer that
    cannot skip a sample gets for a NaN reward.

    >>> r = SampleResult(float("nan"), "no_answer", False, False, error="no answer")
    >>> r.to_verl(unscored=0.0)
    {'score': 0.0, 'verdict': 'no_answer', 'correct': 0.0, 'no_answer': 1.0, 'unscored': 1.0}
    >>> r.to_json()
    {'reward': None, 'verdict': None, 'error': 'no answer'}
    """

    reward: float
    outcome: str
    correct: bool
    found: bool
    group: Member | None = None
    verdict: str | None = None
    error: str | None = None

    @classmethod
    def all(
        cls, judged: Judged, rewards: Any, groups: list[Member] | None = None
    ) -> list[SampleResult]:
        """The results of a judged batch: ``rewards`` per sample, or the ``groups``' answers."""
        if groups is not None:
            rewards = [m.reward for m in groups]
        values = np.asarray(rewards, dtype=np.float64).tolist()
        members: Iterable[Member | None] = groups if groups is not None else [None] * len(values)
        columns = (judged.outcomes, judged.correct.tolist(), judged.found.tolist())
        rows = zip(values, *columns, members, judged.verdicts, judged.errors)
        return list(map(cls._make, rows))

    @property
    def unscored(self) -> bool:
        return self.reward != self.reward

    def score(self, unscored: float) -> float:
        return float(unscored) if self.reward != self.reward else self.reward

    def to_verl(self, unscored: float) -> dict[str, Any]:
        """verl's result dict: ``score`` and what verl logs beside it (with the group's
        ``partial_group`` and ``zero_variance_group`` when there is a group)."""
        missing = self.reward != self.reward
        out: dict[str, Any] = {
            "score": float(unscored) if missing else self.reward,
            "verdict": self.outcome,
            "correct": float(self.correct),
            "no_answer": float(not self.found),
            "unscored": float(missing),
        }
        if self.group is not None:
            out["partial_group"] = float(self.group.partial)
            out["zero_variance_group"] = float(self.group.flat)
        return out

    @staticmethod
    def to_openrlhf(
        results: Sequence[SampleResult], unscored: float, grouped: bool
    ) -> dict[str, Any]:
        """OpenRLHF's reply for the samples of one call, as lists: ``rewards`` (``unscored``
        where there is no verdict), ``scores`` (clipped to [0, 1]) and ``extra_logs``
        (``zero_variance_group`` when the samples are ``grouped``)."""
        rewards, _, correct, found, groups, *_ = zip(*results) if results else [()] * 7
        missing = [r != r for r in rewards]
        values = [float(unscored) if m else r for r, m in zip(rewards, missing)]
        logs = {
            "correct": [float(c) for c in correct],
            "no_answer": [float(not f) for f in found],
            "unscored": [float(m) for m in missing],
            "partial_group": [0.0 if g is None else float(g.partial) for g in groups],
        }
        if grouped:
            logs["zero_variance_group"] = [0.0 if g is None else float(g.flat) for g in groups]
        scores = [min(max(v, 0.0), 1.0) for v in values]
        return {"rewards": values, "scores": scores, "extra_logs": logs}

    def to_json(self) -> dict[str, Any]:
        """rewardkit's JSON API: ``reward`` (``None`` where unscored), ``verdict`` (a slug or
        ``None``) and ``error`` (why there is no verdict), as ``/v1/judge`` answers."""
        reward = None if self.unscored else self.reward
        return {"reward": reward, "verdict": self.verdict, "error": self.error}
