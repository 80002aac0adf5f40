"""Hostile input in the core: what a policy collapsing into repetition writes, flags and numbers
that are not what they claim, a taxonomy thousands of levels deep, and command-line input that
is broken in every way a file can be."""

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.answers import extract_answer, extract_answers

EXE = shutil.which("rewardkit", path=os.path.dirname(sys.executable))


@pytest.mark.parametrize(
    "text",
    [
        "<answer>" * 131_072 + "samoyed",  # 1 MB, never closed
        "</answer>" * 116_508,
        "<answer>a" * 116_508 + "</answer>",
        "<think>" * 149_797 + "x",
        "<ANSWER>" * 131_072 + "</answer>",
    ],
)
def test_extraction_is_linear_on_a_megabyte_of_repetition(text):
    start = time.perf_counter()
    extract_answer(text)
    # Guards the quadratic hang (3.4 s for 64 KB, minutes for 1 MB); linear takes ~20 ms.
    assert time.perf_counter() - start < 10.0


def test_extraction_keeps_its_meaning():
    assert extract_answer("<answer>a</answer> then <answer> b </answer>").text == "b"
    assert extract_answer("<answer>a</answer> <answer>b").text == "a"  # unclosed last tag
    assert extract_answer("<answer>x<answer>y</answer>").text == "y"  # the innermost
    assert extract_answer("<think><answer>no</answer></think><answer>yes</answer>").text == "yes"
    assert extract_answer("<Answer>Dog</ANSWER>").text == "Dog"
    assert not extract_answer("</answer><answer>").found


@pytest.mark.parametrize(
    "text", [".", "...", "\u2026", "\u200b", " \u00a0 ", "?!", "\u200b.\u200b"]
)
def test_punctuation_or_invisible_answers_count_as_empty(text):
    answers, found = extract_answers([f"<answer>{text}</answer>"])
    assert answers == [None] and found == [False]
    # ... so the format penalty applies, not a reward for "abstain".
    reward = rk.LadderReward("taxonomy", "correct", taxonomy="examples/data/animals.json")
    assert reward([f"<answer>{text}</answer>"], ["samoyed"]) == [-1.0]


def test_symbols_and_words_still_count():
    answers, found = extract_answers(["<answer>+</answer>", "<answer>none.</answer>"])
    assert answers == ["+", "none."] and found == [True, True]


@pytest.mark.parametrize("flags", [["no"], [1], [None], np.array([0.0])])
def test_non_bool_answer_found_flags_are_rejected(flags):
    with pytest.raises(TypeError, match="answer_found must be true/false flags"):
        rk.Correct()(["generic"], answer_found=flags)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rk.SpeciaRL(no_answer=float("inf")),
        lambda: rk.Exact(unscored=float("nan")),
        lambda: rk.Graded(scale={"wrong": 0, "correct": float("inf")}),
        lambda: rk.Format(found=float("-inf")),
    ],
)
def test_non_finite_rule_parameters_are_rejected(make):
    with pytest.raises(ValueError, match="must be finite"):
        make()


def test_a_taxonomy_8000_levels_deep_stays_linear():
    names = [f"n{i}" for i in range(8000)]
    tracemalloc.start()
    try:
        judge = rk.TaxonomyJudge(rk.Taxonomy([names]))
        verdicts = judge([("n7999", "n0"), ("n0", "n7999"), ("n7999", "n7998"), ("n5", "n5")])
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert verdicts == ["generic", "more_specific", "less_specific", "specific"]
    # The quadratic version held 2.1 GB (and took 8.7 s); linear peaks near 1.3 MB. Measured by
    # tracemalloc for this test alone, not the process's peak (which depends on test order).
    assert peak_mb < 50


# -- the command line ----------------------------------------------------------------------------


def cli(*args, stdin=b"", **kw):
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, timeout=60, **kw)


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"verdict": "wrong"}\n{"verdict": "\xff"}\n', "line 2: not valid UTF-8"),
        (b'{"verdict": "wrong", "x": NaN}\n', "line 1: NaN is not valid JSON"),
        (b'{"verdict": "wrong", "x": -Infinity}\n', "line 1: -Infinity is not valid JSON"),
        (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "line 1: JSON nested too deeply"),
    ],
)
def test_broken_input_names_the_line(tmp_path, data, message):
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    for done in (cli("score", "-i", str(path)), cli("score", stdin=data)):
        assert done.returncode == 2 and message in done.stderr.decode()
        assert b"Traceback" not in done.stderr and done.stdout == b""


def test_closed_stdin(tmp_path):
    done = subprocess.run(
        f"{EXE} score <&-", shell=True, capture_output=True, text=True, executable="/bin/bash"
    )
    assert done.returncode == 2 and "stdin is closed" in done.stderr


def test_group_rules_need_a_group_size():
    done = cli("reward", "--rule", "speciarl", stdin=b'{"verdict": "wrong"}\n')
    assert done.returncode == 2 and b"group-relative: give --group-size" in done.stderr
    done = cli("reward", "--rule", "exact", stdin=b'{"verdict": "wrong"}\n')
    assert done.returncode == 0  # a static rule needs none


@pytest.mark.parametrize(
    "args, message",
    [
        (["reward", "--rule", "format", "--no-answer", "-1"], "does not take --no-answer"),
        (["reward", "--rule", "exact", "--unscored", "inf"], "--unscored must be a finite number"),
        (
            ["reward", "--rule", "exact", "--no-answer", "nan"],
            "--no-answer must be a finite number",
        ),
        (
            [
                "judge",
                "--judge",
                "openai",
                "--model",
                "m",
                "--api-base",
                "http://127.0.0.1:9/v1",
                "--timeout",
                "nan",
            ],
            "--call-timeout must be a finite number > 0",
        ),
        (
            ["judge", "--taxonomy", "examples/data/animals.json", "-o", "/no/such/dir/out.jsonl"],
            "no directory /no/such/dir",
        ),
    ],
)
def test_bad_flags_are_clear_errors(args, message):
    done = cli(*args, stdin=b'{"verdict": "wrong", "label": "samoyed", "prediction": "dog"}\n')
    assert done.returncode == 2 and message in done.stderr.decode(), done.stderr
    assert b"Traceback" not in done.stderr


def test_output_writes_through_a_symlink_and_keeps_the_mode(tmp_path):
    target = tmp_path / "real.jsonl"
    target.write_text("old\n")
    os.chmod(target, 0o644)
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    done = cli("reward", "--rule", "exact", "-o", str(link), stdin=b'{"verdict": "specific"}\n')
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads(target.read_text())["reward"] == 1.0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    fresh = tmp_path / "new.jsonl"
    cli("reward", "--rule", "exact", "-o", str(fresh), stdin=b'{"verdict": "specific"}\n')
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
