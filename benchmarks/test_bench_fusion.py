"""The code judge's remote backend against the local sandbox it stands in for: 200 programs
through SandboxFusion's run_code API to the loopback stand-in (tests/sandbox_fusion_server.py,
which runs each in rewardkit's bubblewrap sandbox) and through the local sandbox directly - the
HTTP round trip's cost per execution, with the same sandbox doing the work."""

import json
import time

import pytest

from rewardkit.verifiers.code import CodeJudge
from tests.sandbox_fusion_server import FusionServer

N = 200


@pytest.mark.parametrize("backend", ["bwrap", "sandbox_fusion"])
def test_two_hundred_programs(backend, record, benchmark):
    tests = json.dumps([{"input": "3 4", "output": "7"}])
    program = "a, b = map(int, input().split())\nprint(a + b + {})  # {}"
    pairs = [(tests, program.format(i % 2, i)) for i in range(N)]
    with FusionServer(timeout=5) as server:
        url = {"sandbox_url": server.url} if backend == "sandbox_fusion" else {}
        judge = CodeJudge(sandbox=backend, workers=2, **url)
        start = time.perf_counter()
        verdicts = judge.judge(pairs)
        seconds = time.perf_counter() - start
    benchmark.pedantic(lambda: None, rounds=1)
    assert verdicts.count("passes_all") == N // 2 and verdicts.count("wrong_output") == N // 2
    print(f"\n{backend}: {N} programs in {seconds:.1f} s = {N / seconds:.1f} executions/s")
    record(
        f"code judge {N} programs ({backend})",
        items=N,
        mean=seconds,
        baseline=None if backend == "bwrap" else f"code judge {N} programs (bwrap)",
    )
