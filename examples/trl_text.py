"""GRPO with TRL's GRPOTrainer and a rewardkit reward, on a tiny offline text model (CPU).

python examples/trl_text.py
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import rewardkit as rk  # noqa: E402
from rewardkit.adapters.trl import TRLReward  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, word_tokenizer  # noqa: E402

TAXONOMY = os.path.join(os.path.dirname(__file__), "data", "animals.json")


def main() -> None:
    taxonomy = rk.Taxonomy.load(TAXONOMY)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    model = tiny_causal_lm(tokenizer, seed=0)
    labels = ["samoyed", "spitz", "dog", "golden retriever", "warbler", "american robin"] * 4
    data = Dataset.from_dict({"prompt": [f"classify {x}" for x in labels], "label": labels})

    args = GRPOConfig(
        output_dir="runs/trl_text",
        num_generations=4,
        per_device_train_batch_size=8,
        max_steps=5,
        max_completion_length=2,
        learning_rate=1e-2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=0,
    )
    # tag=None: the tiny model answers with bare words, no <answer> tags.
    reward = TRLReward(rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None), args)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
    )
    trainer.train()
    for log in trainer.state.log_history:
        if "reward" in log:
            print(
                f"step {log['step']}: reward {log['reward']:+.3f}  "
                f"correctness {log.get('speciarl_taxonomy/correctness', float('nan')):.3f}"
            )


if __name__ == "__main__":
    main()
