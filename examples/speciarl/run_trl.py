"""The training run of train.py: TRL's GRPOTrainer with a preset's settings (see presets.py)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import presets as P


def grpo_config(preset: dict, output_dir: str, cpu: bool) -> Any:
    """GRPOConfig for a preset: every setting of :func:`presets.trl_kwargs`, plus output,
    logging and device."""
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=output_dir,
        bf16=preset["bf16"] and not cpu,
        use_cpu=cpu,
        logging_steps=1,
        report_to=[],
        save_strategy=preset["save_strategy"],
        save_steps=50,
        remove_unused_columns=False,
        **P.trl_kwargs(preset),
    )


def model_and_data(preset: dict, rows: dict, output_dir: str, prompt: str) -> tuple:
    """The policy, its processor and the training data set (the paper's model, or the tiny
    random Qwen2.5-VL of the smoke preset with generated images)."""
    import torch
    from datasets import Dataset, Image

    if preset["model"] != "tiny":
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(preset["model"])
        model = AutoModelForImageTextToText.from_pretrained(
            preset["model"], torch_dtype=torch.bfloat16
        )
        return model, processor, Dataset.from_dict(rows).cast_column("image", Image())
    from PIL import Image as PILImage

    from rewardkit.tiny import tiny_vision_lm, word_tokenizer

    names = sorted({w for label in rows["label"] for w in label.split()})
    tokenizer = word_tokenizer([*prompt.split(), "None", *names], vision=True)
    model, processor = tiny_vision_lm(tokenizer, seed=preset["seed"])
    # Saved and reloaded so the model has a local path: TRL builds the KL reference model from it.
    local = Path(output_dir) / "tiny-model"
    model.save_pretrained(local)
    model = type(model).from_pretrained(local)
    rnd = random.Random(preset["seed"])
    images = [
        PILImage.new("RGB", (32, 32), tuple(rnd.randrange(256) for _ in range(3)))
        for _ in rows["image"]
    ]
    return model, processor, Dataset.from_dict({**rows, "image": images})


def train(
    preset: dict, rows: dict, reward: Any, summary: dict, output_dir: str, prompt: str
) -> int:
    """Train, after checking TRL's own data loader has the steps :func:`presets.schedule` says."""
    import torch
    from train import OverlongPenalty
    from trl import GRPOTrainer

    from rewardkit.adapters.trl import TRLReward

    config = grpo_config(preset, output_dir, cpu=not torch.cuda.is_available())
    model, processor, data = model_and_data(preset, rows, output_dir, prompt)
    if torch.cuda.is_available():
        model = model.to("cuda")
        torch.cuda.reset_peak_memory_stats()
    peft_config = None
    if preset["lora"]:  # LoRA on the language model's linear layers
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", **preset["lora"])
    reward_funcs: list = [TRLReward(reward, config)]
    if preset["overlong_buffer"]:
        reward_funcs.append(
            OverlongPenalty(preset["max_completion_length"], preset["overlong_buffer"])
        )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=config,
        train_dataset=data,
        processing_class=processor,
        peft_config=peft_config,
    )
    batches = len(trainer.get_train_dataloader())
    if batches == 0:  # TRL would log step 0 and stop
        raise P.ScheduleError(f"TRL's data loader has no batch for {len(data)} images")
    summary["trl_batches_per_epoch"] = batches
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    steps = [h for h in trainer.state.log_history if "step_time" in h]
    summary.update(
        train_seconds=round(seconds, 2),
        steps=len(steps),
        step_time_s=[round(h["step_time"], 4) for h in steps],
        reward=[h.get("reward") for h in steps],
        device="cuda" if torch.cuda.is_available() else "cpu",
        peak_gpu_memory_mib=(
            round(torch.cuda.max_memory_allocated() / 2**20) if torch.cuda.is_available() else None
        ),
    )
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0
