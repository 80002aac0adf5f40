"""The side-by-side table: train.py's --show-config (and evaluate.py's) against the authors'
configuration, value by value, each authors' value with its file and line.

    python examples/speciarl/compare_config.py                 # print the tables (Markdown)
    python examples/speciarl/compare_config.py --write docs/speciarl.md   # refresh the docs
    python examples/speciarl/compare_config.py --check docs/speciarl.md   # the docs are current
    python examples/speciarl/compare_config.py --verify-authors ~/SpeciaRL  # each cited line

The authors' values are in data/authors_config.json (read from their scripts and their verl
snapshot at the commit it names); rewardkit's come from the same code --show-config runs.
Each row says ``same``, ``equivalent`` (different spelling, same effect: the reason given)
or ``differs`` (what stays different, and why).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import presets as P  # noqa: E402

BEGIN, END = "<!-- compare_config.py: begin -->", "<!-- compare_config.py: end -->"
Verdict = tuple[str, str]  # (same | equivalent | differs, note)


def same(a: Any, o: Any) -> Verdict:
    return ("same", "") if a == o else ("differs", "")


def when(test: bool, note: str, otherwise: str = "") -> Verdict:
    return ("equivalent", note) if test else ("differs", otherwise)


Compare = Callable[[Any, Any, dict], Verdict]


def _same(a: Any, o: Any, c: dict) -> Verdict:
    return same(a, o)


def _note(note: str) -> Compare:
    return lambda a, o, c: ("differs", note)


def _equiv(test: Callable[[Any, Any], bool], note: str) -> Compare:
    return lambda a, o, c: when(test(a, o), note)


# (label, authors' key, rewardkit's value: a path into ours(config), comparison)
ROWS: list[tuple[str, str, str, Compare]] = [
    ("policy model", "model", "model", lambda a, o, c: same(f"Qwen/{a}", o)),
    ("precision", "dtype", "precision", _same),
    ("LoRA rank", "lora_rank", "lora.r", _same),
    ("LoRA alpha", "lora_alpha", "lora.lora_alpha", _same),
    ("LoRA layers", "lora_targets", "lora.target_modules", _same),
    ("LoRA excluded", "lora_excluded", "lora.exclude_modules", _same),
    ("learning rate", "learning_rate", "trainer.learning_rate", _same),
    ("LR schedule", "lr_schedule", "trainer.lr_scheduler_type", _same),
    ("warm-up", "warmup_ratio", "trainer.warmup_steps", _same),
    ("weight decay", "weight_decay", "trainer.weight_decay", _same),
    ("gradient clip", "grad_clip", "trainer.max_grad_norm", lambda a, o, c: _clip(a, o, c)),
    ("prompts per step", "prompts_per_step", "batch.prompts_per_step", _same),
    ("prompts per optimiser step", "prompts_per_minibatch", "batch.prompts_per_minibatch", _same),
    ("micro-batch per GPU", "micro_batch_per_gpu", "trainer.per_device_train_batch_size",
     lambda a, o, c: _micro(a, o, c)),
    ("GPUs for the policy", "gpus", "batch.world_size", _same),
    ("rollouts per prompt", "num_generations", "trainer.num_generations", _same),
    ("temperature", "temperature", "trainer.temperature", _same),
    ("top-k", "top_k", "trainer.top_k",
     _equiv(lambda a, o: (a, o) == (-1, 0), "off in both (vLLM -1, TRL 0)")),
    ("top-p", "top_p", "trainer.top_p", _same),
    ("repetition penalty", "repetition_penalty", "trainer.repetition_penalty", _same),
    ("max completion tokens", "max_completion_length", "trainer.max_completion_length", _same),
    ("max prompt tokens", "max_prompt_length", "none", _note(P.NOT_IN_TRL["max_prompt_length"])),
    ("epochs", "epochs", "trainer.num_train_epochs", _same),
    ("training images", "train_images", "train_images", lambda a, o, c: _images(a, o, c)),
    ("subset seed", "subset_seed", "data.subset_seed", _same),
    ("KL loss", "use_kl_loss", "kl_loss", _same),
    ("KL weight", "kl_coef", "trainer.beta", lambda a, o, c: _kl_coef(a, o, c)),
    ("KL estimator", "kl_estimator", "trl_named.kl_estimator.value",
     _equiv(lambda a, o: o.startswith("k3, not"), "k3 (use_bias_correction_kl=False)")),
    ("KL clamp", "kl_clamp", "none", _note("TRL does not clamp the k3 estimate (verl: +-10)")),
    ("entropy bonus", "entropy_coef", "trainer.entropy_coef", _same),
    ("clip low", "clip_low", "trainer.epsilon", _same),
    ("clip high", "clip_high", "trainer.epsilon_high", _same),
    ("dual-clip constant", "dual_clip_c", "trainer.delta",
     _equiv(lambda a, o: a == o, "TRL's delta caps the ratio of negative advantages")),
    ("PPO epochs", "ppo_epochs", "trainer.num_iterations", _same),
    ("loss aggregation", "loss_aggregation", "trainer.loss_type", lambda a, o, c: _loss(a, o)),
    ("advantage / std", "std_normalisation", "std_scaling", _same),
    ("advantage epsilon", "advantage_epsilon", "advantage_epsilon",
     _note(P.NOT_IN_TRL["advantage_epsilon"])),
    ("rollout correction", "rollout_correction",
     "trainer.vllm_importance_sampling_correction", _same),
    ("gradient checkpointing", "gradient_checkpointing", "trainer.gradient_checkpointing", _same),
    ("data shuffle", "shuffle", "trainer.shuffle_dataset", _same),
    ("incomplete last batch dropped", "drop_last", "drop_last", _same),
    ("length-balanced batches", "balance_batch", "balance_batch",
     _note(P.NOT_IN_TRL["balance_batch"])),
    ("reward", "reward", "reward_text", _same),
    ("answer extraction", "answer_extraction", "reward.extraction",
     _equiv(lambda a, o: o == "authors", "the authors mode: the first tag anywhere")),
    ("judge", "judge_model", "judge.model",
     _equiv(lambda a, o: o.endswith(a.removesuffix("_nothinking_single")),
            "served by vLLM, thinking off, one pair per request")),
    ("judge prompt", "judge_prompt", "judge.prompt",
     _equiv(lambda a, o: o == "speciarl-paper", "VER_BASE_SINGLE verbatim")),
]  # fmt: skip


def ours(config: dict) -> dict:
    """The effective configuration with the values the rows read that it does not spell."""
    return config | {
        "precision": "bfloat16" if config["trainer"]["bf16"] else "float32",
        "train_images": sum(config["data"]["train_sets"].values()),
        "kl_loss": config["trainer"]["beta"] > 0,
        "std_scaling": config["trainer"]["scale_rewards"] != "none",
        "advantage_epsilon": 1e-4,
        "drop_last": True,  # TRL's RepeatSampler drops an incomplete generation batch
        "balance_batch": False,
        "reward_text": _our_reward(config),
        "none": None,
    }


def _get(config: dict, path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value[part]
    return value


def _images(a: Any, o: Any, c: dict) -> Verdict:
    if a is None:
        return ("differs", "the authors' subset size is not published: 3,000 drawn as for CUB")
    return same(a, o)


def _clip(a: Any, o: Any, c: dict) -> Verdict:
    if c["trainer"]["loss_type"] == "dr_grpo":
        return when(
            a / o == 32, "verl sums each 32-sequence micro-batch: its gradient is 32x TRL's"
        )
    return same(a, o)


def _micro(a: Any, o: Any, c: dict) -> Verdict:
    if c["authors"]["values"].get("dynamic_batch", {}).get("value"):
        return ("differs", "verl packs micro-batches to 4,096 tokens (dynamic batch size)")
    return same(a, o)


def _kl_coef(a: Any, o: Any, c: dict) -> Verdict:
    if not c["authors"]["values"]["use_kl_loss"]["value"]:
        return when(o == 0, "unused: use_kl_loss=False")
    return same(a, o)


def _loss(a: Any, o: Any) -> Verdict:
    if a == "token-mean" and o == "bnpo":
        return when(True, "a token mean per micro-batch, averaged over micro-batches and GPUs")
    return when(a == "seq-mean-token-sum-norm" and o == "dr_grpo", "sum / max length")


def _our_reward(c: dict) -> str:
    r = c["reward"]
    if r["noise"]:
        return f"group best, verdicts flipped {r['noise']:.0%}"
    if r["rule"] == "graded":
        scale = r["rule_options"].get("scale")
        return next((f"static scala{k}" for k, v in P.SCALES.items() if v == scale), "graded")
    return {"speciarl": "group best", "exact": "static reward3"}.get(r["rule"], r["rule"])


def _authors_reward(values: dict) -> tuple[str, str]:
    """The authors' reward, from the reward file and environment variables of a run."""
    if "static_reward" in values:
        return f"static {values['static_reward']['value']}", "static_reward"
    if "noise" in values:
        return f"group best, verdicts flipped {values['noise']['value']:.0%}", "noise"
    return "group best", "reward_mode"


