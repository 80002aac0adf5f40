"""Benchmarks report each measurement as a ratio against a baseline measured in the same run.

A benchmark calls ``record(name, baseline=..., per=...)`` after it ran; the summary at the end
prints the mean time, the time per item and, where a baseline exists, the ratio to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_results: dict[str, dict] = {}


@pytest.fixture
def record(benchmark):
    def _record(
        name: str, *, items: int, baseline: str | None = None, mean: float | None = None
    ) -> None:
        """Record the benchmark just run (or ``mean`` seconds measured otherwise)."""
        mean = benchmark.stats.stats.mean if mean is None else mean
        _results[name] = {
            "mean_s": mean,
            "items": items,
            "per_item_us": mean / items * 1e6,
            "baseline": baseline,
        }

    return _record


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    tr = terminalreporter
    tr.section("rewardkit benchmark ratios")
    for name, r in _results.items():
        line = f"{name:<40} {r['mean_s'] * 1e3:10.2f} ms  {r['per_item_us']:9.3f} us/item"
        base = _results.get(r["baseline"] or "")
        if base:
            # Compared per item: a benchmark may time one step against a baseline of many.
            r["time_ratio_to_baseline"] = ratio = r["per_item_us"] / base["per_item_us"]
            if ratio < 1:
                line += f"  {1 / ratio:7.1f}x faster than {r['baseline']}"
            else:
                line += f"  {ratio:7.2f}x the time of {r['baseline']}"
        tr.write_line(line)
    out = Path(".benchmarks") / "ratios.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(_results, indent=2))
    tr.write_line(f"written to {out}")
