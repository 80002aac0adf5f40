"""The math and code judges inside Ray workers, as verl and Ray-based trainers run reward code:
a hanging math check is unscored at the timeout in a Ray task and from a threaded actor's side
thread (where ``signal.alarm`` cannot work), and the code judge's sandbox runs from an actor."""

import json
import os

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("math_verify", reason="the math extra (pip install 'rewardkit-rl[math]')")
if not os.access("/usr/bin/bwrap", os.X_OK):
    pytest.fail("bubblewrap is not installed: apt-get install bubblewrap (.ci/run does)")

HANG = r"\boxed{9^{9^{9^{9}}}}"  # sympy evaluates the power tower: a real math-verify hang
TIMEOUT = 3


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def judge_math() -> tuple[list, float, bool]:
    """Judge a hang and an easy pair: (verdict, error) pairs, the seconds the call took, and
    whether it ran on the main thread."""
    import threading
    import time

    from rewardkit.verifiers.math import MathJudge

    judge = MathJudge(workers=1, timeout=TIMEOUT)
    try:
        start = time.monotonic()
        records = judge.judge_records([("3", HANG), ("3", r"\boxed{3}")])
        seconds = time.monotonic() - start
    finally:
        judge.close()
    main = threading.current_thread() is threading.main_thread()
    return [(r.verdict, r.error) for r in records], seconds, main


EXPECTED = [(None, f"unscored: timed out after {TIMEOUT} s (killed)"), ("correct", None)]


def test_a_hang_is_unscored_in_a_ray_task(cluster):
    records, seconds, _ = ray.get(ray.remote(judge_math).remote(), timeout=120)
    assert records == EXPECTED
    assert TIMEOUT <= seconds < TIMEOUT + 30  # the kill, then a fresh worker for the next pair


@ray.remote
class Rewarder:
    """A threaded actor: its calls run on side threads, not the worker's main thread."""

    def math(self):
        return judge_math()

    def code(self):
        from rewardkit.verifiers.code import CodeJudge

        tests = json.dumps([{"input": "2 3", "output": "5"}, {"input": "1 1", "output": "2"}])
        programs = ["print(sum(map(int, input().split())))", "print(5)", "print(1/0)", "("]
        return CodeJudge(workers=2, timeout=TIMEOUT).judge([(tests, p) for p in programs])


def test_a_hang_is_unscored_from_a_threaded_actor_and_code_runs_sandboxed(cluster):
    actor = Rewarder.options(max_concurrency=2).remote()
    records, seconds, main = ray.get(actor.math.remote(), timeout=120)
    assert (records, main) == (EXPECTED, False)
    assert TIMEOUT <= seconds < TIMEOUT + 30
    verdicts = ray.get(actor.code.remote(), timeout=120)
    assert verdicts == ["passes_all", "passes_some", "runtime_error_or_timeout", "syntax_error"]
