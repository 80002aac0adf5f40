"""The monitor of one training run: audit, moving windows, drift, alarms and the run log.

A trainer calls :meth:`Monitor.step` once per step with the batch it just rewarded, before it
uses the rewards; it gets back the rewards to use (changed only under the ``filter`` policy
after an alarm) and the figures to log. :meth:`Monitor.check` raises at the step boundary when
an alarm fired under the ``stop`` policy.

Figures (keys as logged):

- ``reward/train``: the batch's mean reward from the training judge (``reward/used`` once the
  filter changed it);
- the per-batch monitors (``mix/<rung>``, ``length/chars``, ``collapse/distinct``, ...; see
  :mod:`rewardkit.monitor.monitors`);
- ``audit/rows``, ``audit/gap``, ``audit/kappa``, ``audit/flattery``, ``audit/train_reward``,
  ``audit/audit_reward``: the audited rows that came back since the last step;
- ``window/...``: the same over the last ``window`` steps, with ``window/mix_drift`` and
  ``window/length_drift`` against the first ``baseline_steps`` steps;
- the audit's counters (``audit/sampled``, ``audit/judged``, ``audit/failed``,
  ``audit/dropped``, ``audit/pending``) and ``audit/filtered``, the share of the batch whose
  reward the filter set.

>>> import numpy as np, rewardkit as rk
>>> from rewardkit.monitor import Audit, Monitor
>>> reward = rk.LadderReward("taxonomy", "graded", taxonomy="examples/data/animals.json", tag=None)
>>> monitor = Monitor(reward, audit=Audit(reward.judge, rate=1.0, background=False))
>>> judged = reward.judge_completions(["samoyed", "dog"], ["samoyed", "samoyed"])
>>> rewards, figures = monitor.step(1, judged, ["samoyed", "samoyed"], reward.rewards(judged, 2), 2)
>>> figures["audit/sampled"], figures["collapse/distinct"]
(2, 1.0)
>>> monitor.close()
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..agreement import cohen_kappa
from ..errors import RewardHackingAlarm
from ..ladders import MISSING
from ..pipeline import LadderReward
from ..records import Judged
from .alarms import Alarm, Alarms
from .audit import Audit, AuditRecord
from .monitors import MONITORS, enable, release
from .runlog import RunLog

__all__ = ["Monitor"]

log = logging.getLogger(__name__)


def audit_stats(records: Sequence[AuditRecord], slugs: Sequence[str]) -> dict[str, Any]:
    """Gap, quadratic kappa and flattery share of audited completions (``None`` when
    undefined), with the rows they rest on and both judges' mean rewards."""
    index = {s: i for i, s in enumerate(slugs)}
    both = [r for r in records if r.train_verdict is not None and r.audit_verdict is not None]
    paid = [
        (r.train_reward, r.audit_reward)
        for r in records
        if r.train_reward is not None and r.audit_reward is not None
    ]
    out: dict[str, Any] = {"rows": len(both), "gap": None, "kappa": None, "flattery": None}
    out["train_reward"] = out["audit_reward"] = None
    if paid:
        train, audit = np.array(paid).T
        out.update(
            gap=float(np.mean(train - audit)),
            train_reward=float(np.mean(train)),
            audit_reward=float(np.mean(audit)),
        )
    if both:
        k = len(slugs)
        confusion = np.zeros((k, k), dtype=np.int64)
        higher = 0
        for r in both:
            t, a = index[r.train_verdict], index[r.audit_verdict]  # type: ignore[index]
            confusion[a, t] += 1
            higher += t > a
        out["kappa"] = cohen_kappa(confusion, "quadratic")
        out["flattery"] = higher / len(both)
    return out


def _nanmean(values: np.ndarray) -> float | None:
    finite = np.isfinite(values)
    return float(values[finite].mean()) if finite.any() else None


