"""examples/speciarl/gpu_check.py in its --cpu mode: the same three checks at tiny sizes, so the
script a GPU machine runs cannot rot."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "speciarl" / "gpu_check.py"


def test_the_gpu_check_runs_in_cpu_mode(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["device"] == "cpu"
    demo = report["demo_world"]
    assert set(demo["models"]) == {"base", "speciarl", "exact"}
    assert set(demo["rung_mix"]) == {"speciarl", "exact"}
    paper = report["paper_shape"]
    assert paper["steps"] == 1 and paper["completions_per_step"] == 10  # G = 10
    assert 0 < paper["trainable_parameters"] < paper["parameters"]  # LoRA: most weights frozen
    assert 0 < paper["reward_s"] < paper["step_s"] and 0 < paper["reward_share"] < 1
    assert paper["generation_s"] > 0 and paper["completion_tokens_per_s"] > 0
    judge = report["local_judge"]
    assert judge["pairs"] == 40 and judge["verdicts_per_s"] > 0
    md = (tmp_path / "gpu_check.md").read_text()
    assert "## The paper's shape" in md and "| speciarl |" in md
