"""The offline arithmetic and code worlds (examples/math_world): the quick run of the math world
warm-starts a policy that knows the values but writes them in the wrong form, and GRPO with
SpeciaRL moves its greedy answers up the ladder; the code world's programs reach the rungs they
are meant to."""

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("math_verify", reason="the math extra (pip install 'rewardkit-rl[math]')")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "math_world"
sys.path.insert(0, str(EXAMPLE))

import run_worlds  # noqa: E402
from worlds import BROKEN, CASES, SOLUTIONS, ArithmeticWorld, CodeWorld  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_the_arithmetic_world_is_gsm8k_style_with_one_token_answers():
    world = ArithmeticWorld()
    problems = world.problems()
    assert len(problems) == 26  # 16 sums and 10 differences of 1..4
    assert problems[0].prompt == ("Li has 1 pens and buys 1 more . How many pens does Li have ?")
    assert sorted({p.label for p in problems}, key=int) == [str(n) for n in range(9)]
    vocabulary = world.vocabulary()
    assert all(p.label in vocabulary and f"{p.label}.0" in vocabulary for p in problems)


def test_the_quick_math_run_moves_the_greedy_answers_up_the_ladder(tmp_path):
    results = run_worlds.run("math", "quick", 0, tmp_path)
    mix = results["greedy_rung_mix"]
    # The warm start knows most values but writes them as decimals. The exact shares depend
    # on the numerics of torch, transformers and the CPU's kernels (0.81 of the greedy answers
    # in decimal form with one release, all of them with the next, 0.85 and one correct on
    # another CPU), so the test holds the world's promise: mostly the wrong form, at most a
    # few answers already in the asked form, every answer a one-token final answer.
    before = mix["before"]
    assert before["right_value_wrong_form"] >= 0.6
    assert before["correct"] <= 3 / 26
    assert before["no_final_answer"] == before["no_answer"] == 0.0
    assert sum(before.values()) == pytest.approx(1.0, abs=len(before) * 0.5e-4)  # 4 places
    # Eight steps move many answers, not one: 0.04 -> 0.42 correct and 0.85 -> 0.12 in the wrong
    # form with one CPU's kernels, 0.08 -> 0.62 and 0.77 -> 0 with another's (four steps moved
    # one answer of 26 with the first, which told nothing).
    after = mix["after"]
    assert after["correct"] >= before["correct"] + 0.2
    assert after["right_value_wrong_form"] <= before["right_value_wrong_form"] - 0.3
    steps = run_worlds.PRESETS["quick"]["rl_steps"]
    assert [s["step"] for s in results["training"]] == list(range(1, steps + 1))
    for step in results["training"]:  # every sampled answer placed on a rung
        shares = [v for k, v in step.items() if k.startswith("rung/")]
        assert len(shares) == 4 and sum(shares) == pytest.approx(1.0)
    assert json.loads((tmp_path / "results.json").read_text()) == results


@pytest.mark.skipif(not os.access("/usr/bin/bwrap", os.X_OK), reason="bubblewrap")
def test_the_code_worlds_programs_reach_their_rungs():
    from rewardkit.verifiers.code import CodeJudge

    world = CodeWorld()
    problems = {p.key: p for p in world.problems()}
    judge = CodeJudge(workers=2)
    sums = problems["sum"].label
    pairs = [(problems[t].label, program) for t, program in SOLUTIONS.items()]
    pairs += [(sums, f"print({a + b})") for a, b in CASES[:1]]
    pairs += [(sums, program) for program in BROKEN]
    assert judge.judge(pairs) == [
        *["passes_all"] * 4,
        "passes_some",  # print(5): right on the first sum only
        "runtime_error_or_timeout",
        "syntax_error",
        "wrong_output",
    ]
    assert all(program in world.vocabulary() for _, program in pairs)
