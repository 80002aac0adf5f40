"""The flagship on a GPU: one prepared command that runs SpeciaRL GRPO end to end on CUDA.

    # here (with network): wheels the GPU machine lacks, into gpu_wheels/ (git-ignored)
    python examples/speciarl/gpu_check.py --prepare
    # on the GPU machine (no network): install the carried wheels, run the three checks
    make gpu-check          # = python3 examples/speciarl/gpu_check.py --wheels gpu_wheels
    # the same code at tiny sizes on a CPU (the test suite runs this)
    python examples/speciarl/gpu_check.py --cpu --out runs/gpu-check-cpu

Three checks, one JSON (``gpu_check.json``) and a Markdown table (``gpu_check.md``):

1. **The demo world at GPU scale**: the CPU replication's bird world with a larger Qwen2 policy
   (about 25M parameters), bf16, warm-started, then TRL's GRPOTrainer under the ``speciarl`` and
   ``exact`` rules; the held-out table as the CPU demo prints it, and the rung mix of the first
   and last steps.
2. **The paper's shape**: Qwen2.5-VL with the 7B configuration's dimensions, randomly
   initialised (no weights), LoRA r=64 / alpha=32 on the language model, G = 10, generated
   images, the ``speciarl`` reward with the taxonomy judge, 3 GRPO steps: step time, generation
   vs reward vs update time, the reward path's share, peak GPU memory, tokens per second.
3. **A local judge on the GPU**: the transformers log-likelihood judge (tiny model) on 2,000
   pairs: verdicts per second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# What the GPU machine lacks (it has torch, transformers, accelerate, peft, pandas, pyarrow).
WHEELS = [
    "trl==1.16.0",
    "datasets==5.2.0",
    "dill==0.4.1",
    "multiprocess==0.70.19",
    "pluggy==1.7.0",
    "xxhash",
]


def prepare(folder: Path) -> int:
    """Download the wheels (Python 3.12, x86-64) and build rewardkit's own, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pip = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--platform",
        "manylinux2014_x86_64",
        "-d",
        str(folder),
    ]
    subprocess.run(pip + WHEELS, check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(folder), str(ROOT)],
        check=True,
    )
    size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    print(f"{folder}: {len(list(folder.iterdir()))} wheels, {size:.1f} MiB (the carry limit is 64)")
    return 0 if size < 64 else 1


def install(folder: Path) -> None:
    """Install carried wheels into ``folder/site`` (no network, no dependencies) and use them."""
    site = folder / "site"
    if not site.exists():
        wheels = sorted(str(w) for w in folder.glob("*.whl"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--no-deps",
                "--target",
                str(site),
                *wheels,
            ],
            check=True,
        )
    sys.path.insert(0, str(site))


def timed(fn, bucket: list):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            bucket.append(time.perf_counter() - start)

    return wrapper


# -- 1. the demo world at GPU scale ---------------------------------------------------------------


def demo_world(cfg: dict, device: str, out: Path) -> dict:
    import copy

    import torch
    from cpu_demo import evaluate, supervised_warm_start
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from world import World

    import rewardkit as rk
    from rewardkit.adapters.trl import TRLReward
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    world = World()
    tokenizer = word_tokenizer(world.vocabulary())
    judge = rk.TaxonomyJudge(world.taxonomy)
    base = tiny_causal_lm(tokenizer, hidden=cfg["hidden"], layers=cfg["layers"], seed=0)
    base = base.to(device)
    params = sum(p.numel() for p in base.parameters())
    supervised_warm_start(base, tokenizer, world, random.Random(0), cfg["sft_steps"])
    test = world.sample(cfg["eval_n"], random.Random(1), visible=0.5)
    data = [
        {"prompt": x.prompt, "label": x.label} for x in world.sample(4000, random.Random(3), 0.5)
    ]
    result = {
        "parameters": params,
        "models": {"base": evaluate(base, tokenizer, judge, test)},
        "rung_mix": {},
    }
    for rule in ("speciarl", "exact"):
        path = out / f"demo-{rule}"
        policy = copy.deepcopy(base).float().cpu()
        policy.save_pretrained(path / "initial")  # TRL builds its KL reference from a path
        policy = type(policy).from_pretrained(path / "initial")
        args = GRPOConfig(
            output_dir=str(path),
            num_generations=8,
            per_device_train_batch_size=8 * cfg["prompts_per_step"],
            max_steps=cfg["rl_steps"],
            max_completion_length=2,
            learning_rate=2e-3,
            beta=0.01,
            temperature=1.0,
            top_k=0,  # every sampling setting stated (a generation config may say top_k=1)
            top_p=1.0,
            repetition_penalty=1.0,
            logging_steps=1,
            report_to=[],
            use_cpu=device == "cpu",
            bf16=device == "cuda",
            save_strategy="no",
            seed=0,
            disable_tqdm=True,
        )
        reward = TRLReward(rk.LadderReward(judge, rule, tag=None), args, name=rule)
        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=[reward],
            args=args,
            train_dataset=Dataset.from_list(data),
            processing_class=tokenizer,
        )
        trainer.train()
        steps = [h for h in trainer.state.log_history if "reward" in h]
        mix = {
            which: {s: h.get(f"{rule}/rung/{s}", 0.0) for s in rk.SPECIARL.slugs}
            for which, h in (("first", steps[0]), ("last", steps[-1]))
        }
        result["rung_mix"][rule] = mix
        trained = trainer.model.to(device)
        result["models"][rule] = evaluate(trained.to(torch.float32), tokenizer, judge, test)
    return result


