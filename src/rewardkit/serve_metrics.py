"""The Prometheus text of ``rewardkit serve``'s ``/metrics``, with a bounded label set.

Requests are counted by **route** - one of the registered paths, or ``other`` for every path
the server does not serve - and status, so junk paths cannot grow the process or the page.
Every label value is escaped (backslash, double quote, newline) as the text format requires,
and the per-cause counts are capped at :data:`MAX_CAUSES` lines.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

__all__ = ["Metrics", "OTHER", "escape"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: The route label of every path that is not a registered route.
OTHER = "other"
#: Failure causes listed one per line; the rest are summed under ``other``.
MAX_CAUSES = 32
#: Group counts that are levels, not totals since the start.
_GAUGES = ("open", "closed_partial")


def escape(value: object) -> str:
    """A label value as the Prometheus text format writes it."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Requests by route and status, a latency histogram, connections closed for slowness."""

    def __init__(self, routes: Iterable[str]) -> None:
        self.routes = frozenset(routes)
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.slow_clients = 0

    def route(self, path: str) -> str:
        """The route label of a request path: the path itself if registered, else ``other``."""
        return path if path in self.routes else OTHER

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests[self.route(path), int(status)] += 1
        self.latency_sum += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.latency[i] += 1
                break
        else:
            self.latency[-1] += 1

    def text(self, judge: Any, groups: dict[str, int], redact: Any = str) -> str:
        """The whole page: requests, latency, the judge's counts, its servers (URLs passed
        through ``redact``), failure causes and the group store's counts (open, completed,
        partial, late, duplicate, abandoned, undelivered: whatever its ``stats()`` holds)."""
        lines = ["# TYPE rewardkit_requests_total counter"]
        for (route, status), n in sorted(self.requests.items()):
            lines.append(
                f'rewardkit_requests_total{{route="{escape(route)}",status="{status}"}} {n}'
            )
        lines.append("# TYPE rewardkit_request_seconds histogram")
        total = 0
        for bound, n in zip((*BUCKETS, float("inf")), self.latency):
            total += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f'rewardkit_request_seconds_bucket{{le="{le}"}} {total}')
        lines += [
            f"rewardkit_request_seconds_sum {self.latency_sum:.6f}",
            f"rewardkit_request_seconds_count {total}",
            "# TYPE rewardkit_slow_clients_total counter",
            f"rewardkit_slow_clients_total {self.slow_clients}",
        ]
        lines += _judge_lines(judge, redact)
        for key, n in sorted(groups.items()):  # the group store's own counts, by name
            if key.isidentifier() and key.islower():
                lines.append(f"rewardkit_groups_{key}{'' if key in _GAUGES else '_total'} {n}")
        return "\n".join(lines) + "\n"


def _judge_lines(judge: Any, redact: Any) -> list[str]:
    lines = []
    stats = judge.stats
    for key in ("calls", "cache_hits", "retries", "failures"):
        if hasattr(stats, key):
            lines.append(f"# TYPE rewardkit_judge_{key}_total counter")
            lines.append(f"rewardkit_judge_{key}_total {int(getattr(stats, key))}")
    servers = getattr(getattr(judge, "transport", None), "endpoint_stats", None) or {}
    now = time.monotonic()
    for url, e in sorted(servers.items()):
        label = f'{{server="{escape(redact(url))}"}}'
        lines += [
            f"rewardkit_judge_server_calls_total{label} {int(e.calls)}",
            f"rewardkit_judge_server_failures_total{label} {int(e.failures)}",
            f"rewardkit_judge_server_in_flight{label} {int(e.in_flight)}",
            f"rewardkit_judge_server_up{label} {int(e.down_until <= now)}",
        ]
    causes = sorted(getattr(stats, "errors", {}).items(), key=lambda x: (-x[1], str(x[0])))
    rest = sum(n for _, n in causes[MAX_CAUSES:])
    shown = causes[:MAX_CAUSES] + ([(OTHER, rest)] if rest else [])
    for cause, n in shown:
        lines.append(f'rewardkit_judge_failures_by_cause_total{{cause="{escape(cause)}"}} {n}')
    return lines
