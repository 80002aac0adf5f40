"""SpeciaRL's training recipe with TRL's GRPOTrainer and a rewardkit reward.

    # the paper's setting (Qwen2.5-VL-7B-Instruct, LoRA, 10 rollouts, CUB 3,000-image subset)
    accelerate launch --num_processes 4 examples/speciarl/train.py --preset paper \
        --data-root /data/CUB_200_2011 --output-dir runs/speciarl-7b
    # check the whole configuration, data set and judge wiring without loading the model
    python examples/speciarl/train.py --preset paper --data-root /data/CUB_200_2011 --dry-run
    # the same pipeline with a tiny random Qwen2.5-VL: a few steps on one GPU (or the CPU)
    python examples/speciarl/train.py --preset gpu-smoke

The paper presets train with the paper's LLM judge: Qwen3-30B-A3B-Instruct-2507-FP8 served by
vLLM (``vllm serve ... --tensor-parallel-size 2``, see docs/speciarl.md), temperature 0, output
constrained to the six labels, thinking off, the authors' ``speciarl-paper`` judge prompt, verdicts
cached in the output folder. ``--judge taxonomy`` is the offline alternative (the CUB taxonomy
built from the eBird taxonomy); any registered judge works (``--judge NAME --judge-option k=v``).
``--show-config`` prints the effective configuration and exits, with no data, weights or GPU.
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

# The authors' policy prompt (general_base, empty system prompt), verbatim; see NOTICE.
_GENERAL_BASE = json.loads((Path(__file__).parent / "prompts" / "general_base.ndjson").read_text())
PROMPT: str = _GENERAL_BASE["user_prompt_template"]

# The paper's training judge (the authors' scripts/train/config.env.yml and their vLLM client).
PAPER_JUDGE = dict(
    judge="openai",
    model="Qwen/Qwen3-30B-A3B-Instruct-2507-FP8",
    api_base="http://127.0.0.1:8000/v1",
    prompt="speciarl-paper",
    constraint="choice",
    temperature=0.0,
    extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    api_key_env=None,
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
        loss_type="dapo",
        scale_rewards="group",
        bf16=True,
        use_vllm=True,
        train_images=3000,
        seed=42,
        rule="speciarl",
        save_strategy="steps",
        # verl's defaults the authors ran with: loss averaged over all tokens of the batch
        # (loss_agg_mode=token-mean: TRL's "dapo" normalises by the active tokens of the whole
        # accumulated batch; "bnpo" would use each process's local batch), AdamW weight decay
        # 0.01, low-variance KL (TRL's k3 estimator) at beta 0.01.
        weight_decay=0.01,
        epsilon_high=None,
        overlong_buffer=None,
        judge=PAPER_JUDGE,
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
        weight_decay=0.01,
        epsilon_high=None,
        overlong_buffer=None,
        judge=None,  # the taxonomy judge over the generated images' birds
    ),
}

# The paper's other runs (the authors' configs/rl_methods, main_cub and datascaling scripts).
PRESETS["paper-drgrpo"] = dict(
    PRESETS["paper"], loss_type="dr_grpo", scale_rewards="none", beta=0.0
)  # loss_agg_mode=seq-mean-token-sum-norm, no std normalisation, no KL loss
PRESETS["paper-dapo"] = dict(
    PRESETS["paper"], beta=0.0, epsilon=0.2, epsilon_high=0.28, overlong_buffer=512
)  # clip 0.2 / 0.28, no KL, overlong buffer 512 tokens (penalty factor 1)
for _n in (5, 15):
    PRESETS[f"paper-n{_n}"] = dict(PRESETS["paper"], num_generations=_n)
for _size in (128, 1024, 2048):
    PRESETS[f"paper-data{_size}"] = dict(PRESETS["paper"], train_images=_size)


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
        weight_decay=preset["weight_decay"],
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
    if preset["epsilon_high"] is not None:
        kwargs["epsilon_high"] = preset["epsilon_high"]
    if "max_steps" in preset:
        kwargs["max_steps"] = preset["max_steps"]
    else:
        kwargs["num_train_epochs"] = preset["num_train_epochs"]
    return GRPOConfig(**kwargs)


class OverlongPenalty:
    """DAPO's soft overlong punishment as a second reward function: 0 up to
    ``max_length - buffer`` completion tokens, then falling linearly to ``-factor`` at
    ``max_length`` (the authors' reward_model.overlong_buffer settings)."""

    __name__ = "overlong_penalty"

    def __init__(self, max_length: int, buffer: int, factor: float = 1.0) -> None:
        self.max_length, self.buffer, self.factor = max_length, buffer, factor

    def __call__(self, prompts, completions, completion_ids, **kwargs):
        start = self.max_length - self.buffer
        return [
            max(-self.factor, min(0.0, (start - len(ids)) / self.buffer * self.factor))
            for ids in completion_ids
        ]


def effective_config(preset_name: str, preset: dict, args) -> dict:
    """What a run would use, as JSON: trainer arguments, judge, policy prompt, generation."""
    judge = judge_spec(args, preset)
    g = preset["num_generations"]
    return {
        "preset": preset_name,
        "model": preset["model"],
        "policy_prompt": {"system": _GENERAL_BASE["system_prompt"], "user": PROMPT},
        "judge": judge,
        "rule": args.rule or preset["rule"],
        "trainer": {
            k: preset[k]
            for k in (
                "learning_rate",
                "lr_scheduler_type",
                "weight_decay",
                "num_generations",
                "temperature",
                "beta",
                "epsilon",
                "epsilon_high",
                "loss_type",
                "scale_rewards",
                "max_completion_length",
                "bf16",
                "use_vllm",
                "seed",
                "world_size",
                "per_device_train_batch_size",
                "prompts_per_step",
                "prompts_per_minibatch",
            )
        }
        | {
            "completions_per_step": preset["prompts_per_step"] * g,
            "epochs_or_steps": preset.get("max_steps") or preset.get("num_train_epochs"),
            "lora": preset["lora"],
            "overlong_buffer": preset["overlong_buffer"],
            "max_prompt_length": preset["max_prompt_length"],
        },
        "data": {"train_images": preset["train_images"], "subset_seed": preset["seed"]},
        "not_in_trl": {
            "max_prompt_length": "TRL's GRPOConfig has no prompt truncation (verl filters "
            "prompts over 2,048 tokens; the paper's prompts are far shorter)",
        },
    }


def judge_spec(args, preset: dict) -> dict:
    """The judge a run uses: --judge overrides the preset's (the paper's LLM judge)."""
    if args.judge or preset["judge"] is None:
        options = dict(kv.split("=", 1) for kv in args.judge_option)
        return {"judge": args.judge or "taxonomy", **options}
    spec = dict(preset["judge"])
    if args.judge_api_base:
        spec["api_base"] = args.judge_api_base
    if args.judge_model:
        spec["model"] = args.judge_model
    return spec


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


def judge_from_args(args, preset: dict, taxonomy_dict: dict | None, output_dir: str):
    spec = judge_spec(args, preset)
    name = spec.pop("judge")
    if name == "taxonomy" and "taxonomy" not in spec:
        if taxonomy_dict is None:
            raise ValueError("the taxonomy judge needs --judge-option taxonomy=FILE")
        spec["taxonomy"] = rk.Taxonomy.from_dict(taxonomy_dict, source="CUB taxonomy")
    if name in ("openai", "litellm"):
        spec.setdefault("cache", str(Path(output_dir) / "verdicts.sqlite"))
    return rk.get_judge(name, **spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu-smoke")
    parser.add_argument(
        "--data-root",
        help="CUB_200_2011 folder (synthetic images if absent with the gpu-smoke preset)",
    )
    parser.add_argument("--output-dir", default="runs/speciarl-train")
    parser.add_argument(
        "--judge", help="a registered judge (default: the preset's - the paper's LLM judge)"
    )
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--judge-api-base", help="the paper judge's server (default local :8000)")
    parser.add_argument("--judge-model", help="the paper judge's model name on that server")
    parser.add_argument(
        "--show-config",
        action="store_true",
        help="print the effective configuration as JSON and exit (no data, weights or GPU)",
    )
    parser.add_argument("--rule", help="reward rule (default: the preset's, speciarl)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build and check everything, load no model, train nothing",
    )
    args = parser.parse_args(argv)
    preset = dict(PRESETS[args.preset])
    rule = args.rule or preset["rule"]
    if args.show_config:
        print(json.dumps(effective_config(args.preset, preset, args), indent=1))
        return 0
    uses_taxonomy = judge_spec(args, preset)["judge"] == "taxonomy"

    if args.data_root:
        samples = cub_subset(
            load("cub", args.data_root, "train"), preset["train_images"], preset["seed"]
        )
        taxonomy_dict = None
        if uses_taxonomy and not any(o.startswith("taxonomy=") for o in args.judge_option):
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
    judge = judge_from_args(args, preset, taxonomy_dict, args.output_dir)
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
        "judge_spec": {k: v for k, v in judge_spec(args, preset).items() if k != "taxonomy"},
        "policy_prompt": PROMPT,
        "loss_type": config.loss_type,
        "weight_decay": config.weight_decay,
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