def demo_table(result: dict) -> str:
    import rewardkit as rk

    slugs = rk.SPECIARL.slugs
    lines = [
        "| model | correctness | specificity | HM | " + " | ".join(slugs) + " |",
        "|" + "---|" * (4 + len(slugs)),
    ]
    for name, r in result["models"].items():
        s = r["greedy"]
        shares = " | ".join(f"{s['counts'][k] / s['n']:.2f}" for k in slugs)
        lines.append(
            f"| {name} | {s['correctness']:.3f} | {s['specificity']:.3f} | "
            f"{s['hm']:.3f} | {shares} |"
        )
    return "\n".join(lines)


# -- 2. the paper's shape -------------------------------------------------------------------------

PAPER_TEXT = dict(hidden=3584, intermediate=18944, layers=28, heads=28, kv_heads=4, vocab=152064)
PAPER_VISION = dict(
    depth=32,
    hidden_size=1280,
    intermediate_size=3420,
    num_heads=16,
    out_hidden_size=3584,
    fullatt_block_indexes=[7, 15, 23, 31],
)


def paper_shape(cfg: dict, device: str, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from PIL import Image
    from train import PROMPT
    from transformers import Qwen2_5_VLForConditionalGeneration
    from trl import GRPOConfig, GRPOTrainer

    import rewardkit as rk
    from rewardkit.adapters.trl import TRLReward
    from rewardkit.tiny import tiny_vision_lm, word_tokenizer

    birds = json.loads((HERE / "data" / "demo_birds.json").read_text())
    species = sorted({p[-1] for p in birds["paths"]})
    tokenizer = word_tokenizer(
        [*PROMPT.split(), "None", *(w for s in species for w in s.split())], vision=True
    )
    tiny, processor = tiny_vision_lm(
        tokenizer, seed=0, image_pixels=28 * 28, max_image_pixels=cfg["image_pixels"]
    )
    config = tiny.config
    if cfg["paper_dims"]:  # the 7B configuration's dimensions; the vocabulary stays the tokenizer's
        t = config.text_config
        t.hidden_size, t.intermediate_size = PAPER_TEXT["hidden"], PAPER_TEXT["intermediate"]
        t.num_hidden_layers, t.num_attention_heads = PAPER_TEXT["layers"], PAPER_TEXT["heads"]
        t.num_key_value_heads, t.vocab_size = PAPER_TEXT["kv_heads"], PAPER_TEXT["vocab"]
        t.rope_parameters = {
            "rope_type": "default",
            "mrope_section": [16, 24, 24],
            "rope_theta": 1e6,
        }
        t.tie_word_embeddings = config.tie_word_embeddings = False
        for k, v in PAPER_VISION.items():
            setattr(config.vision_config, k, v)
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    else:
        model = tiny
    params = sum(p.numel() for p in model.parameters())
    local = out / "paper-shape-model"
    model.save_pretrained(local)  # TRL needs a path for the reference model with LoRA (not used)
    rng = random.Random(0)
    n = cfg["prompts"] * 10
    images = [
        Image.new("RGB", (224, 224), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(cfg["prompts"])
    ]
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    data = Dataset.from_dict(
        {
            "prompt": [prompt] * cfg["prompts"],
            "image": images,
            "label": [rng.choice(species) for _ in images],
        }
    )
    args = GRPOConfig(
        output_dir=str(out / "paper-shape"),
        num_generations=10,
        per_device_train_batch_size=n,
        max_steps=cfg["steps"],
        max_completion_length=cfg["completion_tokens"],
        learning_rate=3e-5,
        beta=0.01,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        repetition_penalty=1.0,
        loss_type="bnpo",  # the paper preset's settings for parity with verl (presets.py)
        use_bias_correction_kl=False,
        delta=3.0,
        weight_decay=0.01,
        logging_steps=1,
        report_to=[],
        use_cpu=device == "cpu",
        bf16=device == "cuda",
        save_strategy="no",
        seed=0,
        disable_tqdm=True,
        gradient_checkpointing=device == "cuda",
    )
    reward_seconds: list[float] = []
    judge = rk.TaxonomyJudge(rk.Taxonomy.from_dict(birds))
    reward = TRLReward(rk.LadderReward(judge, "speciarl"), args)
    timed_reward = timed(reward, reward_seconds)
    timed_reward.__name__ = reward.__name__  # type: ignore[attr-defined]
    lora = LoraConfig(
        r=64,
        lora_alpha=32,
        target_modules="all-linear",
        exclude_modules=r".*visual.*",
        task_type="CAUSAL_LM",
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[timed_reward],
        args=args,
        train_dataset=data,
        processing_class=processor,
        peft_config=lora,
    )
    generate_seconds: list[float] = []
    trainer.model.generate = timed(trainer.model.generate, generate_seconds)
    trainer.train()
    steps = [h for h in trainer.state.log_history if "step_time" in h]
    step_time = sum(h["step_time"] for h in steps) / len(steps)
    generate = sum(generate_seconds) / len(steps)
    rewarding = sum(reward_seconds) / len(steps)
    lengths = [h.get("completions/mean_length", 0.0) for h in steps]
    return {
        "parameters": params,
        "trainable_parameters": sum(
            p.numel() for p in trainer.model.parameters() if p.requires_grad
        ),
        "steps": len(steps),
        "completions_per_step": n,
        "step_s": round(step_time, 4),
        "generation_s": round(generate, 4),
        "reward_s": round(rewarding, 6),
        "update_s": round(max(0.0, step_time - generate - rewarding), 4),
        "reward_share": round(rewarding / step_time, 6),
        "completion_tokens_per_s": round(n * sum(lengths) / len(lengths) / step_time, 1),
        "peak_gpu_memory_gib": (
            round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None
        ),
    }


# -- 3. a local judge ------------------------------------------------------------------------------


def local_judge(cfg: dict, device: str) -> dict:
    import rewardkit as rk
    from rewardkit.judges.hf import HFJudge
    from rewardkit.judges.prompt import DEFAULT_PROMPT
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    rng = random.Random(0)
    names = ["samoyed", "dog", "spitz", "cat", "animal", "husky", "wolf", "bird"]
    pairs = [(rng.choice(names), f"{rng.choice(names)} {i}") for i in range(cfg["judge_pairs"])]
    texts = [m["content"] for t, p in pairs[:50] for m in DEFAULT_PROMPT.render(rk.SPECIARL, t, p)]
    words = sorted(
        {w for text in texts for w in text.split()} | {f"{n} {i}" for n in names for i in range(3)}
    )
    tokenizer = word_tokenizer(words + list(rk.SPECIARL.slugs))
    judge = HFJudge(
        tiny_causal_lm(tokenizer, hidden=256, layers=4),
        tokenizer,
        device=device,
        batch_size=cfg["judge_batch"],
    )
    start = time.perf_counter()
    verdicts = judge.judge(pairs)
    seconds = time.perf_counter() - start
    assert len(verdicts) == len(pairs) and all(v in rk.SPECIARL.slugs for v in verdicts)
    return {
        "pairs": len(pairs),
        "seconds": round(seconds, 3),
        "verdicts_per_s": round(len(pairs) / seconds, 1),
    }


SIZES = {
    "gpu": dict(
        hidden=512,
        layers=8,
        sft_steps=600,
        rl_steps=40,
        prompts_per_step=32,
        eval_n=1000,
        paper_dims=True,
        prompts=2,
        steps=3,
        completion_tokens=64,
        image_pixels=448 * 448,
        judge_pairs=2000,
        judge_batch=256,
    ),
    "cpu": dict(
        hidden=64,
        layers=2,
        sft_steps=10,
        rl_steps=1,
        prompts_per_step=2,
        eval_n=40,
        paper_dims=False,
        prompts=1,
        steps=1,
        completion_tokens=4,
        image_pixels=56 * 56,
        judge_pairs=40,
        judge_batch=64,
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="download the wheels and stop")
    parser.add_argument("--wheels", default=str(ROOT / "gpu_wheels"), help="carried wheels")
    parser.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU (a smoke run)")
    parser.add_argument("--out", default="runs/gpu-check")
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(Path(args.wheels))
    try:
        import trl  # noqa: F401
    except ImportError:
        install(Path(args.wheels))
    sys.path.insert(0, str(HERE))
    import torch

    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --cpu for the smoke run")
    cfg = SIZES["cpu" if args.cpu else "gpu"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "sizes": cfg,
    }
    for name, part in (
        ("demo_world", lambda: demo_world(cfg, device, out)),
        ("paper_shape", lambda: paper_shape(cfg, device, out)),
        ("local_judge", lambda: local_judge(cfg, device)),
    ):
        start = time.perf_counter()
        report[name] = part()
        report[name]["wall_s"] = round(time.perf_counter() - start, 1)
        print(f"{name}: {json.dumps(report[name])[:300]}", flush=True)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1))  # kept part by part
    p, j = report["paper_shape"], report["local_judge"]
    md = "\n".join(
        [
            f"# GPU check ({report['device']})",
            "",
            "## Demo world",
            "",
            demo_table(report["demo_world"]),
            "",
            "## The paper's shape",
            "",
            "| figure | value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in p.items()),
            "",
            "## Local judge",
            "",
            f"{j['pairs']} pairs in {j['seconds']} s: {j['verdicts_per_s']} verdicts/s",
        ]
    )
    (out / "gpu_check.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