def _tv(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance between two shares over the same categories."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def _mean(dicts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    keys = {k for d in dicts for k in d}
    return {k: float(np.mean([d.get(k, 0.0) for d in dicts])) for k in keys}


class Monitor:
    """Watches one run of ``reward``: an optional :class:`Audit`, the per-batch monitors in
    moving windows of ``window`` steps, drift from the first ``baseline_steps`` steps, the
    ``alarms`` and their policy, and the run's records in ``run_dir`` (``audit.jsonl``,
    ``monitor.jsonl``). ``examples``: flagged rows an audit alarm shows as evidence."""

    def __init__(
        self,
        reward: LadderReward,
        *,
        audit: Audit | None = None,
        alarms: Alarms | None = None,
        window: int = 10,
        baseline_steps: int = 5,
        run_dir: str | os.PathLike | None = None,
        examples: int = 3,
    ) -> None:
        if window < 1 or baseline_steps < 1:
            raise ValueError(
                f"window and baseline_steps must be >= 1, got {window}, {baseline_steps}"
            )
        enable()
        self._closed = False
        self.reward, self.audit = reward, audit
        self.alarms = alarms if alarms is not None else Alarms()
        self.window, self.baseline_steps, self.examples = window, baseline_steps, examples
        if audit is not None:
            audit.bind(reward.rule, reward.ladder)
        self.log = RunLog(run_dir) if run_dir is not None else None
        self.filtering = False
        self.flagged: set[str] = set()  # answers the audit judge rated below the training judge
        self.audited: dict[tuple[str, str], int] = {}  # (label, answer) -> the audit's rung
        self.fired: list[Alarm] = []
        self._stop: list[Alarm] = []
        self._batches: deque[dict[str, float]] = deque(maxlen=window)
        self._baseline: list[dict[str, float]] = []
        self._rows: deque[AuditRecord] = deque()
        #: The last step's audited rows: row -> the audit verdict, "" for none, or "pending".
        self.audited_rows: dict[int, str] = {}
        self.flagged_rows = 0  # audited completions flagged over the run
        self.last: dict[str, Any] = {}  # the last step's figures
        if self.log is not None:
            self.log.settings(self.settings())

    def attach(self, run_dir: str | os.PathLike) -> None:
        """Write the run's records to ``run_dir`` (a trainer's output folder) unless the
        monitor was given one."""
        if self.log is None:
            self.log = RunLog(run_dir)
            self.log.settings(self.settings())

    def settings(self) -> dict[str, Any]:
        a = self.alarms
        out: dict[str, Any] = {
            "window": self.window,
            "baseline_steps": self.baseline_steps,
            "ladder": self.reward.ladder.name,
            "rule": self.reward.rule.name,
            "judge": self.reward.judge.name,
            "alarms": {
                "gap": a.gap,
                "kappa": a.kappa,
                "mix_drift": a.mix_drift,
                "length_drift": a.length_drift,
                "min_rows": a.min_rows,
                "policy": a.policy,
            },
        }
        if self.audit is not None:
            out["audit"] = {
                "judge": self.audit.judge.name,
                "rate": self.audit.rate,
                "seed": self.audit.seed,
                "max_rows": self.audit.max_rows,
            }
        return out

    # -- one step ---------------------------------------------------------------------------

    def step(
        self,
        step: int,
        judged: Judged,
        labels: Sequence[str],
        rewards: np.ndarray,
        group_size: int,
        *,
        questions: Sequence[str] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Watch one rewarded batch; returns the rewards to use and the figures to log.
        ``metrics``: the batch's metrics already computed (:meth:`LadderReward.metrics`), so
        the per-batch monitors are not computed twice."""
        rewards = np.asarray(rewards, dtype=np.float64)
        done = self.audit.collect() if self.audit is not None else []
        figures: dict[str, Any] = {
            "step": step,
            "reward/train": _nanmean(rewards),
            **self._batch(judged, rewards, group_size, metrics),
        }
        self.audited_rows = {}
        if self.audit is not None:
            job = self.audit.sample(step, judged, labels, rewards, group_size, questions)
            now: list[AuditRecord] = []
            if self.filtering and job is not None:  # after an alarm: audit now, filter now
                now = self.audit.run(job)
            else:
                self.audit.submit(job)
                now = self.audit.collect() if not self.audit.background else []
            done += now
            if job is not None:
                rows = [g * group_size + i for g in job.groups for i in range(group_size)]
                self.audited_rows = dict.fromkeys(rows, "pending")
                mine = [r for r in now if r.step == step]
                self.audited_rows.update((i, r.audit_verdict or "") for i, r in zip(rows, mine))
            self._remember(done)
            if self.filtering:
                rewards, share = self._filter(judged, labels, rewards, group_size, questions)
                figures["audit/filtered"] = share
                figures["reward/used"] = _nanmean(rewards)
            figures.update(self._audit_figures(step, done))
        window = self._window()
        figures.update({f"window/{k}": v for k, v in window.items() if not k.endswith("_evidence")})
        self._alarm(step, window)
        if self.log is not None:
            self.log.audits(done)
            self.log.step(figures, [a for a in self.fired if a.step == step])
        self.last = figures
        return rewards, figures

    def prometheus(self) -> list[str]:
        """The audit's counters, the alarms fired and the last window's figures as
        Prometheus text lines (``rewardkit serve``'s ``/metrics``)."""
        lines = []
        if self.audit is not None:
            lines.append("# TYPE rewardkit_audit_total counter")
            counts = {**self.audit.counts, "flagged": self.flagged_rows}
            for key, n in sorted(counts.items()):
                lines.append(f'rewardkit_audit_total{{count="{key}"}} {n}')
            lines += [
                "# TYPE rewardkit_audit_pending gauge",
                f"rewardkit_audit_pending {self.audit.pending}",
            ]
        lines.append("# TYPE rewardkit_monitor_alarms_total counter")
        fired: dict[str, int] = {}
        for alarm in self.fired:
            fired[alarm.name] = fired.get(alarm.name, 0) + 1
        for name in ("gap", "kappa", "mix_drift", "length_drift"):
            lines.append(f'rewardkit_monitor_alarms_total{{alarm="{name}"}} {fired.get(name, 0)}')
        window = {
            k[7:]: v for k, v in self.last.items() if k.startswith("window/") and v is not None
        }
        if window:
            lines.append("# TYPE rewardkit_monitor_window gauge")
            for key, value in sorted(window.items()):
                lines.append(f'rewardkit_monitor_window{{figure="{key}"}} {float(value):g}')
        return lines

    def _batch(self, judged, rewards, group_size, metrics) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, monitor in MONITORS.items():
            prefix = f"{name}/"
            given = {k: v for k, v in (metrics or {}).items() if k.startswith(prefix)}
            out.update(
                given or {prefix + k: v for k, v in monitor(judged, rewards, group_size).items()}
            )
        mix = {k[4:]: v for k, v in out.items() if k.startswith("mix/")}
        entry = {f"mix:{k}": v for k, v in mix.items()}
        if "length/chars" in out:
            entry["chars"] = out["length/chars"]
        self._batches.append(entry)
        if len(self._baseline) < self.baseline_steps:
            self._baseline.append(entry)
        return out

    def _remember(self, records: list[AuditRecord]) -> None:
        self._rows.extend(records)
        self.flagged_rows += sum(r.flagged for r in records)
        for r in records:
            if r.prediction is not None and r.audit_verdict is not None:
                self.audited[r.label, r.prediction] = self.reward.ladder.index(r.audit_verdict)
                if r.flagged:
                    self.flagged.add(r.prediction)

    def _filter(self, judged, labels, rewards, group_size, questions) -> tuple[np.ndarray, float]:
        """Every answer once flagged is audited (each (label, answer) once) and, where the
        audit judge rates it lower, gets the audit judge's rung; the rewards of the batch are
        recomputed with the rule, so its groups' rewards follow."""
        assert self.audit is not None
        rows = [
            i
            for i, answer in enumerate(judged.answers)
            if answer in self.flagged and judged.found[i] and judged.codes[i] != MISSING
        ]
        todo: dict[tuple[str, str], tuple[str, ...]] = {}
        for i in rows:
            key = (labels[i], judged.answers[i])
            if key not in self.audited and key not in todo:
                todo[key] = key if questions is None else (*key, questions[i])
        if todo:
            for key, rung in zip(todo, self.audit.rungs(list(todo.values()))):
                if rung != MISSING:
                    self.audited[key] = rung
        codes = judged.codes.copy()
        hit = 0
        for i in rows:
            audited = self.audited.get((labels[i], judged.answers[i]))
            if audited is not None and codes[i] > audited:
                codes[i] = audited
                hit += 1
        if not hit:
            return rewards, 0.0
        new = self.reward.rewards_of(
            codes, judged.found, group_size, texts=judged.texts, lengths=judged.lengths
        )
        return new, hit / len(codes)

    def _audit_figures(self, step: int, done: list[AuditRecord]) -> dict[str, Any]:
        audit = self.audit
        assert audit is not None
        while self._rows and self._rows[0].step <= step - self.window:
            self._rows.popleft()
        stats = audit_stats(done, self.reward.ladder.slugs)
        out: dict[str, Any] = {f"audit/{k}": v for k, v in stats.items()}
        out.update({f"audit/{k}": v for k, v in audit.counts.items() if k != "rows"})
        out["audit/sampled"] = audit.counts["rows"]
        out["audit/pending"] = audit.pending
        return out

    def _window(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.audit is not None:
            rows = [r for r in self._rows if r.audit_error is None]
            out.update(audit_stats(rows, self.reward.ladder.slugs))
        batches = list(self._batches)
        if len(self._baseline) >= self.baseline_steps and batches:
            now, base = _mean(batches), _mean(self._baseline)
            mix_now = {k: v for k, v in now.items() if k.startswith("mix:")}
            mix_base = {k: v for k, v in base.items() if k.startswith("mix:")}
            out["mix_drift"] = _tv(mix_now, mix_base)
            out["mix_drift_evidence"] = {
                "baseline": {k[4:]: round(v, 3) for k, v in sorted(mix_base.items())},
                "window": {k[4:]: round(v, 3) for k, v in sorted(mix_now.items())},
            }
            if base.get("chars") and now.get("chars"):
                ratio = now["chars"] / base["chars"]
                out["length_drift"] = max(ratio, 1 / ratio) - 1
                out["length_drift_evidence"] = {"baseline": base["chars"], "window": now["chars"]}
        return out

    def _alarm(self, step: int, window: dict[str, Any]) -> None:
        examples: dict[tuple, dict] = {}  # distinct flagged rows, the latest first
        for r in reversed(self._rows):
            if r.flagged and len(examples) < self.examples:
                row = {k: getattr(r, k) for k in ("label", "prediction", "train_verdict")}
                examples.setdefault(tuple(row.values()), {**row, "audit_verdict": r.audit_verdict})
        fired = self.alarms.check(window, step, {"examples": list(examples.values())})
        for alarm in fired:
            log.warning("reward monitor alarm (%s): %s", self.alarms.policy, alarm.message())
        self.fired += fired
        if fired and self.alarms.policy == "stop":
            self._stop += fired
        if fired and self.alarms.policy == "filter" and self.audit is not None:
            if not self.filtering:
                log.warning("reward monitor: filtering flagged answers from step %d on", step + 1)
            self.filtering = True

    def check(self) -> None:
        """Raise :class:`~rewardkit.errors.RewardHackingAlarm` if an alarm fired under the
        ``stop`` policy (call it at the step boundary, after the step is logged)."""
        if self._stop:
            self.close()
            raise RewardHackingAlarm(
                "training stopped by the reward monitor: "
                + " | ".join(a.message() for a in self._stop)
            )

    def close(self) -> None:
        """Finish the queued audits and write what came back; the per-batch monitors stay
        registered while another monitor is open."""
        if not self._closed:
            self._closed = True
            release()
        if self.audit is None:
            return
        self.audit.close()
        done = self.audit.collect()
        self._remember(done)
        if self.log is not None:
            self.log.audits(done)
