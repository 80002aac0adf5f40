"""The SpeciaRL presets for TRL's GRPOTrainer: settings, schedules and TRL parity with verl.

Each paper preset names the authors' run it reproduces (``authors_run``, a run of
``data/authors_config.json``: their verl script, read line by line). TRL settings that differ
from verl by default are set explicitly and listed in :data:`TRL_NAMED` with their reason, so
``train.py --show-config`` shows every one of them. :func:`schedule` is the step arithmetic of
TRL's sampler (a generation step takes ``prompts_per_step`` prompts; an incomplete last one is
dropped, as verl's ``drop_last``), checked before training and by ``--dry-run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
AUTHORS: dict = json.loads((HERE / "data" / "authors_config.json").read_text())

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

# The authors' static rewards (verl/ow_rf/reward_function_print.py, SUCCESS_SCORING_MAPS):
# --rule graded --rule-option scale=1|2|3. reward3 is the exact rule.
SCALES: dict[str, dict[str, float]] = {
    "1": dict(wrong=0, abstain=0.25, generic=0.5, less_specific=0.75, specific=1, more_specific=1),
    "2": dict(wrong=0, abstain=0, generic=0.5, less_specific=0.75, specific=1, more_specific=1),
    "3": dict(wrong=0, abstain=0, generic=0, less_specific=0.75, specific=1, more_specific=1),
}

PAPER: dict[str, Any] = dict(
    authors_run="grpo",
    model="Qwen/Qwen2.5-VL-7B-Instruct",
    lora=dict(r=64, lora_alpha=32, target_modules="all-linear", exclude_modules=r".*visual.*"),
    learning_rate=3e-5,
    lr_scheduler_type="constant",
    warmup_steps=0,
    weight_decay=0.01,
    max_grad_norm=1.0,
    num_generations=10,
    temperature=1.0,
    beta=0.01,
    epsilon=0.2,
    epsilon_high=None,
    delta=3.0,  # verl's dual-clip constant clip_ratio_c (see TRL_NAMED)
    num_train_epochs=15,
    prompts_per_step=256,
    prompts_per_minibatch=128,
    per_device_train_batch_size=32,  # verl's ppo_micro_batch_size_per_gpu
    world_size=4,
    max_prompt_length=2048,
    max_completion_length=2048,
    loss_type="bnpo",  # verl's token-mean: a token mean per 32-sequence micro-batch
    scale_rewards="group",
    bf16=True,
    use_vllm=True,
    train_sets={"cub": 3000},
    seed=42,
    rule="speciarl",
    rule_options={"unscored": 0.0},  # a judge error earns 0, as in the authors' reward
    noise=None,
    extraction="authors",
    save_strategy="steps",
    overlong_buffer=None,
    judge=PAPER_JUDGE,
)


def _paper(**changes: Any) -> dict[str, Any]:
    return dict(PAPER, **changes)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": PAPER,
    # verl loss_agg_mode=seq-mean-token-sum-norm sums each 32-sequence micro-batch: its
    # gradient is 32x TRL's dr_grpo, so clipping at 1/32 meets verl's clip at 1.0 (AdamW
    # does not see the scale).
    "paper-drgrpo": _paper(
        authors_run="drgrpo",
        loss_type="dr_grpo",
        scale_rewards="none",
        beta=0.0,
        max_grad_norm=1.0 / 32,
    ),
    "paper-dapo": _paper(
        authors_run="dapo", beta=0.0, epsilon_high=0.28, delta=10.0, overlong_buffer=512
    ),
    "paper-n5": _paper(authors_run="n5", num_generations=5),
    "paper-n15": _paper(authors_run="n15", num_generations=15),
    "paper-data128": _paper(authors_run="data128", train_sets={"cub": 128}, prompts_per_step=128),
    "paper-data1024": _paper(authors_run="data1024", train_sets={"cub": 1024}),
    "paper-data2048": _paper(authors_run="data2048", train_sets={"cub": 2048}),
    "paper-rft": _paper(authors_run="reward3", rule="exact"),
    "paper-cub-st": _paper(
        authors_run="dv-cub", prompts_per_step=512, learning_rate=3e-6, num_generations=5
    ),
    "paper-mixed": _paper(
        authors_run="mixed",
        per_device_train_batch_size=16,
        train_sets={d: 500 for d in ("cub", "food101", "flowers102", "pets", "aircraft", "cars")},
    ),
    "gpu-smoke": dict(
        PAPER,
        authors_run=None,
        model="tiny",
        lora=None,
        learning_rate=1e-3,
        num_generations=4,
        max_steps=4,
        prompts_per_step=4,
        prompts_per_minibatch=4,
        per_device_train_batch_size=16,
        world_size=1,
        max_prompt_length=None,
        max_completion_length=8,
        loss_type="grpo",
        bf16=False,
        use_vllm=False,
        train_sets={"synthetic": 64},
        seed=0,
        rule_options={},
        extraction="strict",
        save_strategy="no",
        judge=None,  # the taxonomy judge
    ),
}
for _k in SCALES:
    PRESETS[f"paper-graded{_k}"] = _paper(
        authors_run=f"scala{_k}", rule="graded", rule_options={"scale": SCALES[_k], "unscored": 0.0}
    )
for _pct in (5, 10, 25):  # the authors trained the noise ablation on the 1,024-image file
    PRESETS[f"paper-noise{_pct}"] = _paper(
        authors_run=f"noise{_pct}", train_sets={"cub": 1024}, noise=_pct / 100
    )
for _d in ("aircraft", "flowers102", "food101", "pets"):  # their subset sizes are not published
    PRESETS[f"paper-{_d}"] = _paper(authors_run=f"dv-{_d}", train_sets={_d: 3000})

# Runs of the paper that TRL cannot train, and why.
UNSUPPORTED: dict[str, str] = {
    "paper-dapo-ds": (
        "DAPO with dynamic sampling (verl's algorithm.filter_groups: generation batches of 768 "
        "prompts, groups whose rewards are all equal dropped, up to 10 batches until 256 prompts "
        "remain) has no TRL 1.16 counterpart: GRPOTrainer trains on every generated group. Run it "
        "with verl's DAPO recipe and rewardkit's verl reward manager (docs/trainers/verl.md)."
    ),
}

# TRL settings whose defaults differ from what the authors' verl runs did, set explicitly:
# name -> (value for the paper presets, TRL 1.16's default, why).
TRL_NAMED: dict[str, tuple[Any, Any, str]] = {
    "vllm_importance_sampling_correction": (
        False,
        True,
        "verl weighs nothing by trainer/vLLM log-prob ratios (no rollout correction)",
    ),
    "use_bias_correction_kl": (
        False,
        True,
        "verl's low_var_kl is the plain k3 estimator, not weighted by the policy ratio",
    ),
    "delta": (
        3.0,
        None,
        "verl's dual-clip clip_ratio_c=3 (10 for DAPO): for negative advantages "
        "the ratio is capped at delta - the same loss and gradient as dual-clip PPO",
    ),
    "top_k": (0, 0, "sampling: no top-k (verl rollout top_k=-1)"),
    "top_p": (1.0, 1.0, "sampling: no nucleus cut (verl rollout top_p=1)"),
    "min_p": (None, None, "sampling: no min-p (vLLM's 0.0)"),
    "repetition_penalty": (
        1.0,
        1.0,
        "sampling: none; verl builds vLLM SamplingParams from its "
        "rollout keys only (Qwen2.5-VL's generation_config.json says 1.05)",
    ),
    "importance_sampling_level": ("token", "token", "verl's ratio is per token"),
    "num_iterations": (1, 1, "verl ppo_epochs=1"),
    "mask_truncated_completions": (False, False, "verl trains on truncated completions"),
    "top_entropy_quantile": (1.0, 1.0, "every token in the loss"),
    "off_policy_mask_threshold": (None, None, "no off-policy masking in verl"),
    "entropy_coef": (0.0, 0.0, "verl entropy_coeff=0"),
    "disable_dropout": (False, False, "Qwen2.5-VL and verl's LoRA have no dropout either way"),
    "optim": ("adamw_torch_fused", "adamw_torch_fused", "AdamW, as verl's torch.optim.AdamW"),
    "gradient_checkpointing": (True, True, "verl enable_gradient_checkpointing=True"),
    "shuffle_dataset": (True, True, "verl data.shuffle=True"),
    "sync_ref_model": (False, False, "verl's reference is the frozen base model"),
    "vllm_mode": (
        "colocate",
        "colocate",
        "vLLM beside the trainer on the same GPUs, as verl's hybrid engine",
    ),
}

# Fixed in TRL, not settable: what stays different from verl.
NOT_IN_TRL: dict[str, str] = {
    "kl_estimator": "TRL's only estimator is k3 (exp(ref-logp)-(ref-logp)-1), verl's low_var_kl; "
    "verl also clamps the log-ratio to +-20 and the estimate to +-10, TRL does not",
    "advantage_epsilon": "TRL divides by std + 1e-4, verl by std + 1e-6 (differs only for groups "
    "whose reward spread is below about 1e-3)",
    "max_prompt_length": "TRL's GRPOConfig has no prompt truncation (verl drops prompts over 2,048 "
    "tokens; the paper's prompts are far shorter)",
    "balance_batch": "verl reorders each batch to balance sequence lengths across GPUs before "
    "cutting mini-batches; TRL shuffles the generation batch instead (same expectation)",
}


def train_images(preset: dict[str, Any]) -> int:
    """All training images of a preset (the sum of its data sets' subsets)."""
    return int(sum(preset["train_sets"].values()))


@dataclass(frozen=True)
class Schedule:
    """Steps of a run over ``images`` training images."""

    images: int
    generation_steps_per_epoch: int
    optimizer_steps_per_generation: int
    epochs: int | None  # None: a fixed number of steps (max_steps)
    max_steps: int | None = None

    @property
    def optimizer_steps_per_epoch(self) -> int:
        return self.generation_steps_per_epoch * self.optimizer_steps_per_generation

    @property
    def total_optimizer_steps(self) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return self.optimizer_steps_per_epoch * (self.epochs or 0)

    @property
    def total_generation_steps(self) -> int:
        return self.total_optimizer_steps // self.optimizer_steps_per_generation

    def to_dict(self) -> dict[str, int | None]:
        return {
            "images": self.images,
            "generation_steps_per_epoch": self.generation_steps_per_epoch,
            "optimizer_steps_per_generation": self.optimizer_steps_per_generation,
            "optimizer_steps_per_epoch": self.optimizer_steps_per_epoch,
            "epochs": self.epochs,
            "total_generation_steps": self.total_generation_steps,
            "total_optimizer_steps": self.total_optimizer_steps,
        }


class ScheduleError(ValueError):
    """A preset that would train nothing (or not as the paper did) on its data."""


def schedule(preset: dict[str, Any], images: int | None = None) -> Schedule:
    """TRL's schedule for ``images`` training images (default: the preset's): its sampler
    yields ``images // prompts_per_step`` generation steps per epoch, each split into
    ``prompts_per_step // prompts_per_minibatch`` optimiser steps. Raises
    :class:`ScheduleError` when an epoch has no step (TRL would stop at step 0)."""
    images = train_images(preset) if images is None else images
    per_step, per_mini = preset["prompts_per_step"], preset["prompts_per_minibatch"]
    if per_step % per_mini:
        raise ScheduleError(
            f"{per_step} prompts per step do not split into mini-batches of {per_mini}"
        )
    out = Schedule(
        images,
        images // per_step,
        per_step // per_mini,
        None if "max_steps" in preset else preset["num_train_epochs"],
        preset.get("max_steps"),
    )
    if out.generation_steps_per_epoch == 0:
        raise ScheduleError(
            f"{images} training images give no generation step of {per_step} prompts: TRL's "
            "sampler drops the incomplete batch and the trainer stops at step 0 (lower "
            "prompts_per_step, as the authors' 128-image run does, or give more images)"
        )
    return out


def authors_run(name: str) -> dict[str, Any]:
    """The authors' run: its verl values (run values over its base run's), and its file."""
    run = AUTHORS["runs"][name]
    values = dict(AUTHORS["runs"][run["base"]]["values"]) if run.get("base") else {}
    values.update(run["values"])
    return {"file": run["file"], "values": values, "train_images": run.get("train_images")}


def paper_schedule(preset: dict[str, Any]) -> dict[str, int] | None:
    """The authors' step counts for a preset's run (verl: ``images // train_batch_size``
    generation steps per epoch, ``train_batch_size // ppo_mini_batch_size`` optimiser steps
    each), or None where the run's training-set size is not published."""
    if not preset.get("authors_run"):
        return None
    run = authors_run(preset["authors_run"])
    if not run["train_images"]:
        return None
    v = run["values"]
    generation = run["train_images"]["value"] // v["prompts_per_step"]["value"]
    per_generation = v["prompts_per_step"]["value"] // v["prompts_per_minibatch"]["value"]
    epochs = v["epochs"]["value"]
    return {
        "images": run["train_images"]["value"],
        "generation_steps_per_epoch": generation,
        "total_generation_steps": generation * epochs,
        "total_optimizer_steps": generation * per_generation * epochs,
    }


def batch(preset: dict[str, Any]) -> dict[str, int]:
    """The batch arithmetic: completions per generation step and per optimiser step, split over
    ``world_size`` processes of ``per_device_train_batch_size`` completions."""
    g, world, per_device = (
        preset["num_generations"],
        preset["world_size"],
        preset["per_device_train_batch_size"],
    )
    per_step, per_mini = preset["prompts_per_step"] * g, preset["prompts_per_minibatch"] * g
    if per_step % (world * per_device) or per_mini % (world * per_device):
        raise ValueError(
            f"{per_step} completions per step ({per_mini} per optimiser step) do not split over "
            f"{world} processes x {per_device} per device"
        )
    return {
        "completions_per_step": per_step,
        "completions_per_optimizer_step": per_mini,
        "steps_per_generation": per_step // (world * per_device),
        "gradient_accumulation_steps": per_mini // (world * per_device),
    }


def trl_kwargs(preset: dict[str, Any]) -> dict[str, Any]:
    """Every GRPOConfig argument a preset sets (output, logging and device ones aside): the
    preset's own, and each setting of :data:`TRL_NAMED` stated explicitly."""
    arithmetic = batch(preset)
    kwargs: dict[str, Any] = {k: value for k, (value, _, _) in TRL_NAMED.items()}
    kwargs.update(
        {
            k: preset[k]
            for k in (
                "learning_rate",
                "lr_scheduler_type",
                "warmup_steps",
                "weight_decay",
                "max_grad_norm",
                "num_generations",
                "temperature",
                "beta",
                "epsilon",
                "delta",
                "per_device_train_batch_size",
                "max_completion_length",
                "loss_type",
                "scale_rewards",
                "use_vllm",
                "seed",
            )
        }
    )
    kwargs["gradient_accumulation_steps"] = arithmetic["gradient_accumulation_steps"]
    kwargs["steps_per_generation"] = arithmetic["steps_per_generation"]
    kwargs["epsilon_high"] = preset["epsilon_high"] or preset["epsilon"]
    kwargs["adam_beta1"], kwargs["adam_beta2"], kwargs["adam_epsilon"] = 0.9, 0.999, 1e-8
    if "max_steps" in preset:
        kwargs["max_steps"] = preset["max_steps"]
    else:
        kwargs["num_train_epochs"] = preset["num_train_epochs"]
    return kwargs
