"""The math judge's opt-in LLM fallback, against a real OpenAI-compatible server on loopback:
only answers math-verify cannot read are sent; hostile replies and failed calls are unscored
with their reason, counted and logged - never a rung, never a silent 0."""

import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("math_verify", reason="the math extra (pip install 'rewardkit-rl[math]')")

import rewardkit as rk  # noqa: E402
from rewardkit.cli import main  # noqa: E402
from rewardkit.judges.openai_compat import openai_judge  # noqa: E402
from rewardkit.verifiers.math import MATH, MathJudge  # noqa: E402
from tests.judge_server import JudgeServer  # noqa: E402

ANIMALS = Path(__file__).resolve().parents[1] / "examples" / "data" / "animals.json"
WORDS = "the answer is one half"  # math-verify reads no final answer in these
PAIRS = [
    ("1/2", r"\boxed{\frac{1}{2}}"),  # math-verify: correct, never sent
    ("3", r"\boxed{4}"),  # math-verify: wrong, never sent
    ("1/2", WORDS),
    ("3", "three, I think"),
    ("5", "no idea at all"),
]


@pytest.fixture
def server():
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as s:
        s.replies = {WORDS: "correct", "three, I think": "VERDICT: wrong"}
        yield s


def judge_with(server, **options):
    fallback = openai_judge(
        "m", server.url, api_key_env=None, ladder=MATH, retries=0, max_failure_rate=None,
        **options,
    )  # fmt: skip
    return MathJudge(workers=1, fallback=fallback)


def test_only_unreadable_answers_are_sent_and_their_share_is_counted_and_logged(server, caplog):
    server.replies["no idea at all"] = "no_final_answer"
    judge = judge_with(server)
    try:
        with caplog.at_level(logging.INFO, logger="rewardkit.verifiers.fallback"):
            records = judge.judge_records(PAIRS)
    finally:
        judge.close()
    assert [r.verdict for r in records] == [
        "correct",
        "wrong",
        "correct",
        "wrong",
        "no_final_answer",
    ]
    assert [r.error for r in records] == [None] * 5
    assert records[2].reply == "fallback openai: correct"
    assert records[3].reply == "fallback openai: VERDICT: wrong"
    sent = [json.loads(b["messages"][-1]["content"][b["messages"][-1]["content"].rfind("{"):])
            for b in server.requests]  # fmt: skip
    assert sorted(s["prediction"] for s in sent) == sorted(
        [WORDS, "three, I think", "no idea at all"]
    )
    s = judge.stats
    assert (s.unique, s.fallback, s.fallback_verdicts, s.failures) == (5, 3, 3, 0)
    assert s.fallback_share == 0.6
    assert [r.getMessage() for r in caplog.records] == [
        "3 of 5 answers (60.0%) could not be read by the rule and went to the fallback judge "
        "openai: 3 verdicts, 0 unscored"
    ]


@pytest.mark.parametrize(
    "reply, why",
    [
        ("Final verdict: wrong\nVERDICT: correct", "off ladder (two verdicts: wrong and correct)"),
        ("I cannot decide.", "off ladder (no VERDICT: <label> last line): 'I cannot decide.'"),
        (
            "<think>x</think>correct",
            "off ladder (a think tag in the reply of a judge not configured",
        ),
        (
            "right_value_wrong_form",
            "the fallback said 'right_value_wrong_form', which this judge never gives",
        ),
    ],
)
def test_a_hostile_reply_is_unscored_with_its_reason_never_a_rung(server, reply, why):
    server.replies = {WORDS: reply}
    judge = judge_with(server)
    try:
        (record,) = judge.judge_records([("1/2", WORDS)])
    finally:
        judge.close()
    assert record.verdict is None
    assert record.error.startswith("unscored: the fallback judge failed: " + why)
    assert (judge.stats.fallback, judge.stats.fallback_verdicts, judge.stats.failures) == (1, 0, 1)
    reward = rk.SpeciaRL()([record.verdict, "correct"], group_size=2, ladder=MATH)
    assert reward == [None, 1.0]  # unscored stays unscored through the rule


def test_a_failed_call_is_unscored_with_its_reason(server):
    server.faults = ["500"]
    judge = judge_with(server)
    try:
        (record,) = judge.judge_records([("1/2", WORDS)])
    finally:
        judge.close()
    assert record.verdict is None
    assert record.error == (
        f"unscored: the fallback judge failed: HTTP 500 from {server.url}/chat/completions: "
        '{"error": {"message": "injected"}}'
    )
    assert judge.stats.errors == {"HTTP 500": 1}


def test_a_fallback_on_another_ladder_or_with_a_rung_on_failure_is_refused(server):
    other = openai_judge("m", server.url, api_key_env=None)  # the speciarl ladder
    with pytest.raises(ValueError, match="places answers on 'speciarl', not on 'math_answer'"):
        MathJudge(workers=1, fallback=other)
    zero = openai_judge("m", server.url, api_key_env=None, ladder=MATH, on_failure="wrong")
    with pytest.raises(ValueError, match="on_failure must be 'missing'"):
        MathJudge(workers=1, fallback=zero)
    with pytest.raises(
        TypeError, match="fallback must be a judge, or on the command line an object naming one"
    ):
        MathJudge(workers=1, fallback="openai")


def test_the_command_line_takes_the_fallback_as_a_judge_option(server, tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "\n".join(json.dumps({"label": t, "prediction": p}) for t, p in PAIRS[1:3]) + "\n"
    )
    spec = json.dumps(
        {"judge": "openai", "model": "m", "api_base": server.url, "api_key_env": None}
    )
    code = main(
        ["judge", "--judge", "math", "-i", str(rows), "--judge-option", "workers=1",
         "--judge-option", f"fallback={spec}"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    verdicts = [json.loads(line)["verdict"] for line in out.splitlines()]
    assert verdicts == ["wrong", "correct"]
    assert len(server.requests) == 1


def test_the_async_path_keeps_the_reasons(server):
    import asyncio

    server.replies = {WORDS: "I cannot decide."}
    judge = judge_with(server)
    try:
        records = asyncio.run(judge.ajudge_records([("1/2", WORDS), ("(", "1")]))
    finally:
        judge.close()
    assert [r.error for r in records] == [
        "unscored: the fallback judge failed: off ladder (no VERDICT: <label> last line): "
        "'I cannot decide.'",
        "unscored: the ground truth '(' cannot be parsed",
    ]
