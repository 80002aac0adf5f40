"""SpeciaRL's training recipe with TRL's GRPOTrainer and a rewardkit reward.

    # the paper's setting (Qwen2.5-VL-7B-Instruct, LoRA, 10 rollouts, CUB 3,000-image subset)
    accelerate launch --num_processes 4 examples/speciarl/train.py --preset paper \
        --data-root /data/CUB_200_2011 --output-dir runs/speciarl-7b
    # check the whole configuration, data set and judge wiring without loading the model
    python examples/speciarl/train.py --preset paper --data-root /data/CUB_200_2011 --dry-run
    # the same pipeline with a tiny random Qwen2.5-VL: a few steps on one GPU (or the CPU)
    python examples/speciarl/train.py --preset gpu-smoke

The judge is any registered rewardkit judge (``--judge NAME --judge-option key=value``); the
default is the taxonomy judge over the CUB taxonomy built from the eBird taxonomy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from loaders import DataError, Sample, cub_subset, load  # noqa: E402

import rewardkit as rk  # noqa: E402

PROMPT = (
    "Classify the image. Think step by step inside <think> </think>, then give the final "
    "answer inside <answer> </answer> as a single label, or the word None to abstain."
)

PRESETS: dict[str, dict] = {
    "paper": dict(
        model="Qwen/Qwen2.5-VL-7B-Instruct",
        lora=dict(
            r=64, lora_alpha=32, target_modules="all-linear", exclude_modules=r".*visual.*"
        ),  # language model only; vision tower frozen
        learning_rate=3e-5,
        lr_scheduler_type="constant",
        num_generations=10,
        temperature=1.0,
        beta=0.01,
        epsilon=0.2,
        num_train_epochs=15,
        prompts_per_step=256,
        prompts_per_minibatch=128,
        per_device_train_batch_size=8,
        world_size=4,
        max_prompt_length=2048,
        max_completion_length=2048,
        loss_type="grpo",
        scale_rewards="group",
        bf16=True,
        use_vllm=True,
        train_images=3000,
        seed=42,
        rule="speciarl",
        save_strategy="steps",
    ),
    "gpu-smoke": dict(
        model="tiny",
        lora=None,
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        num_generations=4,
        temperature=1.0,
        beta=0.01,
        epsilon=0.2,
        max_steps=4,
        prompts_per_step=4,
        prompts_per_minibatch=4,
        per_device_train_batch_size=16,
        world_size=1,
        max_prompt_length=None,
        max_completion_length=8,
        loss_type="grpo",
        scale_rewards="group",
        bf16=False,
        use_vllm=False,
        train_images=64,
        seed=0,
        rule="speciarl",
        save_strategy="no",
    ),
}


def grpo_config(preset: dict, output_dir: str, cpu: bool):
    """GRPOConfig for a preset: `prompts_per_step` prompts x `num_generations` rollouts are
    generated per step; each optimiser step sees `prompts_per_minibatch` prompts."""
    from trl import GRPOConfig

    g, world, per_device = (
        preset["num_generations"],
        preset["world_size"],
        preset["per_device_train_batch_size"],
    )
    completions_per_step = preset["prompts_per_step"] * g
    per_optimizer_step = preset["prompts_per_minibatch"] * g
    if completions_per_step % (world * per_device) or per_optimizer_step % (world * per_device):
        raise ValueError(
            f"{completions_per_step} completions per step do not split over "
            f"{world} processes x {per_device} per device"
        )
    kwargs = dict(
        output_dir=output_dir,
        learning_rate=preset["learning_rate"],
        lr_scheduler_type=preset["lr_scheduler_type"],
        num_generations=g,
        temperature=preset["temperature"],
        beta=preset["beta"],
        epsilon=preset["epsilon"],
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=per_optimizer_step // (world * per_device),
        steps_per_generation=completions_per_step // (world * per_device),
        max_completion_length=preset["max_completion_length"],
        loss_type=preset["loss_type"],
        scale_rewards=preset["scale_rewards"],
        bf16=preset["bf16"] and not cpu,
        use_cpu=cpu,
        use_vllm=preset["use_vllm"],
        seed=preset["seed"],
        logging_steps=1,
        report_to=[],
        save_strategy=preset["save_strategy"],
        save_steps=50,
        remove_unused_columns=False,
    )
    if "max_steps" in preset:
        kwargs["max_steps"] = preset["max_steps"]
    else:
        kwargs["num_train_epochs"] = preset["num_train_epochs"]
    return GRPOConfig(**kwargs)


def synthetic_samples(n: int, seed: int) -> tuple[list[Sample], dict]:
    """Small generated images labelled with the demo's bird species (for the smoke preset)."""
    taxonomy = json.loads((Path(__file__).parent / "data" / "demo_birds.json").read_text())
    rnd = random.Random(seed)
    species = [p[-1] for p in taxonomy["paths"]]
    return [Sample(f"synthetic:{i}", rnd.choice(species), "train") for i in range(n)], taxonomy


def build_rows(samples: list[Sample]) -> dict:
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    missing = [
        s.image
        for s in samples
        if not s.image.startswith("synthetic:") and not os.path.isfile(s.image)
    ]
    if missing:
        raise DataError(f"missing image file: {missing[0]} ({len(missing)} missing in all)")
    return {
        "prompt": [prompt] * len(samples),
        "image": [s.image for s in samples],
        "label": [s.label for s in samples],
    }


