"""SpeciaRL in miniature on a CPU: the paper's experiment with a tiny policy, in minutes.

    python examples/speciarl/cpu_demo.py            # or: make demo / rewardkit demo
    python examples/speciarl/cpu_demo.py --preset quick --out runs/speciarl-quick

1. Build the bird world (world.py) and a tiny Qwen2 policy offline.
2. Warm-start it by supervised training on answers that are often less specific than the
   evidence allows: a base model that knows more than it shows.
3. Train one copy per reward rule with GRPO (rewardkit's own loop; the taxonomy judge is the
   verifier): speciarl, exact (the paper's RFT baseline), correct, graded.
4. Evaluate greedy answers on held-out inputs and on a shifted split where the species is
   visible less often; the base model and its best-of-N are the references.

Writes results.json, results.md and rung_mix.png to --out, and prints the table.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from world import World  # noqa: E402

import rewardkit as rk  # noqa: E402
from rewardkit.loop import GRPOLoop, LoopConfig  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, word_tokenizer  # noqa: E402

RULES = ["speciarl", "exact", "correct", "graded"]

# What the warm-start data says, by whether the species is visible. The base model learns to
# name the species when it can, but prefers coarser answers: its greedy answer is the genus.
WARM_START = {
    "visible": {"species": 0.30, "genus": 0.35, "family": 0.20, "order": 0.10, "abstain": 0.05},
    "hidden": {"guess": 0.10, "genus": 0.40, "family": 0.30, "order": 0.15, "abstain": 0.05},
}

PRESETS = {
    "full": dict(
        sft_steps=1200, rl_steps=150, prompts_per_step=32, generations=8, eval_n=1000, best_of=16
    ),
    "quick": dict(
        sft_steps=150, rl_steps=25, prompts_per_step=16, generations=8, eval_n=200, best_of=8
    ),
    # Every stage once, too short to learn anything: for checking that the demo runs.
    "smoke": dict(
        sft_steps=10, rl_steps=2, prompts_per_step=4, generations=4, eval_n=20, best_of=2
    ),
}


def supervised_warm_start(model, tokenizer, world, rng, steps, batch=128, lr=4e-3):
    """Cross-entropy on the answer token and end of turn, prompt tokens masked."""
    pool = world.sample(8000, rng, visible=0.5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    eos = tokenizer.eos_token
    model.train()
    for _ in range(steps):
        rows = rng.sample(pool, batch)
        targets = [
            world.warm_start_answer(x, rng, WARM_START["visible" if x.visible else "hidden"])
            for x in rows
        ]
        prompts = tokenizer([x.prompt for x in rows], add_special_tokens=False)["input_ids"]
        answers = tokenizer([f"{t} {eos}" for t in targets], add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + a for p, a in zip(prompts, answers)], device=model.device)
        labels = ids.clone()
        labels[:, : len(prompts[0])] = -100
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


@torch.no_grad()
def answers(model, tokenizer, prompts, *, sample=False, n=1, temperature=1.0):
    """Greedy (or sampled, n per prompt) answers; returns n * len(prompts) strings."""
    model.eval()
    out = []
    for start in range(0, len(prompts), 256):
        chunk = [p for p in prompts[start : start + 256] for _ in range(n)]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(
            model.device
        )
        gen = model.generate(
            **enc,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_k=0 if sample else None,
            top_p=1.0 if sample else None,
            repetition_penalty=1.0,  # stated: the model's generation config fills in the rest
            max_new_tokens=2,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        out += tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


def evaluate(model, tokenizer, judge, examples, *, best_of=0):
    prompts, labels = [x.prompt for x in examples], [x.label for x in examples]
    verdicts = judge.judge(
        list(zip(labels, [a.strip() for a in answers(model, tokenizer, prompts)]))
    )
    result = {"greedy": rk.score(verdicts).to_dict()}
    if best_of:
        torch.manual_seed(1234)
        sampled = answers(model, tokenizer, prompts, sample=True, n=best_of)
        pairs = [(labels[i // best_of], a.strip()) for i, a in enumerate(sampled)]
        result["best_of_n"] = rk.best_of_n(judge.judge(pairs), best_of).to_dict()
    return result


def train_own_loop(policy, tokenizer, reward, data, cfg, seed, out) -> tuple:
    loop = GRPOLoop(
        policy,
        tokenizer,
        reward,
        data,
        LoopConfig(
            num_generations=cfg["generations"],
            prompts_per_step=cfg["prompts_per_step"],
            max_steps=cfg["rl_steps"],
            learning_rate=2e-3,
            kl_coef=0.01,
            temperature=1.0,
            max_new_tokens=2,
            seed=seed,
            output_dir=str(out),
            progress=False,
        ),
    )
    return loop.train(resume=False), policy


def train_trl(policy, tokenizer, reward, data, cfg, seed, out) -> tuple:
    """The same GRPO run through TRL's GRPOTrainer (same batch, lr, KL and temperature)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.adapters.trl import TRLReward

    path = out / "initial-policy"  # TRL builds its KL reference model from a local path
    policy.save_pretrained(path)
    policy = type(policy).from_pretrained(path)
    args = GRPOConfig(
        output_dir=str(out),
        num_generations=cfg["generations"],
        per_device_train_batch_size=cfg["generations"] * cfg["prompts_per_step"],
        max_steps=cfg["rl_steps"],
        max_completion_length=2,
        learning_rate=2e-3,
        beta=0.01,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        repetition_penalty=1.0,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=seed,
        disable_tqdm=True,
    )
    trl_reward = TRLReward(reward, args, name=reward.rule.name)
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=[trl_reward],
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
    )
    trainer.train()
    prefix = f"{reward.rule.name}/"
    return [
        {
            "step": h["step"],
            "reward_mean": h.get("reward"),
            **{k[len(prefix) :]: v for k, v in h.items() if k.startswith(prefix)},
        }
        for h in trainer.state.log_history
        if "reward" in h
    ], trainer.model


