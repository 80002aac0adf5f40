"""The math and code ladders in training, on a CPU, in minutes: a tiny policy in a world
generated offline (worlds.py), warm-started to know the answers but prefer the wrong form (math)
or programs that pass only some tests (code), then trained with GRPO in rewardkit's own loop,
the ``math`` judge (math-verify in worker processes) or the ``code`` judge (bubblewrap) as the
verifier. The rung mix of the greedy answers is measured before and after, and of the sampled
answers at every step.

    python examples/math_world/run_worlds.py --world math            # about a minute
    python examples/math_world/run_worlds.py --world code --preset quick --out runs/code-world

Writes results.json to --out and prints the rung mix table.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from worlds import WORLDS  # noqa: E402

import rewardkit as rk  # noqa: E402
from rewardkit.loop import GRPOLoop, LoopConfig  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, word_tokenizer  # noqa: E402

PRESETS = {
    "quick": dict(sft_steps=150, rl_steps=8, prompts_per_step=8, generations=8),
    "full": dict(sft_steps=150, rl_steps=40, prompts_per_step=8, generations=8),
}


def warm_start(model, tokenizer, world, problems, rng, steps, batch=64, lr=4e-3):
    """Cross-entropy on the warm-start answer and end of turn, prompt tokens masked (every
    prompt of a world has the same number of tokens)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        rows = [rng.choice(problems) for _ in range(batch)]
        targets = [f"{world.warm_start_answer(p, rng)} {tokenizer.eos_token}" for p in rows]
        prompts = tokenizer([p.prompt for p in rows], add_special_tokens=False)["input_ids"]
        answers = tokenizer(targets, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + a for p, a in zip(prompts, answers)])
        labels = ids.clone()
        labels[:, : len(prompts[0])] = -100
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def rung_mix(model, tokenizer, reward, problems) -> dict[str, float]:
    """Shares of the greedy answers' rungs (``no_answer`` where nothing was answered)."""
    model.eval()
    enc = tokenizer([p.prompt for p in problems], return_tensors="pt", add_special_tokens=False)
    out = model.generate(
        **enc, do_sample=False, max_new_tokens=1, pad_token_id=tokenizer.pad_token_id
    )
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    judged = reward.judge_completions(texts, [p.label for p in problems])
    slugs = [*reward.ladder.slugs, "no_answer"]
    shown = [v if v is not None else "no_answer" for v in judged.verdicts]
    return {s: round(shown.count(s) / len(shown), 4) for s in slugs}


def run(world_name: str, preset: str, seed: int, out: Path | None, rule: str = "speciarl"):
    """Warm start, measure, train, measure; the results (written to ``out`` when given). Torch
    runs on one thread: a model this small is fastest so, and does not fight other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(world_name, preset, seed, out, rule)
    finally:
        torch.set_num_threads(threads)


def _run(world_name: str, preset: str, seed: int, out: Path | None, rule: str) -> dict:
    cfg, started = PRESETS[preset], time.perf_counter()
    random.seed(seed)
    world = WORLDS[world_name]()
    problems = world.problems()
    tokenizer = word_tokenizer(world.vocabulary())
    policy = tiny_causal_lm(tokenizer, hidden=64, layers=2, seed=seed)
    loss = warm_start(policy, tokenizer, world, problems, random.Random(seed), cfg["sft_steps"])
    reward = rk.LadderReward(world_name, rule, tag=None, **world.judge_options)
    try:
        before = rung_mix(policy, tokenizer, reward, problems)
        data = [{"prompt": p.prompt, "label": p.label} for p in problems]
        config = LoopConfig(
            num_generations=cfg["generations"],
            prompts_per_step=cfg["prompts_per_step"],
            max_steps=cfg["rl_steps"],
            learning_rate=2e-3,
            max_new_tokens=1,
            seed=seed,
            output_dir=None if out is None else str(out / "train"),
            progress=False,
        )
        history = GRPOLoop(policy, tokenizer, reward, data, config).train(resume=False)
        after = rung_mix(policy, tokenizer, reward, problems)
    finally:
        getattr(reward.judge, "close", lambda: None)()
    steps = [
        {k: v for k, v in m.items() if k == "step" or k == "reward_mean" or k.startswith("rung/")}
        for m in history
    ]
    results = {
        "world": world_name,
        "preset": preset,
        "seed": seed,
        "rule": rule,
        "config": cfg,
        "warm_start_loss": round(loss, 4),
        "greedy_rung_mix": {"before": before, "after": after},
        "training": steps,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def table(results: dict) -> str:
    mix = results["greedy_rung_mix"]
    slugs = list(mix["before"])
    lines = ["| greedy answers | " + " | ".join(slugs) + " |", "|---" * (len(slugs) + 1) + "|"]
    for when in ("before", "after"):
        lines.append(f"| {when} | " + " | ".join(f"{mix[when][s]:.2f}" for s in slugs) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", choices=sorted(WORLDS), default="math")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--rule", default="speciarl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = run(args.world, args.preset, args.seed, args.out, args.rule)
    print(table(results))
    print(f"{results['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
