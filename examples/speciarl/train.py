"""SpeciaRL's training recipe with TRL's GRPOTrainer and a rewardkit reward.

    # the paper's setting (Qwen2.5-VL-7B-Instruct, LoRA, 10 rollouts, CUB 3,000-image subset)
    accelerate launch --num_processes 4 examples/speciarl/train.py --preset paper \
        --data-root /data/CUB_200_2011 --output-dir runs/speciarl-7b
    # check the whole configuration, data set, schedule and judge wiring without the model
    python examples/speciarl/train.py --preset paper --data-root /data/CUB_200_2011 --dry-run
    # the same pipeline with a tiny random Qwen2.5-VL: a few steps on one GPU (or the CPU)
    python examples/speciarl/train.py --preset gpu-smoke

The presets and their TRL settings are in presets.py; ``--show-config`` prints the effective
configuration (every TRL setting named for parity with the authors' verl runs, the schedule
and the paper's) and exits, with no data, weights or GPU. The paper presets train with the
paper's LLM judge (Qwen3-30B-A3B-Instruct-2507-FP8 on a vLLM server, see docs/speciarl.md);
``--judge taxonomy`` is the offline alternative, any registered judge works (``--judge NAME
--judge-option k=v``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import presets as P  # noqa: E402
from loaders import DataError, Sample, load  # noqa: E402

import rewardkit as rk  # noqa: E402

# The authors' policy prompt (general_base, empty system prompt), verbatim; see NOTICE.
_GENERAL_BASE = json.loads((Path(__file__).parent / "prompts" / "general_base.ndjson").read_text())
PROMPT: str = _GENERAL_BASE["user_prompt_template"]
PRESETS = P.PRESETS


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


def resolve(args) -> dict:
    """The preset with the command line's changes: --rule, --rule-option, --per-device-batch."""
    preset = dict(P.PRESETS[args.preset])
    if args.rule:
        preset["rule"] = args.rule
    options = dict(preset["rule_options"])
    for item in args.rule_option:
        key, _, value = item.partition("=")
        if key == "scale" and value in P.SCALES:
            options[key] = P.SCALES[value]  # the authors' scala1..3 tables
            continue
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    preset["rule_options"] = options
    if args.per_device_batch:
        preset["per_device_train_batch_size"] = args.per_device_batch
    return preset


