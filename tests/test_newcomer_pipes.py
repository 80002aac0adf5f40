"""A ``judge | reward | score`` pipe and its neighbours: two saved runs compared without a
merge, a plugin's ladder carried down the pipe, options a run ignores said once, a summary
whose counts add up, a progress bar of rewardkit's own."""

import json
import re
import subprocess
import sys

import pytest

from .conftest import ANIMALS
from .newcomer_support import cli


def test_two_saved_judge_runs_are_compared_without_a_hand_merge(tmp_path, monkeypatch, capsys):
    from rewardkit.data import path

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    rollouts = path("rollouts.jsonl")
    judge = ["judge", "--taxonomy", ANIMALS, "-i", rollouts]
    assert cli(monkeypatch, capsys, [*judge, "-o", a])[0] == 0
    assert cli(monkeypatch, capsys, [*judge, "--verdict-field", "again", "-o", b])[0] == 0
    again = [json.loads(line) for line in b.read_text().splitlines()]
    assert "verdict" not in again[0] and again[0]["again"] == "generic"
    code, out, err = cli(
        monkeypatch, capsys, ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", b]
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["names"] == ["verdict", "again"] and report["rows"] == 16
    assert report["kappa"] == 1.0 and report["unscored"] == {"verdict": 1, "again": 1}
    # Files that do not hold the same rows are refused, naming the lines.
    short = tmp_path / "short.jsonl"
    short.write_text("".join(b.read_text().splitlines(keepends=True)[:3]))
    code, _, err = cli(
        monkeypatch,
        capsys,
        ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", short],
    )
    assert (code, err) == (
        2,
        f"rewardkit agree: error: {a} has 16 rows, {short} 3: not one run each\n",
    )
    swapped = tmp_path / "swapped.jsonl"
    lines = b.read_text().splitlines(keepends=True)
    swapped.write_text("".join([lines[1], lines[0], *lines[2:]]))
    code, _, err = cli(
        monkeypatch,
        capsys,
        ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", swapped],
    )
    assert code == 2 and err == (
        f"rewardkit agree: error: {a}, line 1 and {swapped}, line 1: different predictions "
        "('dog', 'spitz'); the two files must hold the same rows\n"
    )


class _TriPlugin:
    """A plugin ladder (low < mid < high) and a judge on it that echoes the prediction."""

    def __init__(self):
        import rewardkit as rk

        self.ladder = rk.Ladder(
            "tri",
            [
                rk.Rung("low", "Low", 0, False, "wrong"),
                rk.Rung("mid", "Mid", 1, True, "close"),
                rk.Rung("high", "High", 2, True, "right"),
            ],
        )

    @property
    def hooks(self):
        import rewardkit as rk

        ladder = self.ladder

        class Echo(rk.Judge):
            def __init__(self):
                super().__init__()
                self.ladder = ladder

            def judge_unique(self, pairs):
                return [prediction for _, prediction in pairs]

        class Hooks:
            @rk.hookimpl
            def register_ladders(self, register):
                register(ladder)

            @rk.hookimpl
            def register_judges(self, register):
                register("tri_echo", Echo)

        return Hooks()


@pytest.fixture
def tri_plugin():
    from rewardkit.plugins import pm

    hooks = _TriPlugin().hooks
    pm.register(hooks, name="tri-test")
    yield
    pm.unregister(hooks)


def test_a_plugin_ladder_travels_down_the_pipe(tri_plugin, monkeypatch, capsys):
    rows = "".join(
        json.dumps({"label": "x", "prediction": p}) + "\n" for p in ["low", "high", "mid", "high"]
    )
    code, judged, err = cli(monkeypatch, capsys, ["judge", "--judge", "tri_echo"], rows)
    assert code == 0, err
    assert [json.loads(line)["ladder"] for line in judged.splitlines()] == ["tri"] * 4
    code, rewarded, err = cli(
        monkeypatch, capsys, ["reward", "--rule", "speciarl", "-g", "4"], judged
    )
    assert code == 0, err
    assert [json.loads(line)["reward"] for line in rewarded.splitlines()] == [0.0, 1.0, 0.0, 1.0]
    code, scored, err = cli(monkeypatch, capsys, ["score"], rewarded)
    assert code == 0, err
    assert json.loads(scored)["counts"] == {"low": 1, "mid": 1, "high": 2}
    # A --ladder that contradicts the rows, and verdicts of a ladder the rows do not name.
    code, _, err = cli(monkeypatch, capsys, ["score", "--ladder", "speciarl"], judged)
    assert (code, err) == (
        2,
        "rewardkit score: error: --ladder speciarl, but <stdin>, line 1 was judged on ladder "
        "'tri'\n",
    )
    bare = judged.replace(', "ladder": "tri"', "")
    code, _, err = cli(monkeypatch, capsys, ["score"], bare)
    assert code == 2 and err.endswith(
        "(verdicts of another ladder? give --ladder NAME; rewardkit plugins lists the ladders)\n"
    )
    assert cli(monkeypatch, capsys, ["score", "--ladder", "tri"], bare)[0] == 0


def test_options_a_run_does_not_use_are_said_once(tmp_path, monkeypatch, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"label": "samoyed", "prediction": "dog", "verdict": "generic"}))
    code, _, err = cli(
        monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS, "--tag", "x", "-i", rows]
    )
    assert code == 0
    assert err.splitlines()[0] == (
        "rewardkit judge: --tag ignored: it reads the answer out of --completion-field, not given"
    )
    args = ["agree", "--a", "verdict", "--option-a", "k=1", "--judge-b", "taxonomy"]
    args += ["--taxonomy", ANIMALS, "--cache", tmp_path / "c.sqlite", "--rule", "exact", "-i", rows]
    code, out, err = cli(monkeypatch, capsys, args)
    assert code == 0 and json.loads(out)["rows"] == 1
    assert err.splitlines() == [
        "rewardkit agree: --rule ignored: reward effects need --group-size",
        "rewardkit agree: --option-a ignored: judge A's verdicts come from the column --a",
        "rewardkit agree: --cache ignored: no judge run takes it (taxonomy)",
    ]
    assert not (tmp_path / "c.sqlite").exists()


