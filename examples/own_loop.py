"""rewardkit's own GRPO loop on a tiny offline model: reward rises within a few dozen steps.

python examples/own_loop.py
"""

import os

import rewardkit as rk
from rewardkit.loop import GRPOLoop, LoopConfig
from rewardkit.tiny import tiny_causal_lm, word_tokenizer

TAXONOMY = os.path.join(os.path.dirname(__file__), "data", "animals.json")


def main() -> None:
    taxonomy = rk.Taxonomy.load(TAXONOMY)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    model = tiny_causal_lm(tokenizer, seed=0)
    labels = [
        "samoyed",
        "spitz",
        "dog",
        "golden retriever",
        "warbler",
        "cat",
        "american robin",
        "northern cardinal",
    ]
    data = [{"prompt": f"classify {x}", "label": x} for x in labels]
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None)
    config = LoopConfig(
        num_generations=8,
        prompts_per_step=8,
        max_steps=30,
        learning_rate=1e-2,
        max_new_tokens=1,
        kl_coef=0.01,
        seed=0,
        output_dir="runs/own_loop",
        save_every=10,
        progress=False,
    )
    history = GRPOLoop(model, tokenizer, reward, data, config).train(resume=False)
    for m in history[::5] + history[-1:]:
        print(
            f"step {m['step']:2d}: reward {m['reward_mean']:+.3f}  "
            f"correctness {m.get('correctness', 0):.3f}  specificity {m.get('specificity', 0):.3f}"
        )
    print("metrics in runs/own_loop/metrics.jsonl, checkpoint in runs/own_loop/checkpoint.pt")


if __name__ == "__main__":
    main()
