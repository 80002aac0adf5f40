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


def test_a_data_set_without_a_taxonomy_goes_to_the_llm_judge(tmp_path, closed_port):
    closed = f"http://127.0.0.1:{closed_port}/v1"
    write_rows(
        tmp_path / "p.jsonl",
        [{"dataset": "food101", "label": "pizza", "prediction": "<answer>pizza</answer>"}],
    )
    # No taxonomy for food101: the paper's LLM judge - here at a port where nothing listens.
    done = run(tmp_path / "p.jsonl", "--judge-api-base", closed, "--out", tmp_path / "o")
    assert done.returncode != 0 and f"cannot reach {closed}" in done.stderr
    assert "Traceback" not in done.stderr
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


def test_batched_inputs_give_each_image_its_own_next_token_scores(tmp_path):
    # Images of different sizes take different numbers of tokens, so a batch is padded:
    # Qwen2.5-VL's processor pads on the right by default, which puts pads between a prompt and
    # its answer and corrupts batched greedy output. Left padding: the scores of the next token
    # are the same in a batch as alone (and greedy output then is too).
    import torch

    sys.path.insert(0, str(EVALUATE.parent))
    import evaluate
    from loaders import Sample
    from PIL import Image
    from train import PROMPT

    from rewardkit.tiny import tiny_vision_lm, word_tokenizer

    images = [
        Image.new("RGB", (size, size), (40 * i, 255 - 30 * i, 90))
        for i, size in enumerate([32, 112, 56, 84])
    ]
    tokenizer = word_tokenizer([*PROMPT.split(), "samoyed", "dog"], vision=True)
    model, processor = tiny_vision_lm(
        tokenizer, seed=3, image_pixels=28 * 28, max_image_pixels=112 * 112
    )
    model.eval()
    processor.tokenizer.padding_side = "right"  # as Qwen2.5-VL's own processor comes

    def last_scores(inputs):
        with torch.no_grad():
            return model(**inputs).logits[:, -1]

    batch = evaluate.batch_inputs(processor, PROMPT, images)
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1  # really padded
    together = last_scores(batch)
    alone = torch.cat(
        [last_scores(evaluate.batch_inputs(processor, PROMPT, [im])) for im in images]
    )
    assert torch.allclose(together, alone, atol=1e-4)
    assert processor.tokenizer.padding_side == "right"  # left as it was
    # The right-padded batch, as the processor builds it by default, does not match.
    right = processor(
        text=[
            processor.apply_chat_template(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": PROMPT}],
                    }
                ],
                tokenize=False,
                add_generation_prompt=True,
            )
        ]
        * len(images),
        images=images,
        return_tensors="pt",
        padding=True,
    )
    assert not torch.allclose(last_scores(right), alone, atol=1e-4)
    # And predict() runs through it, batched and alone, to the same greedy answers.
    samples = []
    for i, im in enumerate(images):
        im.save(tmp_path / f"{i}.png")
        samples.append(Sample(str(tmp_path / f"{i}.png"), "samoyed", "test"))
    kw = dict(prompt=PROMPT, max_new_tokens=3)
    assert [
        r["prediction"] for r in evaluate.predict(model, processor, samples, batch_size=4, **kw)
    ] == [r["prediction"] for r in evaluate.predict(model, processor, samples, batch_size=1, **kw)]


def test_the_paper_evaluation_judge_and_settings(tmp_path):
    from .judge_server import JudgeServer

    done = run("--show-config")
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    assert config["judge"]["model"] == "meta-llama/Meta-Llama-3-70B-Instruct"
    assert config["judge"]["prompt"] == "speciarl-paper"
    assert config["generation"]["max_new_tokens"] == 2048
    # every sampling setting stated: the authors' vLLM SamplingParams (unset: vLLM's defaults)
    assert config["generation"]["best_of_n"] == {
        "samples": 64,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 0,
        "repetition_penalty": 1.0,
    }
    assert config["generation"]["greedy"]["repetition_penalty"] == 1.0
    assert config["extraction"] == "authors"
    assert config["policy_prompt"].startswith("Classify the image.\n")
    done = run("--show-config", "--prompt", "specific")  # the paper's "be specific" baseline
    specific = json.loads(done.stdout)["policy_prompt"]
    assert specific == config["policy_prompt"].replace("the image.", "the image, be specific.")
    rows = [
        {"dataset": "food101", "label": "pizza", "prediction": "<answer>pizza</answer>"},
        {"dataset": "food101", "label": "pizza", "prediction": "<answer>food</answer>"},
        {"dataset": "food101", "label": "pizza", "prediction": "no tags"},
    ]
    write_rows(tmp_path / "p.jsonl", rows)
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        server.replies.update({"pizza": "specific", "food": "generic"})
        done = run(
            tmp_path / "p.jsonl",
            "--judge-api-base",
            server.url,
            "--out",
            tmp_path / "o",
            "--paper-row",
            "speciarl",
        )
        assert done.returncode == 0, done.stderr[-2000:]
        body = server.requests[0]
    assert body["model"] == "meta-llama/Meta-Llama-3-70B-Instruct"
    assert "less specific" in body["structured_outputs"]["choice"]
    food = json.loads((tmp_path / "o" / "results.json").read_text())["datasets"]["food101"]
    assert food["greedy"]["counts"]["wrong"] == 1  # the missing answer, counted as Wrong
    assert food["greedy_answered"]["n"] == 2 and food["greedy_answered"]["counts"]["wrong"] == 0
    assert food["no_answer"] == pytest.approx(1 / 3)
    assert len(server.requests) == 2  # the two answers; the missing one is never judged
    report = (tmp_path / "o" / "report.md").read_text()
    assert "| HM (no answer = Wrong) | HM (answered only) | no answer |" in report
    # specific + generic + no answer: HM 0.6 counted as Wrong, 0.857 answered only
    assert "| food101 | 3 | 0.667 | 0.750 | 0.706 | 0.857 | 0.333 |" in report
    assert "| *paper: speciarl, fine-grained (second-hand)* | | 0.848 | 0.920 | 0.883 |" in report