def authors_value(run: dict, key: str) -> tuple[Any, str]:
    """An authors' value and its source (file:line)."""
    values = run["values"]
    if key == "reward":
        value, key = _authors_reward(values)
    if key == "train_images":
        ti = run["train_images"]
        return (ti["value"], f"{ti['file']}:{ti['line']}") if ti else (None, "not published")
    entry = values.get(key) or P.AUTHORS["defaults"].get(key)
    if entry is None:
        return None, "not set"
    where = f"{entry.get('file', run['file'])}:{entry['line']}"
    return (value if key in ("static_reward", "noise", "reward_mode") else entry["value"]), where


def rows_for(name: str, keys: set[str] | None = None) -> list[tuple[str, Any, str, Any, Verdict]]:
    """(label, authors' value, source, rewardkit's value, verdict) for a preset's run."""
    import train

    preset = P.PRESETS[name]
    args = train.parse_args(["--preset", name])[1]
    config = train.effective_config(name, preset, args)
    run = P.authors_run(preset["authors_run"])
    config["authors"] = run
    out = []
    full = ours(config)
    for label, key, path, compare in ROWS:
        if keys is not None and key not in keys:
            continue
        a, where = authors_value(run, key)
        o = _get(full, path)
        out.append((label, a, where, o, compare(a, o, config)))
    return out


