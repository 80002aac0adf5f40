"""See reward hacking while it happens: an audit judge, drift monitors and alarms.

:class:`Monitor` watches a training run: :class:`Audit` re-judges a sampled share of the
training verdicts with another judge (off the training path), the per-batch monitors
(:mod:`rewardkit.monitor.monitors`, registered metrics) are kept in moving windows, and
:class:`Alarms` fire on the reward gap, the judges' kappa and drift, with a policy (``warn``,
``stop``, ``filter``). The run's records go to ``audit.jsonl`` and ``monitor.jsonl``
(:mod:`rewardkit.monitor.runlog`); ``rewardkit monitor RUN_DIR`` draws them.
See docs/monitor.md.
"""

from __future__ import annotations

from .alarms import POLICIES, Alarm, Alarms
from .audit import Audit, AuditRecord
from .labels import LabelJudge
from .monitors import MONITORS, disable, enable
from .runlog import RunLog, read_run
from .session import Monitor, audit_stats

__all__ = [
    "Alarm",
    "Alarms",
    "Audit",
    "AuditRecord",
    "LabelJudge",
    "MONITORS",
    "Monitor",
    "POLICIES",
    "RunLog",
    "audit_stats",
    "disable",
    "enable",
    "read_run",
]
