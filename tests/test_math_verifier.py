"""The math ladder's judge: math-verify in worker processes, hangs unscored by a wall-clock kill
from a thread, a subprocess and a daemonic process - never scored."""

import json
import multiprocessing
import signal
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("math_verify", reason="the math extra (pip install 'rewardkit-rl[math]')")

from rewardkit.verifiers.math import MATH, MathJudge, form_of  # noqa: E402

# A real math-verify hang: sympy tries to evaluate the power tower.
HANG = r"\boxed{9^{9^{9^{9}}}}"
KILLED = "unscored: timed out after 3 s (killed)"  # generous: CI machines are shared

EQUIVALENT = [
    ("1/2", "0.5"),
    ("1/2", r"\boxed{\frac{1}{2}}"),
    (r"\frac{1}{2}", r"\boxed{\dfrac12}"),
    ("0.5", r"so the answer is $\boxed{1/2}$."),
    ("3", r"The answer is \boxed{3}."),
    ("2", r"\boxed{2.0}"),
    ("-7", r"\boxed{-7}"),
    ("1/3", "0.333333"),
    (r"\sqrt{2}/2", r"\boxed{\frac{1}{\sqrt{2}}}"),
    ("x+1", r"\boxed{1+x}"),
    (r"\{1,2\}", r"\boxed{\{2,1\}}"),
    ("(0,1]", r"\boxed{(0,1]}"),
    (r"(-\infty, 0)", r"\boxed{(-\infty,0)}"),
    ("50", r"\boxed{50\text{ cm}}"),
    (r"10\%", r"\boxed{10}"),
]

NOT_EQUIVALENT = [
    ("1/2", "0.51"),
    ("3", r"\boxed{4}"),
    ("-7", r"\boxed{7}"),
    ("1/3", "0.33"),
    ("3.14", r"\boxed{\pi}"),
    ("x+1", r"\boxed{x-1}"),
    (r"\{1,2\}", r"\boxed{\{1,2,3\}}"),
    ("(0,1]", r"\boxed{[0,1]}"),
    ("(0,1]", r"\boxed{(0,1)}"),
    ("2", r"\boxed{2} or \boxed{3}"),  # the last boxed answer is the final one
]


@pytest.fixture(scope="module")
def judge():
    j = MathJudge(workers=2, timeout=3)
    yield j
    j.close()


def test_equivalent_answers_are_correct_and_the_rest_wrong(judge):
    verdicts = judge.judge(EQUIVALENT + NOT_EQUIVALENT)
    got = dict(zip(EQUIVALENT + NOT_EQUIVALENT, verdicts))
    assert {p: v for p, v in got.items() if p in EQUIVALENT and v != "correct"} == {}
    assert {p: v for p, v in got.items() if p in NOT_EQUIVALENT and v != "wrong"} == {}


def test_no_final_answer_and_an_unparseable_truth(judge):
    records = judge.judge_records([("42", "I do not know"), ("(", "1"), ("42", None)])
    assert [r.verdict for r in records] == ["no_final_answer", None, None]
    assert records[1].error == "unscored: the ground truth '(' cannot be parsed"
    assert records[2].error == "no answer"


def test_the_form_rung_only_when_a_form_is_asked():
    pairs = [("1/2", r"\boxed{0.5}"), ("1/2", r"\boxed{\frac{1}{2}}"), ("0.5", "1/2"), ("3", "3")]
    with_form = MathJudge(workers=1, form="truth")
    as_fraction = MathJudge(workers=1, form="fraction")
    try:
        assert with_form.judge(pairs) == [
            "right_value_wrong_form",
            "correct",
            "right_value_wrong_form",
            "correct",
        ]
        assert as_fraction.judge(pairs) == [
            "right_value_wrong_form",
            "correct",
            "correct",
            "right_value_wrong_form",
        ]
    finally:
        with_form.close()
        as_fraction.close()
    assert [form_of(t) for t in ["7", "-0.25", r"\frac{3}{4}", "[1, 2)", r"\{1\}", r"\pi"]] == [
        "integer",
        "decimal",
        "fraction",
        "interval",
        "set",
        "expression",
    ]
    with pytest.raises(ValueError, match="form must be None, 'truth' or one of"):
        MathJudge(form="roman")


def test_the_ladder_orders_the_rungs():
    assert MATH.slugs == ("no_final_answer", "wrong", "right_value_wrong_form", "correct")
    assert MATH.correct.tolist() == [False, False, True, True]


def test_a_hang_is_unscored_at_the_timeout_from_a_thread_and_the_pool_recovers(judge):
    out = {}

    def run():
        start = time.monotonic()
        out["records"] = judge.judge_records([("1", HANG), ("3", r"\boxed{3}")])
        out["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "judging from a thread hung past 60 s"
    assert [(r.verdict, r.error) for r in out["records"]] == [(None, KILLED), ("correct", None)]
    assert out["seconds"] < 30  # 3 s timeout + restarting one worker
    assert judge.judge([("2", "2")]) == ["correct"]  # the killed worker was replaced
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # no alarm was ever armed


CHILD = f"""
import json, threading
from rewardkit.verifiers.math import MathJudge
judge = MathJudge(workers=1, timeout=3)
out = {{}}
def run():
    out["r"] = [(r.verdict, r.error) for r in judge.judge_records([("1", {HANG!r}), ("3", "3")])]
t = threading.Thread(target=run); t.start(); t.join()
print(json.dumps(out["r"]))
"""


def test_a_hang_is_unscored_in_a_subprocess_judging_from_its_thread():
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[None, KILLED], ["correct", None]]


def _daemonic(queue):
    judge = MathJudge(workers=1, timeout=3)
    queue.put([(r.verdict, r.error) for r in judge.judge_records([("1", HANG), ("3", "3")])])


def test_a_hang_is_unscored_in_a_daemonic_process():
    """A daemonic process may not start multiprocessing children (Ray workers and pool members
    are alike in that); the verifier's workers are plain subprocesses, so it still judges."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_daemonic, args=(queue,), daemon=True)
    proc.start()
    try:
        got = queue.get(timeout=120)
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    assert got == [(None, KILLED), ("correct", None)]


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "math_verify" else real(name)
    )
    with pytest.raises(ImportError) as err:
        MathJudge()
    assert str(err.value) == "the math judge needs math-verify: pip install 'rewardkit-rl[math]'"
