"""Every example script runs from a temp folder and prints the rewards its data imply."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# What each script must print: rewards fixed by the taxonomy (the judge is deterministic), or the
# run's last step (training from a seed).
EXPECTED = {
    "openrlhf_reward.py": ["spitz: reward +1.0", "cat: reward +0.0", "I don't know: reward +0.0"],
    "quickstart.py": ["judge: 16 pairs, 14 judged", "1 without an answer", "best of 4:"],
    "verl_reward.py": [
        "'verdict': 'less_specific'",
        "<answer>spitz</answer> -> +1.0 (less_specific)",
        "<answer>cat</answer> -> +0.0 (wrong)",
        "no answer -> -1.0 (no_answer)",
    ],
    "own_loop.py": ["step 30: reward", "metrics in runs/own_loop/metrics.jsonl"],
    "redteam_cards.py": ["| empty_symbols | 33.3% | 33.3% | 0.0% | 0.0% |"],  # the one hole
    "trl_text.py": ["step 5: reward"],
    "trl_vision.py": ["step 3: reward"],
}


# Arguments for a script whose full run belongs elsewhere: the tiny HF judge's card takes
# minutes on 2 busy cores and runs end to end in tests/test_redteam.py.
ARGS = {"redteam_cards.py": ["runs/cards", "taxonomy"]}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "examples")}
    done = subprocess.run(
        [sys.executable, str(script), *ARGS.get(script.name, [])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # guards a hang; the slowest takes about 20 s
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED[script.name]:
        assert line in done.stdout, done.stdout
