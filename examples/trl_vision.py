"""GRPO with TRL on a tiny offline Qwen2.5-VL: chat prompts with an image column (CPU).

python examples/trl_vision.py
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasets import Dataset  # noqa: E402
from PIL import Image  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import rewardkit as rk  # noqa: E402
from rewardkit.adapters.trl import TRLReward  # noqa: E402
from rewardkit.tiny import tiny_vision_lm, word_tokenizer  # noqa: E402

TAXONOMY = os.path.join(os.path.dirname(__file__), "data", "animals.json")


def main() -> None:
    taxonomy = rk.Taxonomy.load(TAXONOMY)
    tokenizer = word_tokenizer(["classify", "the", "image", *taxonomy.names], vision=True)
    model, processor = tiny_vision_lm(tokenizer, seed=0)
    labels = ["samoyed", "spitz", "warbler", "american robin"] * 2
    prompt = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "classify the image"}],
        }
    ]
    images = [Image.new("RGB", (32, 32), (30 * i, 120, 200 - 20 * i)) for i in range(len(labels))]
    data = Dataset.from_dict({"prompt": [prompt] * len(labels), "image": images, "label": labels})

    args = GRPOConfig(
        output_dir="runs/trl_vision",
        num_generations=4,
        per_device_train_batch_size=8,
        max_steps=3,
        max_completion_length=2,
        learning_rate=1e-2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=0,
    )
    reward = TRLReward(rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None), args)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=data,
        processing_class=processor,
    )
    trainer.train()
    for log in trainer.state.log_history:
        if "reward" in log:
            print(
                f"step {log['step']}: reward {log['reward']:+.3f}  "
                f"wrong share {log.get('speciarl_taxonomy/rung/wrong', float('nan')):.3f}"
            )


if __name__ == "__main__":
    main()
