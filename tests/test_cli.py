import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from rewardkit.cli import main

from .conftest import ANIMALS


def run(monkeypatch, capsys, args, rows=None, text=None):
    data = text if text is not None else "".join(json.dumps(r) + "\n" for r in rows or [])
    monkeypatch.setattr(sys, "stdin", io.StringIO(data))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def lines(out):
    return [json.loads(line) for line in out.splitlines()]


ROWS = [
    {"id": 1, "label": "samoyed", "prediction": "Samoyed", "extra": {"k": [1]}},
    {"id": 2, "label": "samoyed", "prediction": "spitz"},
    {"id": 3, "label": "samoyed", "prediction": None},
    {"id": 4, "label": "samoyed", "prediction": "cat"},
]


def test_judge_adds_verdicts_and_passes_other_fields(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, ["judge", "--taxonomy", str(ANIMALS)], ROWS)
    assert code == 0, err
    rows = lines(out)
    assert [r["verdict"] for r in rows] == ["specific", "less_specific", None, "wrong"]
    assert rows[0]["extra"] == {"k": [1]} and rows[0]["id"] == 1
    assert rows[2]["answer_found"] is False and "answer_found" not in rows[0]


def test_judge_reward_score_pipeline(monkeypatch, capsys):
    _, judged, _ = run(monkeypatch, capsys, ["judge", "--taxonomy", str(ANIMALS)], ROWS)
    code, out, err = run(
        monkeypatch, capsys, ["reward", "--rule", "speciarl", "-g", "4"], text=judged
    )
    assert code == 0, err
    assert [r["reward"] for r in lines(out)] == [1.0, 0.0, -1.0, 0.0]
    code, out, _ = run(monkeypatch, capsys, ["score", "-g", "2"], text=judged)
    result = json.loads(out)
    assert result["n"] == 3 and result["unscored"] == 1
    assert result["correctness"] == pytest.approx(2 / 3)
    assert result["counts"]["wrong"] == 1
    assert result["best_of_n"]["n"] == 2


def test_reward_unscored_is_null_and_policies_apply(monkeypatch, capsys):
    rows = [{"verdict": None}, {"verdict": "generic"}, {"verdict": "wrong", "answer_found": False}]
    code, out, _ = run(monkeypatch, capsys, ["reward", "--rule", "exact"], rows)
    assert code == 0 and [r["reward"] for r in lines(out)] == [None, 0.0, -1.0]
    code, out, _ = run(
        monkeypatch,
        capsys,
        ["reward", "--rule", "exact", "--unscored", "0.5", "--no-answer", "unscored"],
        rows,
    )
    assert [r["reward"] for r in lines(out)] == [0.5, 0.0, None]


@pytest.mark.parametrize(
    "args, text, message",
    [
        (["score"], '{"verdict": "wrong"}\nnot json\n', "line 2: not valid JSON"),
        (["score"], '{"verdict": "wrong"}\n[1]\n', "line 2: expected a JSON object"),
        (["score"], '{"verdict": "wrong"}\n\n{"x": 1}\n', "line 3: missing field 'verdict'"),
        (["score"], '{"verdict": "Wrong"}\n', "line 1: unknown verdict 'Wrong'"),
        (["reward", "--rule", "exact"], '{"verdict": 3}\n', "line 1: field 'verdict' must be"),
        (
            ["reward", "--rule", "exact"],
            '{"verdict": "wrong", "answer_found": "yes"}\n',
            "line 1: field 'answer_found' must be true or false",
        ),
        (["reward", "--rule", "nope"], '{"verdict": "wrong"}\n', "unknown rule 'nope'"),
        (["reward", "--rule", "exact", "--ladder", "nope"], "", "unknown ladder 'nope'"),
        (
            ["reward", "--rule", "speciarl", "-g", "2"],
            '{"verdict": "wrong"}\n' * 3,
            "3 rows .* do not split into groups of 2",
        ),
        (
            ["judge", "--taxonomy", str(ANIMALS)],
            '{"label": "samoyed"}\n',
            "line 1: missing field 'prediction'",
        ),
        (
            ["judge", "--taxonomy", str(ANIMALS)],
            '{"label": "samoyed", "prediction": "x"}\n{"label": "yeti", "prediction": "x"}\n',
            "line 2: label 'yeti' is not in",
        ),
        (
            ["judge", "--taxonomy", "/nonexistent.json"],
            '{"label": "a", "prediction": "b"}\n',
            "cannot read taxonomy file",
        ),
    ],
)
def test_bad_input_exits_nonzero_naming_the_line(monkeypatch, capsys, args, text, message):
    code, out, err = run(monkeypatch, capsys, args, text=text)
    assert code == 2
    assert out == ""  # nothing half-written
    assert err.startswith(f"rewardkit {args[0]}: error:")
    import re

    assert re.search(message, err), err


def test_output_file_is_all_or_nothing(monkeypatch, capsys, tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n")
    code, _, _ = run(
        monkeypatch,
        capsys,
        ["reward", "--rule", "exact", "-o", str(target)],
        text='{"verdict": "specific"}\n{"verdict": "??"}\n',
    )
    assert code == 2 and target.read_text() == "previous\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temp file left behind
    code, _, _ = run(
        monkeypatch,
        capsys,
        ["reward", "--rule", "exact", "-o", str(target)],
        text='{"verdict": "specific"}\n',
    )
    assert code == 0 and json.loads(target.read_text())["reward"] == 1.0


def test_console_script_end_to_end(tmp_path):
    exe = shutil.which("rewardkit", path=os.path.dirname(sys.executable))
    assert exe, "the rewardkit console script is installed beside this Python"
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    judged = tmp_path / "judged.jsonl"
    subprocess.run(
        [exe, "judge", "--taxonomy", str(ANIMALS), "-i", str(rows), "-o", str(judged)], check=True
    )
    done = subprocess.run(
        [exe, "score", "-i", str(judged)], check=True, capture_output=True, text=True
    )
    assert json.loads(done.stdout)["counts"]["specific"] == 1
    done = subprocess.run([exe, "plugins"], check=True, capture_output=True, text=True)
    assert "rewardkit.builtins" in done.stdout
    bad = subprocess.run(
        [exe, "reward", "--rule", "speciarl", "-g", "0"], capture_output=True, text=True, input=""
    )
    assert bad.returncode == 2 and "positive integer" in bad.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    exe = shutil.which("rewardkit", path=os.path.dirname(sys.executable))
    rows = "".join(json.dumps({"verdict": "specific"}) + "\n" for _ in range(200_000))
    (tmp_path / "rows.jsonl").write_text(rows)
    done = subprocess.run(
        f"{exe} reward --rule exact -i {tmp_path / 'rows.jsonl'} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        executable="/bin/bash",
    )
    assert done.stdout.strip() == '{"verdict": "specific", "reward": 1.0}'
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr
