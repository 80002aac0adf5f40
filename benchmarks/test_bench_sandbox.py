"""Code executions per second in the bubblewrap sandbox against no sandbox (``kind="none"``:
the same launcher and limits, no namespaces), the sandbox's start-up cost per run, and a
1,000-program batch through the code judge."""

import json
import subprocess
import sys
import time

import pytest

from rewardkit.verifiers.code import CodeJudge
from rewardkit.verifiers.sandbox import Sandbox

RUNS = 100


def _per_run(box: Sandbox) -> float:
    start = time.perf_counter()
    for _ in range(RUNS):
        assert box.run("print(1)").stdout == "1\n"
    return (time.perf_counter() - start) / RUNS


def test_sandbox_start_up_cost(record, benchmark):
    start = time.perf_counter()
    for _ in range(RUNS):
        subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", "print(1)"], check=True,
                       capture_output=True)  # fmt: skip
    bare = (time.perf_counter() - start) / RUNS
    none, bwrap = _per_run(Sandbox("none")), _per_run(Sandbox())
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\nper run: python alone {bare * 1e3:.1f} ms, launcher without sandbox "
          f"{none * 1e3:.1f} ms, bwrap sandbox {bwrap * 1e3:.1f} ms "
          f"(start-up cost {(bwrap - none) * 1e3:.1f} ms)")  # fmt: skip
    record("sandbox run (print(1))", items=1, mean=bwrap, baseline=None)


@pytest.mark.parametrize("kind", ["none", "bwrap"])
def test_a_thousand_programs(kind, record, benchmark):
    tests = json.dumps([{"input": "3 4", "output": "7"}])
    program = "a, b = map(int, input().split())\nprint(a + b + {})  # {}"
    pairs = [(tests, program.format(i % 2, i)) for i in range(1000)]
    judge = CodeJudge(sandbox=kind, workers=2)
    start = time.perf_counter()
    verdicts = judge.judge(pairs)
    seconds = time.perf_counter() - start
    benchmark.pedantic(lambda: None, rounds=1)
    assert verdicts.count("passes_all") == 500 and verdicts.count("wrong_output") == 500
    print(f"\n{kind}: 1000 programs in {seconds:.1f} s = {1000 / seconds:.1f} executions/s "
          f"(2 workers, {sys.platform})")  # fmt: skip
    record(f"code judge 1000 programs ({kind})", items=1000, mean=seconds)