def test_progress_is_drawn_with_progress_or_on_a_terminal(tmp_path, monkeypatch, capsys):
    rows = "".join(
        json.dumps({"label": "samoyed", "prediction": f"dog {i}"}) + "\n" for i in range(300)
    )
    code, out, err = cli(monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS, "--progress"], rows)
    assert code == 0 and len(out.splitlines()) == 300
    assert err.splitlines()[-2:] == [
        "rewardkit judge: 300/300 distinct pairs (100%)",
        "rewardkit judge: 300 rows: 0 without an answer, 300 judged "
        "(300 with a verdict, 0 without)",
    ]
    code, _, err = cli(monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS], rows)
    assert code == 0 and "distinct pairs" not in err  # stderr is no terminal here


def test_the_core_stays_light_with_the_progress_bar():
    code = "import sys, rewardkit.cli; print('tqdm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]  # rewardkit draws its own bar (cli/progress.py)


def test_the_judge_summary_adds_up_with_failures_and_a_stopped_run_claims_nothing(
    tmp_path, monkeypatch, capsys
):
    import rewardkit as rk

    from .judge_server import JudgeServer

    predictions = ["dog", "spitz", "cat", None, "dog", "samoyed"]
    rows = "".join(json.dumps({"label": "samoyed", "prediction": p}) + "\n" for p in predictions)
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        base = ["judge", "--judge", "openai", "--model", "m", "--api-base", server.url]
        server.faults = ["ok", "nolabel", "nolabel"]  # dog judged, spitz and cat off the ladder
        code, out, err = cli(monkeypatch, capsys, [*base, "--concurrency", "1"], rows)
        assert code == 0, err
        assert [json.loads(line)["verdict"] for line in out.splitlines()] == [
            "generic", None, None, None, "generic", "specific"
        ]  # fmt: skip
        summary = err.splitlines()[-1]
        assert summary.startswith(
            "rewardkit judge: 6 rows: 1 without an answer, 5 judged (3 with a verdict, 2 without), "
            "4 calls, 0 cache hits, 0 retries, "
        )
        assert summary.endswith(", 2 failures (off ladder 2)")
        server.faults = ["401"]  # a key the server refuses: the run stops at once
        code, out, err = cli(monkeypatch, capsys, base, rows)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("rewardkit judge: error: openai judge at ")
    assert "failures" not in err and "judged" not in err


def test_redteam_draws_the_same_progress_bar(monkeypatch, capsys):
    from rewardkit.data import path

    args = ["redteam", "--taxonomy", ANIMALS, "-g", "8", "-i", path("redteam.jsonl")]
    code, out, err = cli(monkeypatch, capsys, [*args, "--progress"])
    assert code == 0 and json.loads(out)["status"] == "pass"
    done = re.findall(r"^rewardkit redteam: (\d+)/(\d+) pairs \(100%\)$", err, re.M)
    assert len(done) == 1 and done[0][0] == done[0][1]
    assert "pairs (" not in cli(monkeypatch, capsys, args)[2]  # no terminal, no --progress


def test_a_rule_a_spec_overrides_is_said(tmp_path, monkeypatch, capsys):
    import rewardkit as rk
    from rewardkit.data import path

    spec = tmp_path / "reward_spec.json"
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=path("animals.json"))
    spec.write_text(reward.to_spec(group_size=2).to_json())
    judged = "".join(json.dumps({"verdict": v}) + "\n" for v in ["generic", "less_specific"])
    code, out, err = cli(monkeypatch, capsys, ["reward", "--spec", spec, "--rule", "exact"], judged)
    assert code == 0
    # speciarl's rewards (exact would give 0.0 to both)
    assert [json.loads(line)["reward"] for line in out.splitlines()] == [0.0, 1.0]
    assert err == f"rewardkit reward: --rule ignored: --spec {spec} names rule 'speciarl'\n"
