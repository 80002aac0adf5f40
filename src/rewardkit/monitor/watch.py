"""The monitor behind trainers that reward one sample per call (OpenRLHF, verl's reward manager).

Such a trainer never hands rewardkit a whole group: each call brings one sample, and its group
is met in a shared store that holds only rung codes. So the monitor watches in the process that
judged the samples: :class:`GroupWatch` keeps each sample's answer, label, verdict and the
reward its group gave it, assembles the samples by group key, and once ``groups_per_step``
groups are whole it hands them to :meth:`Monitor.step` as one batch. A group is watched only
where all its samples were judged in one process and its rewards came from the whole group.

The rewards are already returned when a group is watched, so the ``filter`` policy cannot apply
here; ``stop`` raises at the next call after the alarm.

Adapters take the monitor's options as ``audit_spec`` (a reward spec whose judge audits),
``audit_rate``, ``alarm_policy``, ``monitor_dir`` and ``monitor_groups``
(:func:`monitor_from_options`).
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..records import Judged

log = logging.getLogger(__name__)

__all__ = ["GroupWatch", "MONITOR_OPTIONS", "LOGGED", "logged", "monitor_from_options"]

#: The options an adapter reads for its monitor (the rest make its reward).
MONITOR_OPTIONS = ("audit_spec", "audit_rate", "alarm_policy", "monitor_dir", "monitor_groups")
#: The figures a one-sample trainer logs with every sample, always the same keys (NaN where a
#: figure is undefined: no audited rows yet, or kappa on one rung).
LOGGED = (
    "monitor/steps",
    "monitor/alarms",
    "audit/sampled",
    "audit/judged",
    "audit/pending",
    "window/rows",
    "window/gap",
    "window/kappa",
    "window/flattery",
    "monitor/left_out",
)


def monitor_from_options(
    reward: Any, options: Mapping[str, Any], *, one_sample: bool = False
) -> Any:
    """The :class:`~rewardkit.monitor.Monitor` of an adapter's options, or None without
    ``audit_spec``: the audit judge is the judge of that reward spec (a file, or its dict),
    ``audit_rate`` (default 0.02), ``alarm_policy`` (``warn``, ``stop``; ``filter`` where the
    trainer passes whole groups), ``monitor_dir`` (where ``audit.jsonl`` and
    ``monitor.jsonl`` go)."""
    if not options.get("audit_spec"):
        unused = [k for k in MONITOR_OPTIONS if options.get(k) is not None]
        if unused:
            raise ValueError(f"{', '.join(unused)} given without audit_spec (the audit judge)")
        return None
    from ..pipeline import LadderReward
    from ..spec import RewardSpec
    from . import Alarms, Audit, Monitor

    given = options["audit_spec"]
    spec = (
        RewardSpec.from_dict(dict(given)) if isinstance(given, Mapping) else RewardSpec.load(given)
    )
    policy = str(options.get("alarm_policy") or "warn")
    if one_sample and policy == "filter":
        raise ValueError(
            "alarm_policy filter needs each group's answers before it is rewarded; this trainer "
            "rewards one sample at a time: use warn or stop"
        )
    audit = Audit(LadderReward.from_spec(spec).judge, rate=float(options.get("audit_rate", 0.02)))
    monitor = Monitor(
        reward, audit=audit, alarms=Alarms(policy=policy), run_dir=options.get("monitor_dir")
    )
    # The trainer never closes it: the audits still queued are written when the process ends.
    atexit.register(_close, monitor)
    return monitor


def _close(monitor: Any) -> None:
    try:
        monitor.close()
    except Exception as e:  # at exit: the run's folder may be gone
        log.warning("reward monitor: the last audits were not written: %s", e)


def logged(monitor: Any, figures: Mapping[str, Any], every: bool = False) -> dict[str, float]:
    """The figures a trainer logs: ``audit/...``, ``window/...``, ``reward/...`` and
    ``monitor/alarms`` (the alarms fired so far); ``every``: the :data:`LOGGED` keys only,
    all of them (NaN where undefined), for trainers that need one key set for every sample."""
    out = {
        k: float(v)
        for k, v in figures.items()
        if k.startswith(("audit/", "window/", "reward/")) and isinstance(v, (int, float))
    }
    out["monitor/alarms"] = float(len(monitor.fired))
    out["monitor/steps"] = float(figures.get("step", 0))
    if every:
        return {k: out.get(k, math.nan) for k in LOGGED}
    return out


class _Row(NamedTuple):
    member: Hashable | None
    answer: str | None
    found: bool
    code: int
    record: Any
    text: str | None
    length: int | None
    label: str
    question: str | None
    reward: float


class GroupWatch:
    """Assembles one-sample calls into whole groups for ``monitor`` (thread-safe).

    >>> import rewardkit as rk
    >>> from rewardkit.monitor import Audit, Monitor
    >>> taxonomy = rk.Taxonomy.load("examples/data/animals.json")
    >>> reward = rk.LadderReward(rk.TaxonomyJudge(taxonomy), "graded", tag=None)
    >>> watch = GroupWatch(Monitor(reward, audit=Audit(rk.TaxonomyJudge(taxonomy), rate=1.0,
    ...                            background=False)), group_size=2, groups_per_step=1)
    >>> for answer in ("dog", "samoyed"):
    ...     judged = reward.judge_completions([answer], ["samoyed"])
    ...     figures = watch.add(["p"], judged, ["samoyed"], reward.rewards(judged, 1))
    >>> figures["monitor/steps"], figures["window/rows"], figures["window/gap"]
    (1.0, 2.0, 0.0)
    >>> watch.monitor.close()
    """

    def __init__(
        self, monitor: Any, group_size: int, groups_per_step: int = 8, max_open: int = 4096
    ) -> None:
        if monitor.alarms.policy == "filter":
            raise ValueError(
                "alarm_policy filter needs each group's answers before it is rewarded; this "
                "trainer rewards one sample at a time: use warn or stop"
            )
        if group_size < 1 or groups_per_step < 1:
            raise ValueError(
                f"group_size and groups_per_step must be >= 1, got {group_size}, {groups_per_step}"
            )
        self.monitor, self.group_size, self.groups_per_step = monitor, group_size, groups_per_step
        self.max_open = max_open
        self._lock = threading.Lock()
        self._open: dict[Hashable, list[_Row]] = {}
        self._ready: list[list[_Row]] = []
        self._done: dict[Hashable, None] = {}  # keys of the last groups made whole
        self.steps = 0
        self.left_out = 0  # samples of groups not watched: partial, or pushed out
        self.figures: dict[str, float] = {
            **logged(monitor, {}, every=True),
            "monitor/left_out": 0.0,
        }

    def add(
        self,
        keys: Sequence[Hashable],
        judged: Judged,
        labels: Sequence[str],
        rewards: Any,
        *,
        questions: Sequence[str] | None = None,
        members: Sequence[Hashable | None] | None = None,
        partial: Sequence[bool] | None = None,
    ) -> dict[str, float]:
        """Add the samples of one call - each under its group key, with its label and the
        reward its group gave it - and return the figures to log (the last step's). A sample
        of a ``partial`` group leaves its group unwatched; a ``member`` seen twice in a group
        (a retried call) is kept once, and a sample of a group already whole is a copy.
        Raises a ``stop`` alarm fired before this call."""
        self.monitor.check()
        rows = _rows(judged, labels, rewards, questions, members)
        with self._lock:
            for i, (key, row) in enumerate(zip(keys, rows)):
                self._place(key, row, bool(partial[i]) if partial is not None else False)
            while len(self._ready) >= self.groups_per_step:
                batch, self._ready = (
                    self._ready[: self.groups_per_step],
                    self._ready[self.groups_per_step :],
                )
                self._step(judged, [r for group in batch for r in group])
            return dict(self.figures)

    def _place(self, key: Hashable, row: _Row, partial: bool) -> None:
        if key in self._done:  # a copy of a sample of a whole group (verl's padding, a retry)
            return
        if partial:
            self.left_out += 1 + len(self._open.pop(key, []))
            return
        group = self._open.setdefault(key, [])
        if row.member is not None and any(r.member == row.member for r in group):
            return
        group.append(row)
        if len(group) == self.group_size:
            self._ready.append(self._open.pop(key))
            self._done[key] = None
            if len(self._done) > self.max_open:
                del self._done[next(iter(self._done))]
        elif len(self._open) > self.max_open:  # groups that will never be whole
            oldest = next(iter(self._open))
            self.left_out += len(self._open.pop(oldest))

    def _step(self, like: Judged, rows: list[_Row]) -> None:
        self.steps += 1
        lengths = [r.length for r in rows]
        texts = [r.text for r in rows]
        judged = Judged(
            like.ladder,
            [r.answer for r in rows],
            np.array([r.found for r in rows], dtype=bool),
            np.array([r.code for r in rows], dtype=like.codes.dtype),
            [r.record for r in rows] if all(r.record is not None for r in rows) else [],
            tuple(texts) if all(t is not None for t in texts) else None,  # type: ignore[arg-type]
            np.array(lengths, dtype=np.int64) if all(x is not None for x in lengths) else None,
        )
        questions = [r.question for r in rows]
        _, figures = self.monitor.step(
            self.steps,
            judged,
            [r.label for r in rows],
            np.array([r.reward for r in rows], dtype=np.float64),
            self.group_size,
            questions=questions if all(q is not None for q in questions) else None,  # type: ignore[arg-type]
        )
        self.figures = logged(self.monitor, figures, every=True)
        self.figures["monitor/left_out"] = float(self.left_out)


def _rows(judged, labels, rewards, questions, members) -> list[_Row]:
    n = len(judged)
    values = np.asarray(rewards, dtype=np.float64).tolist()
    return [
        _Row(
            None if members is None else members[i],
            judged.answers[i],
            bool(judged.found[i]),
            int(judged.codes[i]),
            judged.records[i] if judged.records else None,
            judged.texts[i] if judged.texts is not None else None,
            int(judged.lengths[i]) if judged.lengths is not None else None,
            labels[i],
            None if questions is None else questions[i],
            values[i],
        )
        for i in range(n)
    ]