def eval_rows() -> list[tuple[str, Any, str, Any, Verdict]]:
    """evaluate.py's --show-config against the authors' evaluation configuration."""
    import evaluate
    from generation import GENERATION

    ev = P.AUTHORS["evaluation"]
    unset = ev["unset_is_default"]
    greedy, sampled = GENERATION["greedy"], GENERATION["best_of_n"]
    off = "unset: vLLM's default, off"
    judge = evaluate.PAPER_EVAL_JUDGE
    table: list[tuple[str, Any, dict, Any, Verdict]] = [
        ("greedy answers", True, ev["greedy"], not greedy["do_sample"], ("same", "")),
        ("greedy repetition penalty", 1.0, unset, greedy["repetition_penalty"], ("", "")),
        ("max new tokens", 2048, ev["max_new_tokens"], GENERATION["max_new_tokens"], ("", "")),
        ("best-of-N samples", 64, ev["best_of_n"], sampled["samples"], ("", "")),
        ("best-of-N temperature", 0.6, ev["temperature"], sampled["temperature"], ("", "")),
        ("best-of-N top-p", 0.95, ev["top_p"], sampled["top_p"], ("", "")),
        ("best-of-N top-k", None, ev["top_k"], sampled["top_k"],
         when(sampled["top_k"] == 0, f"{off}; 0 is off in transformers")),
        ("best-of-N repetition penalty", 1.0, unset, sampled["repetition_penalty"], ("", "")),
        ("judge", ev["judge_model"]["value"], ev["judge_model"], judge["model"],
         when(judge["model"].endswith(ev["judge_model"]["value"]), "an OpenAI-compatible server")),
        ("judge prompt", "ver_base_single", ev["judge_prompt"], judge["prompt"],
         when(judge["prompt"] == "speciarl-paper", "VER_BASE_SINGLE verbatim")),
        ("answer extraction", "first", ev["answer_extraction"], "authors",
         when(True, "--extraction authors (the default)")),
        ("no answer", ev["no_answer"]["value"], ev["no_answer"], "own class; HM both ways",
         when(True, "never judged; best-of-N both ways")),
    ]  # fmt: skip
    return [
        (label, a, f"{e['file']}:{e['line']}", o, v if v[0] else same(a, o))
        for label, a, e, o, v in table
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def _table(rows: list, sides: tuple[str, str] = ("authors (verl)", "rewardkit (TRL)")) -> list[str]:
    lines = [f"| setting | {sides[0]} | source | {sides[1]} | |", "|---|---|---|---|---|"]
    for label, a, where, o, (status, note) in rows:
        text = status + (f": {note}" if note else "")
        lines.append(f"| {label} | {_cell(a)} | `{where}` | {_cell(o)} | {text} |")
    return lines


def _variant_keys(name: str) -> set[str]:
    """The authors' keys a variant run changes from their main run."""
    run = P.AUTHORS["runs"][P.PRESETS[name]["authors_run"]]
    base = P.AUTHORS["runs"]["grpo"]["values"]
    keys = {k for k, v in run["values"].items() if base.get(k, {}).get("value") != v["value"]}
    renames = {"train_file": "train_images", "static_reward": "reward", "noise": "reward"}
    keys = {renames.get(k, k) for k in keys}
    if "use_kl_loss" in keys:
        keys.add("kl_coef")
    if "dynamic_batch" in keys:
        keys.add("micro_batch_per_gpu")
    if "loss_aggregation" in keys:
        keys.add("grad_clip")
    return keys


def _steps(name: str) -> str:
    plan, paper = P.schedule(P.PRESETS[name]), P.paper_schedule(P.PRESETS[name])
    theirs = "not published" if paper is None else str(paper["total_optimizer_steps"])
    return f"optimiser steps: {plan.total_optimizer_steps} (authors: {theirs})"


def render() -> str:
    """The tables, as Markdown."""
    run = P.AUTHORS["runs"]["grpo"]["file"]
    out = [
        f"Generated by `examples/speciarl/compare_config.py` from `--show-config` and "
        f"`data/authors_config.json` (the authors' repository at commit "
        f"`{P.AUTHORS['commit'][:7]}`; sources are paths in it).",
        "",
        f"**Training: `--preset paper` against `{run}`** ({_steps('paper')}).",
        "",
        *_table(rows_for("paper")),
        "",
        "**The other presets** (only what their run changes from the main run):",
        "",
    ]
    for name in sorted(P.PRESETS):
        if name in ("paper", "gpu-smoke"):
            continue
        run = P.AUTHORS["runs"][P.PRESETS[name]["authors_run"]]["file"]
        out += [f"`{name}` against `{run}` ({_steps(name)}):", ""]
        out += [*_table(rows_for(name, _variant_keys(name))), ""]
    out += ["**Evaluation: `evaluate.py --show-config` against the authors' evaluator.**", ""]
    out += _table(eval_rows(), ("authors", "rewardkit"))
    return "\n".join(out)


def verify_authors(checkout: Path) -> list[str]:
    """Lines of data/authors_config.json not found where it says, in a checkout of theirs."""
    bad = []
    entries: list[tuple[str, dict]] = []
    for section in ("defaults", "evaluation"):
        entries += [(e["file"], e) for e in P.AUTHORS[section].values()]
    for run in P.AUTHORS["runs"].values():
        entries += [(run["file"], e) for e in run["values"].values()]
        if run.get("train_images"):
            entries.append((run["train_images"]["file"], run["train_images"]))
    for file, e in entries:
        lines = (checkout / file).read_text(encoding="utf-8").splitlines()
        if len(lines) < e["line"] or e["text"] not in lines[e["line"] - 1]:
            bad.append(f"{file}:{e['line']}: expected {e['text']!r}")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", metavar="DOC", help="replace the generated block in DOC")
    parser.add_argument("--check", metavar="DOC", help="exit 1 unless DOC's block is current")
    parser.add_argument("--verify-authors", metavar="CHECKOUT", help="check each cited line")
    args = parser.parse_args(argv)
    if args.verify_authors:
        bad = verify_authors(Path(args.verify_authors))
        print("\n".join(bad) or "every cited line holds its value")
        return 1 if bad else 0
    block = f"{BEGIN}\n{render()}\n{END}"
    if not (args.write or args.check):
        print(block)
        return 0
    doc = Path(args.write or args.check)
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        print(f"{doc}: no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    current = text[start : end + len(END)]
    if args.check:
        if current != block:
            print(
                f"{doc}: the table is stale; run compare_config.py --write {doc}", file=sys.stderr
            )
            return 1
        return 0
    doc.write_text(text.replace(current, block), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