def effective_config(preset_name: str, preset: dict, args) -> dict:
    """What a run would use, as JSON: the GRPOConfig arguments (every TRL default that
    differs from verl named with its reason), batch and schedule, judge, reward, prompt."""
    kwargs = P.trl_kwargs(preset)
    named = {
        k: {"value": kwargs[k], "trl_default": default, "why": why}
        for k, (_, default, why) in P.TRL_NAMED.items()
    }
    named["kl_estimator"] = {
        "value": "k3, not weighted" if preset["beta"] else "none (beta 0)",
        "trl_default": "k3 weighted by the policy ratio (use_bias_correction_kl=True)",
        "why": "verl low_var_kl: k3 clamped to +-10 (TRL has no clamp; see not_in_trl)",
    }
    return {
        "preset": preset_name,
        "authors_run": preset["authors_run"] and P.AUTHORS["runs"][preset["authors_run"]]["file"],
        "model": preset["model"],
        "policy_prompt": {"system": _GENERAL_BASE["system_prompt"], "user": PROMPT},
        "judge": judge_spec(args, preset),
        "reward": {
            k: preset[k] for k in ("rule", "rule_options", "noise", "extraction", "overlong_buffer")
        },
        "data": {"train_sets": preset["train_sets"], "subset_seed": preset["seed"]},
        "lora": preset["lora"],
        "max_prompt_length": preset["max_prompt_length"],
        "batch": {k: preset[k] for k in ("prompts_per_step", "prompts_per_minibatch", "world_size")}
        | P.batch(preset),
        "schedule": P.schedule(preset).to_dict(),
        "paper_schedule": P.paper_schedule(preset),
        "trainer": kwargs | {"bf16": preset["bf16"]},
        "trl_named": named,
        "not_in_trl": P.NOT_IN_TRL,
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


def training_samples(preset: dict, args, parser) -> list[Sample]:
    """Each data set's seeded subset, drawn in the authors' order from one random.Random(seed)
    (for one data set, ``Random(seed).sample`` over its train split in id order, as theirs)."""
    roots = dict(item.partition("=")[::2] for item in args.data)
    split_files = dict(item.partition("=")[::2] for item in args.split_file)
    sets = preset["train_sets"]
    if args.data_root:
        if len(sets) != 1:
            parser.error(
                f"--preset {args.preset} trains on {', '.join(sets)}: give --data NAME=ROOT"
            )
        roots.setdefault(next(iter(sets)), args.data_root)
    missing = [name for name in sets if name not in roots]
    if missing:
        parser.error(
            f"--preset {args.preset} needs --data-root "
            f"(or --data NAME=ROOT for {', '.join(missing)})"
        )
    rnd = random.Random(preset["seed"])
    samples: list[Sample] = []
    for name, n in sets.items():
        pool = load(name, roots[name], "train", split_files.get(name))
        samples += pool if len(pool) <= n else rnd.sample(pool, n)
    return samples


def cub_taxonomy_for(samples: list[Sample], args) -> dict:
    """The taxonomy judge's CUB taxonomy (from eBird) over the train and test class names."""
    from taxonomies import cub_taxonomy

    roots = dict(item.partition("=")[::2] for item in args.data)
    root = args.data_root or roots["cub"]
    names = sorted({s.label for s in load("cub", root, "test")} | {s.label for s in samples})
    taxonomy, unmatched = cub_taxonomy(names)
    if unmatched:
        print(
            f"note: {len(unmatched)} CUB names are not in the eBird taxonomy and "
            f"stay without parents: {', '.join(unmatched[:5])}...",
            file=sys.stderr,
        )
    return taxonomy


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


def build_reward(args, preset: dict, taxonomy_dict: dict | None) -> rk.LadderReward:
    """The judge (wrapped in the noise ablation's NoisyJudge where the preset sets noise), the
    rule with its options, and the preset's answer extraction."""
    spec = judge_spec(args, preset)
    name = spec.pop("judge")
    if name == "taxonomy" and "taxonomy" not in spec:
        if taxonomy_dict is None:
            raise ValueError("the taxonomy judge needs --judge-option taxonomy=FILE")
        spec["taxonomy"] = rk.Taxonomy.from_dict(taxonomy_dict, source="CUB taxonomy")
    if name in ("openai", "litellm"):
        spec.setdefault("cache", str(Path(args.output_dir) / "verdicts.sqlite"))
    judge = rk.get_judge(name, **spec)
    if preset["noise"]:
        from rewardkit.judges import NoisyJudge

        judge = NoisyJudge(judge, preset["noise"], seed=preset["seed"])
    return rk.LadderReward(
        judge, preset["rule"], rule_options=preset["rule_options"], extraction=preset["extraction"]
    )


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--preset", choices=sorted([*P.PRESETS, *P.UNSUPPORTED]), default="gpu-smoke"
    )
    parser.add_argument("--data-root", help="the training data set's folder (one-set presets)")
    parser.add_argument("--data", action="append", default=[], metavar="NAME=ROOT")
    parser.add_argument("--split-file", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--output-dir", default="runs/speciarl-train")
    parser.add_argument("--judge", help="a registered judge (default: the preset's)")
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--judge-api-base", help="the paper judge's server (default local :8000)")
    parser.add_argument("--judge-model", help="the paper judge's model name on that server")
    parser.add_argument("--rule", help="reward rule (default: the preset's)")
    parser.add_argument(
        "--rule-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a rule option; scale=1|2|3 is the authors' graded scale of that number",
    )
    parser.add_argument(
        "--per-device-batch",
        type=int,
        help="completions per device per micro-batch (default: the preset's, verl's micro-batch)",
    )
    parser.add_argument("--show-config", action="store_true", help="print the configuration, exit")
    parser.add_argument("--dry-run", action="store_true", help="check everything, train nothing")
    return parser, parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    if args.preset in P.UNSUPPORTED:
        parser.error(f"--preset {args.preset}: {P.UNSUPPORTED[args.preset]}")
    preset = resolve(args)
    try:
        P.batch(preset)  # the batch arithmetic splits over the processes
        if args.show_config:
            print(json.dumps(effective_config(args.preset, preset, args), indent=1))
            return 0
        if "synthetic" in preset["train_sets"]:
            samples, taxonomy = synthetic_samples(P.train_images(preset), preset["seed"])
        else:
            samples = training_samples(preset, args, parser)
            taxonomy = None
            if (
                judge_spec(args, preset)["judge"] == "taxonomy"
                and "cub" in preset["train_sets"]
                and not any(o.startswith("taxonomy=") for o in args.judge_option)
            ):
                taxonomy = cub_taxonomy_for(samples, args)
        plan = P.schedule(preset, len(samples))  # before anything heavy: trains at all?
        rows = build_rows(samples)
        reward = build_reward(args, preset, taxonomy)
    except (ValueError, DataError) as e:  # ScheduleError is a ValueError
        print(f"train.py: {e}", file=sys.stderr)
        return 2
    if hasattr(reward.judge, "check_labels"):
        reward.judge.check_labels(sorted(set(rows["label"])))
    summary = dry_run_summary(args.preset, preset, rows, reward, plan, args)
    if args.dry_run:
        print(json.dumps(summary, indent=1))
        return 0
    from run_trl import train

    return train(preset, rows, reward, summary, args.output_dir, PROMPT)


def dry_run_summary(name: str, preset: dict, rows: dict, reward, plan, args) -> dict:
    """What a run will do, checked against the data: batch, schedule (and the paper's)."""
    paper = P.paper_schedule(preset)
    out = {
        "preset": name,
        "model": preset["model"],
        "rule": reward.rule.name,
        "rule_options": preset["rule_options"],
        "extraction": reward.extraction,
        "judge": reward.judge.name,
        "judge_spec": {k: v for k, v in judge_spec(args, preset).items() if k != "taxonomy"},
        "policy_prompt": PROMPT,
        "train_images": len(rows["label"]),
        "classes": len(set(rows["label"])),
        "generations": preset["num_generations"],
        "lora": preset["lora"],
        "trainer": P.trl_kwargs(preset),
        "batch": P.batch(preset),
        "schedule": plan.to_dict(),
        "paper_schedule": paper,
        "schedule_as_paper": None
        if paper is None
        else paper["total_optimizer_steps"] == plan.total_optimizer_steps,
    }
    if preset["lora"]:
        from peft import LoraConfig

        out["lora_config"] = repr(LoraConfig(task_type="CAUSAL_LM", **preset["lora"]))[:80]
    if out["schedule_as_paper"] is False:
        print(
            f"note: {plan.total_optimizer_steps} optimiser steps on {plan.images} images; the "
            f"paper's run took {paper['total_optimizer_steps']} on {paper['images']}",  # type: ignore[index]
            file=sys.stderr,
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