def run(preset: str, seed: int, out: Path, rules: list[str], trainer: str = "own") -> dict:
    cfg = PRESETS[preset]
    started = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    world = World()
    tokenizer = word_tokenizer(world.vocabulary())
    judge = rk.TaxonomyJudge(world.taxonomy)
    test = world.sample(cfg["eval_n"], random.Random(seed + 1), visible=0.5)
    shifted = world.sample(cfg["eval_n"], random.Random(seed + 2), visible=0.2)
    train = world.sample(4000, random.Random(seed + 3), visible=0.5)
    data = [{"prompt": x.prompt, "label": x.label} for x in train]

    base = tiny_causal_lm(tokenizer, hidden=64, layers=2, seed=seed)
    sft_loss = supervised_warm_start(base, tokenizer, world, random.Random(seed), cfg["sft_steps"])
    print(
        f"warm start: {cfg['sft_steps']} steps, final loss {sft_loss:.3f} "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )

    results = {
        "preset": preset,
        "seed": seed,
        "trainer": trainer,
        "config": cfg,
        "warm_start": WARM_START,
        "models": {},
        "training": {},
    }
    results["models"]["base"] = {
        "test": evaluate(base, tokenizer, judge, test, best_of=cfg["best_of"]),
        "shifted": evaluate(base, tokenizer, judge, shifted, best_of=cfg["best_of"]),
    }
    for rule in rules:
        policy = copy.deepcopy(base)
        reward = rk.LadderReward(judge, rule, tag=None)
        train = train_trl if trainer == "trl" else train_own_loop
        rule_started = time.perf_counter()
        history, policy = train(policy, tokenizer, reward, data, cfg, seed, out / "train" / rule)
        results["training"][rule] = [
            {
                k: v
                for k, v in m.items()
                if k == "step"
                or k.startswith("rung/")
                or k in ("reward_mean", "correctness", "specificity", "hm")
            }
            for m in history
        ]
        results["models"][rule] = {
            "test": evaluate(policy, tokenizer, judge, test),
            "shifted": evaluate(policy, tokenizer, judge, shifted),
        }
        print(
            f"GRPO ({trainer}) with {rule}: {cfg['rl_steps']} steps in "
            f"{time.perf_counter() - rule_started:.0f} s (run so far "
            f"{time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict) -> str:
    slugs = rk.SPECIARL.slugs
    head = "| model | split | correctness | specificity | HM | " + " | ".join(slugs) + " |"
    lines = [head, "|" + "---|" * (5 + len(slugs))]
    for name, splits in results["models"].items():
        for split, res in splits.items():
            for kind, s in res.items():
                label = (
                    name if kind == "greedy" else f"{name} best-of-{results['config']['best_of']}"
                )
                shares = " | ".join(f"{s['counts'][k] / s['n']:.2f}" for k in slugs)
                lines.append(
                    f"| {label} | {split} | {s['correctness']:.3f} | "
                    f"{s['specificity']:.3f} | {s['hm']:.3f} | {shares} |"
                )
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = list(results["training"])
    slugs = rk.SPECIARL.slugs
    fig, axes = plt.subplots(1, len(rules), figsize=(4 * len(rules), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    colors = ["#b2182b", "#bababa", "#fddbc7", "#92c5de", "#2166ac", "#053061"]
    for ax, rule in zip(axes, rules):
        hist = results["training"][rule]
        steps = [m["step"] for m in hist]
        stack = [[m.get(f"rung/{s}", 0.0) for m in hist] for s in slugs]
        ax.stackplot(steps, stack, labels=slugs, colors=colors)
        ax.set_title(rule)
        ax.set_xlabel("GRPO step")
        ax.set_ylim(0, 1)
        ax.set_xlim(steps[0], steps[-1])
    axes[0].set_ylabel("share of rollouts")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    fig.suptitle("Rung mix of training rollouts per reward rule")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/speciarl-demo")
    parser.add_argument(
        "--trainer",
        choices=["own", "trl"],
        default="own",
        help="rewardkit's own GRPO loop (default) or TRL's GRPOTrainer",
    )
    parser.add_argument(
        "--rules", default=",".join(RULES), help="comma-separated reward rules (default: all four)"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    results = run(args.preset, args.seed, out, args.rules.split(","), args.trainer)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = table(results)
    (out / "results.md").write_text(text + "\n")
    plot(results, out / "rung_mix.png")
    print()
    print(text)
    print(f"\n{results['seconds']:.0f} s; results in {out}/results.json, results.md, rung_mix.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
