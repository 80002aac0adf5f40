"""The audit judge: a second judge re-judges a sampled share of the training verdicts.

Sampling is per group (every completion of a sampled group), so the audit judge's group
rewards can be recomputed under the same rule; each group is drawn with probability ``rate``
from a generator seeded by ``(seed, step)``, so a run audits the same groups whatever the
timing. ``max_rows`` caps the completions audited over the run (the audit judge's budget).

The audit runs off the training path: :meth:`Audit.submit` puts the groups on a bounded queue
a background thread works through, and returns at once (a full queue drops the groups and
counts them); an audit failure is logged and counted, never raised. :meth:`Audit.run` judges
groups at once (the ``filter`` policy after an alarm, and tests).

>>> import numpy as np, rewardkit as rk
>>> from rewardkit.records import Judged
>>> judged = Judged(rk.SPECIARL, ["dog", "samoyed"], np.ones(2, bool),
...                 rk.SPECIARL.encode(["specific", "specific"]))
>>> audit = Audit(rk.TaxonomyJudge("examples/data/animals.json"), rate=1.0)
>>> audit.bind(rk.get_rule("graded"), rk.SPECIARL)
>>> job = audit.sample(1, judged, ["samoyed", "samoyed"], np.ones(2), 2)
>>> [(r.prediction, r.train_verdict, r.audit_verdict, r.flagged) for r in audit.run(job)]
[('dog', 'specific', 'generic', True), ('samoyed', 'specific', 'specific', False)]
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..judges.base import Judge
from ..ladders import MISSING, Ladder
from ..records import Batch, Judged

__all__ = ["Audit", "AuditRecord", "AuditJob"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    """One audited completion: the step and group it was sampled in, the row's ``label`` and
    ``prediction`` (the answer, ``None`` when none was found), both judges' verdicts and the
    rewards the rule gives under each; ``flagged`` when the training verdict is above the
    audit verdict on the ladder."""

    step: int
    group: int
    label: str
    prediction: str | None
    answer_found: bool
    train_verdict: str | None
    audit_verdict: str | None
    train_reward: float | None
    audit_reward: float | None
    flagged: bool
    audit_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditJob:
    """Groups sampled at one step, as the audit thread needs them."""

    step: int
    groups: list[int]
    group_size: int
    labels: list[str]
    answers: list[str | None]
    found: np.ndarray
    codes: np.ndarray
    rewards: np.ndarray
    questions: list[str] | None = None
    texts: tuple[str, ...] | None = None
    lengths: np.ndarray | None = None


def _reward(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


class Audit:
    """Re-judges ``rate`` of the training groups with ``judge`` (any rewardkit judge on the
    training ladder: a stronger or differently prompted LLM, or human labels -
    :class:`rewardkit.monitor.LabelJudge`). ``max_rows``: the most completions audited in
    the run; ``queue_size``: groups waiting for the audit thread before new ones are dropped;
    ``background=False`` audits in the caller's thread (deterministic, for tests)."""

    def __init__(
        self,
        judge: Judge,
        *,
        rate: float = 0.02,
        seed: int = 0,
        max_rows: int | None = None,
        queue_size: int = 256,
        background: bool = True,
    ) -> None:
        if not isinstance(judge, Judge):
            raise TypeError(f"the audit judge must be a rewardkit Judge, got {judge!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"audit rate must be within [0, 1], got {rate}")
        if max_rows is not None and max_rows < 0:
            raise ValueError(f"max_rows must be >= 0, got {max_rows}")
        self.judge, self.rate, self.seed, self.max_rows = judge, float(rate), seed, max_rows
        self.background = background
        self.rule: Any = None
        self.ladder: Ladder | None = None
        self.counts = {
            "groups": 0,
            "rows": 0,
            "judged": 0,
            "failed": 0,
            "dropped": 0,
            "over_budget": 0,
        }
        self._lock = threading.Lock()
        self._done: list[AuditRecord] = []
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None

    def bind(self, rule: Any, ladder: Ladder) -> None:
        """Use the training reward's ``rule`` and ``ladder``; the audit judge must judge on
        the same rungs."""
        if list(self.judge.ladder.slugs) != list(ladder.slugs):
            raise ValueError(
                f"the audit judge {self.judge.name!r} judges on ladder "
                f"{self.judge.ladder.name!r}, the training judge on {ladder.name!r}: "
                "an audit needs the same rungs"
            )
        self.rule, self.ladder = rule, ladder

    # -- sampling ---------------------------------------------------------------------------

    def sample(
        self,
        step: int,
        judged: Judged,
        labels: Sequence[str],
        rewards: np.ndarray,
        group_size: int,
        questions: Sequence[str] | None = None,
    ) -> AuditJob | None:
        """The groups of this step's batch drawn for the audit (within the budget), or None."""
        n = len(judged.codes)
        if not n or group_size < 1 or n % group_size or self.rate == 0.0:
            return None
        draw = np.random.default_rng([self.seed, step]).random(n // group_size) < self.rate
        groups = np.flatnonzero(draw).tolist()
        if self.max_rows is not None:
            room = max(0, (self.max_rows - self.counts["rows"]) // group_size)
            self.counts["over_budget"] += max(0, len(groups) - room)
            groups = groups[:room]
        if not groups:
            return None
        rows = [g * group_size + i for g in groups for i in range(group_size)]
        self.counts["groups"] += len(groups)
        self.counts["rows"] += len(rows)
        return AuditJob(
            step,
            groups,
            group_size,
            [labels[i] for i in rows],
            [judged.answers[i] for i in rows],
            judged.found[rows].copy(),
            judged.codes[rows].copy(),
            np.asarray(rewards, dtype=np.float64)[rows].copy(),
            None if questions is None else [questions[i] for i in rows],
            None if judged.texts is None else tuple(judged.texts[i] for i in rows),
            None if judged.lengths is None else np.asarray(judged.lengths)[rows].copy(),
        )

    # -- judging ------------------------------------------------------------------------------

    def run(self, job: AuditJob) -> list[AuditRecord]:
        """Judge the job's groups now; a failure gives records without an audit verdict."""
        if self.rule is None or self.ladder is None:
            raise RuntimeError("bind the audit to the training reward's rule first (bind)")
        n = len(job.labels)
        codes = np.full(n, MISSING, dtype=np.int16)
        errors: list[str | None] = [None] * n
        rows = [i for i in range(n) if job.found[i] and job.answers[i] is not None]
        try:
            pairs = [
                (
                    job.labels[i],
                    job.answers[i],
                    *(() if job.questions is None else (job.questions[i],)),
                )
                for i in rows
            ]
            records = self.judge.judge_records(pairs) if pairs else []
            for i, record in zip(rows, records):
                errors[i] = record.error
                if record.verdict is not None:
                    codes[i] = self.ladder.index(record.verdict)
            rewards = self.rule.compute(
                Batch(self.ladder, codes, job.found, job.group_size, job.texts, job.lengths)
            )
            with self._lock:
                self.counts["judged"] += len(rows)
        except Exception as e:  # an audit failure never fails training
            log.warning("audit of step %d failed: %s: %s", job.step, type(e).__name__, e)
            with self._lock:
                self.counts["failed"] += n
            rewards = np.full(n, np.nan)
            errors = [f"audit failed: {type(e).__name__}: {e}"] * n
        return self._records(job, codes, rewards, errors)

    def rungs(self, pairs: Sequence[tuple[str, ...]]) -> list[int]:
        """The audit judge's rung codes for ``pairs`` now (``MISSING`` where it gives none,
        fails, or the budget is spent); counted in ``counts["rows"]`` and ``["judged"]``."""
        assert self.ladder is not None, "bind the audit first"
        pairs = list(pairs)
        if self.max_rows is not None:
            room = max(0, self.max_rows - self.counts["rows"])
            self.counts["over_budget"] += max(0, len(pairs) - room)
            sent = pairs[:room]
        else:
            sent = pairs
        out = [MISSING] * len(pairs)
        self.counts["rows"] += len(sent)
        try:
            for i, record in enumerate(self.judge.judge_records(sent) if sent else []):
                if record.verdict is not None:
                    out[i] = self.ladder.index(record.verdict)
            with self._lock:
                self.counts["judged"] += len(sent)
        except Exception as e:  # an audit failure never fails training
            log.warning("audit of %d answers failed: %s: %s", len(sent), type(e).__name__, e)
            with self._lock:
                self.counts["failed"] += len(sent)
            return [MISSING] * len(pairs)
        return out

    def _records(self, job: AuditJob, codes, rewards, errors) -> list[AuditRecord]:
        slugs = self.ladder.slugs  # type: ignore[union-attr]
        out = []
        for i in range(len(job.labels)):
            train, audit = int(job.codes[i]), int(codes[i])
            out.append(
                AuditRecord(
                    step=job.step,
                    group=job.groups[i // job.group_size],
                    label=job.labels[i],
                    prediction=job.answers[i],
                    answer_found=bool(job.found[i]),
                    train_verdict=None if train == MISSING or not job.found[i] else slugs[train],
                    audit_verdict=None if audit == MISSING else slugs[audit],
                    train_reward=_reward(job.rewards[i]),
                    audit_reward=_reward(rewards[i]),
                    flagged=bool(job.found[i]) and MISSING not in (train, audit) and train > audit,
                    audit_error=errors[i],
                )
            )
        return out

    # -- the background thread ----------------------------------------------------------------

    def submit(self, job: AuditJob | None) -> None:
        """Queue ``job`` for the audit thread (or audit it now with ``background=False``);
        never blocks: a full queue drops the job and counts its groups."""
        if job is None:
            return
        if not self.background:
            self._finish(self.run(job))
            return
        self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self.counts["dropped"] += len(job.groups)
            log.warning(
                "audit queue full: %d groups of step %d not audited", len(job.groups), job.step
            )

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="rewardkit-audit", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._finish(self.run(job))
            except Exception as e:  # never let the thread die on a bad job
                log.warning("audit thread: %s: %s", type(e).__name__, e)
            finally:
                self._queue.task_done()

    def _finish(self, records: list[AuditRecord]) -> None:
        with self._lock:
            self._done.extend(records)

    def collect(self) -> list[AuditRecord]:
        """The audit records finished since the last call."""
        with self._lock:
            out, self._done = self._done, []
        return out

    def join(self) -> None:
        """Wait until every queued job is audited."""
        if self._thread is not None:
            self._queue.join()

    @property
    def pending(self) -> int:
        """Jobs waiting for the audit thread."""
        return self._queue.unfinished_tasks

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._thread = None
