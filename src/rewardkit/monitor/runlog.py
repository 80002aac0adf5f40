"""A run's monitor records, saved beside its ``reward_spec.json``.

- ``audit.jsonl``: one line per audited completion (:class:`~rewardkit.monitor.AuditRecord`:
  step, group, label, prediction, answer_found, train_verdict, audit_verdict, train_reward,
  audit_reward, flagged, audit_error), the completions of a group together - so
  ``rewardkit agree --a audit_verdict --b train_verdict -g G --input audit.jsonl`` reads it;
- ``monitor.jsonl``: a first line ``{"monitor": {...}}`` (the settings), then one line per
  step with the monitors' figures and the alarms fired at that step.

Lines are appended and flushed as they are written; :func:`read_run` reads both back.

>>> import tempfile
>>> log = RunLog(tempfile.mkdtemp())
>>> log.settings({"window": 10})
>>> log.step({"step": 1, "audit/gap": 0.0}, alarms=[])
>>> read_run(log.folder)["steps"][0]["audit/gap"]
0.0
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "read_run", "json_objects", "AUDIT_FILE", "MONITOR_FILE"]

AUDIT_FILE = "audit.jsonl"
MONITOR_FILE = "monitor.jsonl"


def _clean(value: Any) -> Any:
    """JSON without NaN: a non-finite float is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunLog:
    """Appends a run's audit records and per-step monitor lines to ``folder``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def _append(self, name: str, lines: Iterable[dict]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / name, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(_clean(line), ensure_ascii=False) + "\n")
            f.flush()

    def settings(self, settings: dict[str, Any]) -> None:
        """Start ``monitor.jsonl`` with the monitor's settings (a fresh run: the file is new)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / MONITOR_FILE
        if not path.exists():
            self._append(MONITOR_FILE, [{"monitor": settings}])

    def audits(self, records: Iterable[Any]) -> None:
        rows = [r.to_dict() for r in records]
        if rows:
            self._append(AUDIT_FILE, rows)

    def step(self, figures: dict[str, Any], alarms: Iterable[Any]) -> None:
        self._append(MONITOR_FILE, [{**figures, "alarms": [a.to_dict() for a in alarms]}])


def read_run(folder: str | os.PathLike) -> dict[str, Any]:
    """A run's monitor records: ``settings``, ``steps`` (one dict per step) and ``audits``
    (one dict per audited completion). A missing file reads as empty; a line that is not a
    JSON object is a ``ValueError`` naming the file and line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no run folder {folder}")
    out: dict[str, Any] = {"settings": {}, "steps": [], "audits": []}
    for name, key in ((MONITOR_FILE, "steps"), (AUDIT_FILE, "audits")):
        path = folder / name
        if not path.exists():
            continue
        for _, row in json_objects(path):
            if key == "steps" and "monitor" in row and "step" not in row:
                out["settings"] = row["monitor"]
            else:
                out[key].append(row)
    return out


def json_objects(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object of a JSON Lines file with its line number (blank lines skipped); a
    line that is not a JSON object is a ``ValueError`` naming the file and line."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {number}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {number}: expected a JSON object")
            yield number, row
