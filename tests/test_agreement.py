"""Judge agreement: kappa against scikit-learn, edge cases, reward effects by hand, the CLI."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

import rewardkit as rk
from rewardkit.agreement import agreement, cohen_kappa

from .conftest import ANIMALS
from .judge_server import JudgeServer

EXE = os.path.join(os.path.dirname(sys.executable), "rewardkit")
SLUGS = list(rk.SPECIARL.slugs)


def reference(a, b, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cohen_kappa_score(a, b, labels=SLUGS, weights=weights)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_scikit_learn_on_random_verdicts(seed, weights):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    used = rng.choice(SLUGS, size=int(rng.integers(2, 7)), replace=False)  # some rungs unused
    a = list(rng.choice(used, n))
    flip = rng.random(n) < rng.random()
    b = [str(rng.choice(used)) if f else x for x, f in zip(a, flip)]
    report = agreement(a, b, rk.SPECIARL)
    got = {None: report.kappa, "linear": report.kappa_linear, "quadratic": report.kappa_quadratic}
    want = reference(a, b, weights)
    if np.isnan(want):
        assert got[weights] is None
    else:
        assert got[weights] == pytest.approx(want, abs=1e-12)


def test_edge_cases():
    same = ["specific", "generic", "wrong", "abstain"]
    perfect = agreement(same, same, rk.SPECIARL)
    assert perfect.kappa == perfect.kappa_linear == perfect.kappa_quadratic == 1.0
    assert perfect.raw == 1.0 and perfect.b_higher is None and perfect.disagreements == 0
    # Total disagreement: every row on the opposite end.
    total = agreement(["wrong", "specific"] * 5, ["specific", "wrong"] * 5, rk.SPECIARL)
    assert (
        total.raw == 0.0
        and total.kappa
        == pytest.approx(reference(["wrong", "specific"] * 5, ["specific", "wrong"] * 5, None))
        and total.kappa < 0
    )
    assert total.b_higher == 0.5
    # One rung only: chance agreement is perfect, kappa undefined - None with a reason, not NaN.
    one = agreement(["generic"] * 6, ["generic"] * 6, rk.SPECIARL)
    assert one.kappa is None and one.kappa_quadratic is None and one.raw == 1.0
    assert "undefined" in one.notes[0]
    json.dumps(one.to_dict(), allow_nan=False)
    # No row with both verdicts.
    empty = agreement([None, "wrong"], ["generic", None], rk.SPECIARL)
    assert empty.n == 0 and empty.raw is None and empty.unscored == {"a": 1, "b": 1}
    assert cohen_kappa(np.zeros((3, 3))) is None


def test_precision_recall_and_flattery():
    a = ["generic", "generic", "less_specific", "specific", "wrong"]
    b = ["less_specific", "generic", "less_specific", "specific", "abstain"]
    r = agreement(a, b, rk.SPECIARL, names=("human", "llm"))
    assert r.confusion[2][3] == 1 and r.confusion[0][1] == 1
    assert r.per_rung["generic"]["recall"] == 0.5 and r.per_rung["generic"]["precision"] == 1.0
    assert r.per_rung["less_specific"]["precision"] == 0.5
    assert r.per_rung["more_specific"]["precision"] is None
    assert r.disagreements == 2 and r.b_higher == 1.0  # both misses flatter


def test_reward_effects_by_hand():
    # Two groups of 3 under speciarl. Group 1: A best = less_specific, B lifts one answer to
    # specific, so the reference moves and the two less_specific answers lose their reward.
    a = ["less_specific", "generic", "less_specific", "wrong", "generic", "generic"]
    b = ["specific", "generic", "less_specific", "wrong", "generic", "generic"]
    r = agreement(a, b, rk.SPECIARL, group_size=3, rule="speciarl")
    # A: [1, 0, 1, 0, 1, 1]; B: [1, 0, 0, 0, 1, 1]
    assert r.rewards["changed"] == 1 and r.rewards["groups_changed"] == 1
    assert r.rewards["groups"] == 2 and r.rewards["rule"] == "speciarl"
    exact = agreement(a, b, rk.SPECIARL, group_size=3, rule=rk.Exact())
    assert exact.rewards["changed"] == 1  # 0 -> 1 for the lifted answer
    unscored = agreement(["wrong", None], ["wrong", None], rk.SPECIARL, group_size=2)
    assert unscored.rewards["changed"] == 0  # NaN on both sides is no change
    with pytest.raises(ValueError, match="groups of 4"):
        agreement(a, b, rk.SPECIARL, group_size=4)
    with pytest.raises(ValueError, match="unknown verdict 'nope'"):
        agreement(["nope"], ["wrong"], rk.SPECIARL)


# -- the command ---------------------------------------------------------------------------------


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def agree(*args):
    return subprocess.run([EXE, "agree", *args], capture_output=True, text=True, timeout=120)


def test_cli_columns_groups_and_report(tmp_path):
    a = ["less_specific", "generic", "less_specific", "wrong", "generic", "generic"]
    b = ["specific", "generic", "less_specific", "wrong", "generic", "generic"]
    rows = write_rows(tmp_path / "r.jsonl", [{"human": x, "llm": y} for x, y in zip(a, b)])
    done = agree(
        "--a", "human", "--b", "llm", "-g", "3", "--report", str(tmp_path / "rep"), "-i", str(rows)
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == json.loads((tmp_path / "rep" / "agreement.json").read_text())
    assert out["rewards"]["changed"] == 1 and out["names"] == ["human", "llm"]
    assert out["kappa"] == pytest.approx(reference(a, b, None))
    md = (tmp_path / "rep" / "agreement.md").read_text()
    assert "| **less_specific** | 0 | 0 | 0 | 1 | 1 | 0 |" in md
    assert (tmp_path / "rep" / "confusion.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "rows, args, message",
    [
        ([{"a": "wrong", "b": "nope"}], ["--a", "a", "--b", "b"], "line 1: unknown verdict 'nope'"),
        (
            [{"a": "wrong"}, {"a": "wrong", "b": "wrong"}],
            ["--a", "a", "--b", "b"],
            "line 1: missing field 'b'",
        ),
        (
            [{"a": "wrong", "b": "wrong"}] * 3,
            ["--a", "a", "--b", "b", "-g", "2"],
            "3 rows do not split into groups of 2",
        ),
        ([{"a": "wrong", "b": "wrong"}], ["--a", "a"], "--b COLUMN or --judge-b NAME"),
        (
            [{"a": "wrong", "b": "wrong"}],
            ["--a", "a", "--b", "b", "--judge-b", "taxonomy"],
            "either --b COLUMN or --judge-b",
        ),
    ],
)
def test_cli_bad_input_exits_2_naming_the_line(tmp_path, rows, args, message):
    done = agree(*args, "-i", str(write_rows(tmp_path / "r.jsonl", rows)))
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""


def test_cli_runs_two_judges_with_cost(tmp_path):
    predictions = ["dog", "spitz", "samoyed", "cat", "animal", "I don't know", "husky", None]
    rows = write_rows(
        tmp_path / "r.jsonl", [{"label": "samoyed", "prediction": p} for p in predictions]
    )
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        server.replies["dog"] = "less_specific"  # a judge that flatters one answer
        done = agree(
            "--judge-a",
            "taxonomy",
            "--taxonomy",
            str(ANIMALS),
            "--judge-b",
            "openai",
            "--option-b",
            "model=m",
            "--option-b",
            f"api_base={server.url}",
            "--option-b",
            "api_key_env=null",
            "--cache",
            str(tmp_path / "c.sqlite"),
            "-i",
            str(rows),
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["names"] == ["taxonomy", "openai"]
    assert out["disagreements"] == 1 and out["b_higher"] == 1.0
    assert out["unscored"] == {"taxonomy": 1, "openai": 1}
    cost = out["cost"]["openai"]
    assert cost["calls"] == 7 and cost["prompt_tokens"] == 350 and cost["verdicts_per_second"] > 0
    assert "calls" not in out["cost"]["taxonomy"] and out["cost"]["taxonomy"]["seconds"] >= 0
