"""examples/speciarl/evaluate.py: predictions JSONL -> the paper's table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rewardkit as rk

from .conftest import ANIMALS

ROOT = Path(__file__).resolve().parent.parent
EVALUATE = ROOT / "examples" / "speciarl" / "evaluate.py"
BIRDS = ROOT / "examples" / "speciarl" / "data" / "demo_birds.json"


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run(*args):
    return subprocess.run(
        [sys.executable, str(EVALUATE), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


ROWS = [
    {
        "dataset": "pets",
        "label": "samoyed",
        "prediction": "<answer>samoyed</answer>",
        "samples": ["<answer>dog</answer>", "<answer>samoyed</answer>"],
    },
    {
        "dataset": "pets",
        "label": "samoyed",
        "prediction": "<answer>dog</answer>",
        "samples": ["<answer>cat</answer>", "<answer>spitz</answer>"],
    },
    {
        "dataset": "pets",
        "label": "spitz",
        "prediction": "no answer at all",
        "samples": ["<answer>cat</answer>", "oops"],
    },
    {"dataset": "cub", "label": "Brown Thornbill", "prediction": "<answer>Acanthiza</answer>"},
    {
        "dataset": "cub",
        "label": "Brown Thornbill",
        "prediction": "<answer>Brown Thornbill</answer>",
    },
]


def test_table_per_data_set_with_best_of_n_and_group_averages(tmp_path):
    write_rows(tmp_path / "p.jsonl", ROWS)
    done = run(
        tmp_path / "p.jsonl",
        "--taxonomy",
        f"pets={ANIMALS}",
        "--taxonomy",
        f"cub={BIRDS}",
        "--out",
        tmp_path / "out",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    pets = result["datasets"]["pets"]
    # specific, generic, and a missing answer counted as wrong
    assert pets["greedy"] == rk.score(["specific", "generic", "wrong"]).to_dict()
    # best of each row's two samples: specific, less_specific, wrong
    assert pets["best_of_n"]["hm"] == pytest.approx(
        rk.score(["specific", "less_specific", "wrong"]).hm
    )
    cub = result["datasets"]["cub"]["greedy"]
    assert cub["counts"]["less_specific"] == 1 and cub["counts"]["specific"] == 1
    assert result["averages"]["fine-grained"]["datasets"] == ["pets"]
    assert result["averages"]["in-domain"]["hm"] == pytest.approx(cub["hm"])
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| pets | 3 |" in report and "**fine-grained**" in report
    assert (tmp_path / "out" / "chart.png").stat().st_size > 5000


def test_a_data_set_without_a_judge_is_named(tmp_path):
    write_rows(
        tmp_path / "p.jsonl", [{"dataset": "food101", "label": "pizza", "prediction": "pizza"}]
    )
    done = run(tmp_path / "p.jsonl")
    assert done.returncode != 0 and "no judge for data set 'food101'" in done.stderr
    write_rows(tmp_path / "q.jsonl", [{"dataset": "pets", "label": "samoyed"}])
    done = run(tmp_path / "q.jsonl", "--taxonomy", f"pets={ANIMALS}")
    assert done.returncode != 0 and "line 1: missing field 'prediction'" in done.stderr


def test_semantic_similarity_with_the_offline_minilm(tmp_path):
    sys.path.insert(0, str(EVALUATE.parent))
    import evaluate

    same = evaluate.similarity(["golden retriever"], ["golden retriever"])
    close = evaluate.similarity(["retriever dog"], ["golden retriever"])
    far = evaluate.similarity(["pizza"], ["golden retriever"])
    assert same == pytest.approx(1.0, abs=1e-4)
    assert far < close < same


def test_predictions_from_a_vision_language_model(tmp_path):
    sys.path.insert(0, str(EVALUATE.parent))
    import evaluate
    import loaders
    from train import PROMPT

    from rewardkit.tiny import tiny_vision_lm, word_tokenizer

    from .test_speciarl_recipe import CUB_CLASSES, make_cub

    root = make_cub(tmp_path / "CUB_200_2011")
    samples = loaders.load("cub", root, "test")
    names = [loaders.clean_cub_label(c) for c in CUB_CLASSES]
    tokenizer = word_tokenizer(
        [*PROMPT.split(), *(w for n in names for w in n.split())], vision=True
    )
    model, processor = tiny_vision_lm(tokenizer, seed=0)
    rows = evaluate.predict(
        model, processor, samples, prompt=PROMPT, n_samples=2, max_new_tokens=4, batch_size=3
    )
    assert [r["label"] for r in rows] == [s.label for s in samples]
    assert all(isinstance(r["prediction"], str) and len(r["samples"]) == 2 for r in rows)
    data, _ = __import__("taxonomies").cub_taxonomy(names)
    judge = rk.TaxonomyJudge(rk.Taxonomy.from_dict(data))
    result = evaluate.evaluate(
        {"cub": [dict(r, dataset="cub") for r in rows]}, {"cub": judge}, "answer", False
    )
    cub = result["datasets"]["cub"]
    assert cub["n"] == len(samples) and cub["best_of_n"]["n_samples"] == 2
    # A random tiny model writes no <answer> tags: every answer counts as wrong, never skipped.
    assert cub["greedy"]["counts"]["wrong"] == len(samples)
