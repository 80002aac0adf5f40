"""The SpeciaRL CPU demo: the quick preset runs end to end, writes its outputs, and the same
seed gives the same table; the smoke preset checks the ways of starting it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "speciarl" / "cpu_demo.py"


def run(out: Path, *extra: str, preset: str = "quick") -> dict:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--preset", preset, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=1200,  # guards a hang; the quick preset takes about a minute
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| model | split | correctness |" in done.stdout
    return json.loads((out / "results.json").read_text())


RULES = "--rules=speciarl,exact"


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One quick run (seed 0), shared by the tests that compare runs with it."""
    out = tmp_path_factory.mktemp("demo") / "a"
    return out, run(out, RULES)


def test_quick_demo_runs_and_is_deterministic(tmp_path, first):
    out, first = first
    second = run(tmp_path / "b", RULES)
    for key in ("models", "training"):
        assert first[key] == second[key]  # same seed, same table
    assert set(first["models"]) == {"base", "speciarl", "exact"}
    base = first["models"]["base"]["test"]
    assert set(base) == {"greedy", "best_of_n"}
    assert base["best_of_n"]["hm"] >= base["greedy"]["hm"]  # best-of-N is an upper reference
    assert (out / "rung_mix.png").stat().st_size > 10_000
    assert (out / "results.md").read_text().startswith("| model |")
    # GRPO training wrote its per-step metrics.
    lines = (out / "train" / "speciarl" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 + first["config"]["rl_steps"]


def test_other_seed_gives_another_run(tmp_path, first):
    other = run(tmp_path / "b", RULES, "--seed", "1")
    assert other["training"] != first[1]["training"]


def test_rewardkit_demo_command_runs_the_script(tmp_path):
    exe = Path(sys.executable).parent / "rewardkit"
    done = subprocess.run(
        [str(exe), "demo", "--preset", "smoke", "--rules", "correct", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1200,  # guards a hang; the smoke preset takes seconds
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["preset"] == "smoke" and set(result["training"]) == {"correct"}


def test_trl_trainer_option(tmp_path):
    result = run(tmp_path, "--rules=speciarl", "--trainer", "trl", preset="smoke")
    assert result["trainer"] == "trl"
    history = result["training"]["speciarl"]
    assert len(history) == result["config"]["rl_steps"]
    assert all("rung/wrong" in step for step in history)  # TRL's logged metrics, per step