def judge_from_args(args, taxonomy_dict: dict | None):
    options = dict(kv.split("=", 1) for kv in args.judge_option)
    if args.judge == "taxonomy" and "taxonomy" not in options:
        if taxonomy_dict is None:
            raise ValueError("the taxonomy judge needs --judge-option taxonomy=FILE")
        options["taxonomy"] = rk.Taxonomy.from_dict(taxonomy_dict, source="CUB taxonomy")
    return rk.get_judge(args.judge, **options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu-smoke")
    parser.add_argument(
        "--data-root",
        help="CUB_200_2011 folder (synthetic images if absent with the gpu-smoke preset)",
    )
    parser.add_argument("--output-dir", default="runs/speciarl-train")
    parser.add_argument("--judge", default="taxonomy")
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rule", help="reward rule (default: the preset's, speciarl)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build and check everything, load no model, train nothing",
    )
    args = parser.parse_args(argv)
    preset = dict(PRESETS[args.preset])
    rule = args.rule or preset["rule"]

    if args.data_root:
        samples = cub_subset(
            load("cub", args.data_root, "train"), preset["train_images"], preset["seed"]
        )
        taxonomy_dict = None
        if args.judge == "taxonomy" and not any(
            o.startswith("taxonomy=") for o in args.judge_option
        ):
            from taxonomies import cub_taxonomy

            names = sorted(
                {s.label for s in load("cub", args.data_root, "test")} | {s.label for s in samples}
            )
            taxonomy_dict, unmatched = cub_taxonomy(names)
            if unmatched:
                print(
                    f"note: {len(unmatched)} CUB names are not in the eBird taxonomy and "
                    f"stay without parents: {', '.join(unmatched[:5])}...",
                    file=sys.stderr,
                )
    elif args.preset == "gpu-smoke":
        samples, taxonomy_dict = synthetic_samples(preset["train_images"], preset["seed"])
    else:
        parser.error(f"--preset {args.preset} needs --data-root")
    rows = build_rows(samples)
    judge = judge_from_args(args, taxonomy_dict)
    if hasattr(judge, "check_labels"):
        judge.check_labels(sorted(set(rows["label"])))
    reward = rk.LadderReward(judge, rule)

    import torch

    cuda = torch.cuda.is_available()
    config = grpo_config(preset, args.output_dir, cpu=not cuda)
    summary = {
        "preset": args.preset,
        "model": preset["model"],
        "rule": rule,
        "judge": judge.name,
        "train_images": len(samples),
        "classes": len(set(rows["label"])),
        "generations": config.num_generations,
        "completions_per_step": preset["prompts_per_step"] * preset["num_generations"],
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "steps_per_generation": config.steps_per_generation,
        "lora": preset["lora"],
        "learning_rate": config.learning_rate,
        "beta": config.beta,
        "world_size": preset["world_size"],
        "device": "cuda" if cuda else "cpu",
    }
    if preset["lora"]:
        from peft import LoraConfig

        summary["lora_config"] = repr(LoraConfig(task_type="CAUSAL_LM", **preset["lora"]))[:80]
    if args.dry_run:
        print(json.dumps(summary, indent=1))
        return 0
    return train(preset, config, rows, reward, summary, args.output_dir)


def train(preset, config, rows, reward, summary, output_dir) -> int:
    import torch
    from datasets import Dataset, Image
    from trl import GRPOTrainer

    from rewardkit.adapters.trl import TRLReward

    if preset["model"] == "tiny":
        from PIL import Image as PILImage

        from rewardkit.tiny import tiny_vision_lm, word_tokenizer

        names = sorted({w for label in rows["label"] for w in label.split()})
        tokenizer = word_tokenizer([*PROMPT.split(), "None", *names], vision=True)
        model, processor = tiny_vision_lm(tokenizer, seed=preset["seed"])
        # Saved and reloaded so the model has a local path: TRL builds the KL reference
        # model from it.
        local = Path(output_dir) / "tiny-model"
        model.save_pretrained(local)
        model = type(model).from_pretrained(local)
        rnd = random.Random(preset["seed"])
        images = [
            PILImage.new("RGB", (32, 32), tuple(rnd.randrange(256) for _ in range(3)))
            for _ in rows["image"]
        ]
        data = Dataset.from_dict({**rows, "image": images})
    else:  # the paper's model
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(preset["model"])
        model = AutoModelForImageTextToText.from_pretrained(
            preset["model"], torch_dtype=torch.bfloat16
        )
        data = Dataset.from_dict(rows).cast_column("image", Image())
    if torch.cuda.is_available():
        model = model.to("cuda")
        torch.cuda.reset_peak_memory_stats()
    peft_config = None
    if preset["lora"]:  # LoRA on the language model's linear layers
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", **preset["lora"])
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[TRLReward(reward, config)],
        args=config,
        train_dataset=data,
        processing_class=processor,
        peft_config=peft_config,
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    steps = [h for h in trainer.state.log_history if "step_time" in h]
    summary.update(
        train_seconds=round(seconds, 2),
        steps=len(steps),
        step_time_s=[round(h["step_time"], 4) for h in steps],
        reward=[h.get("reward") for h in steps],
        peak_gpu_memory_mib=(
            round(torch.cuda.max_memory_allocated() / 2**20) if torch.cuda.is_available() else None
        ),
    )
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
