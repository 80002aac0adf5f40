"""The reward path's share of a GRPO step (own loop and TRL, tiny model, CPU), and the cost
of TRLReward's cross-process gather on 2 CPU processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.loop import GRPOLoop, LoopConfig
from rewardkit.tiny import tiny_causal_lm, word_tokenizer

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = ROOT / "examples" / "data" / "animals.json"
LABELS = [
    "samoyed",
    "spitz",
    "dog",
    "golden retriever",
    "warbler",
    "cat",
    "american robin",
    "northern cardinal",
]
G, PROMPTS, TOKENS = 8, 8, 16


@pytest.fixture(scope="module")
def world():
    taxonomy = rk.Taxonomy.load(TAXONOMY)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None)
    data = [{"prompt": f"classify {x}", "label": x} for x in LABELS]
    return tokenizer, reward, data


def test_own_loop_step(benchmark, world, record):
    tokenizer, reward, data = world
    config = LoopConfig(
        num_generations=G,
        prompts_per_step=PROMPTS,
        max_steps=10**6,
        max_new_tokens=TOKENS,
        progress=False,
    )
    loop = GRPOLoop(tiny_causal_lm(tokenizer), tokenizer, reward, data, config)
    loop.step()  # warm up
    benchmark.pedantic(loop.step, rounds=8, iterations=1)
    record("own loop: GRPO step (64 completions)", items=1)
    batch = loop._generate([row["prompt"] for row in data for _ in range(G)])
    world_texts = batch["texts"]
    benchmark_reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None)
    labels = [row["label"] for row in data for _ in range(G)]
    import time

    start = time.perf_counter()
    for _ in range(50):
        benchmark_reward.rewards(benchmark_reward.judge_completions(world_texts, labels), G)
    per_call = (time.perf_counter() - start) / 50
    record(
        "own loop: reward path per step",
        items=1,
        mean=per_call,
        baseline="own loop: GRPO step (64 completions)",
    )


def test_trl_step(benchmark, world, record, tmp_path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.adapters.trl import TRLReward

    tokenizer, reward, data = world
    steps = 6
    args = GRPOConfig(
        output_dir=str(tmp_path),
        num_generations=G,
        per_device_train_batch_size=G * PROMPTS,
        max_steps=steps,
        max_completion_length=TOKENS,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    calls = []

    class Timed(TRLReward):
        def __call__(self, *a, **kw):
            import time

            start = time.perf_counter()
            out = super().__call__(*a, **kw)
            calls.append(time.perf_counter() - start)
            return out

    rows = Dataset.from_dict(
        {"prompt": [r["prompt"] for r in data] * 8, "label": [r["label"] for r in data] * 8}
    )

    def train():
        trainer = GRPOTrainer(
            model=tiny_causal_lm(tokenizer),
            reward_funcs=[Timed(reward, args)],
            args=args,
            train_dataset=rows,
            processing_class=tokenizer,
        )
        trainer.train()
        return trainer

    trainer = benchmark.pedantic(train, rounds=1, iterations=1)
    step_times = [h["step_time"] for h in trainer.state.log_history if "step_time" in h]
    step = sum(step_times[1:]) / len(step_times[1:])
    record("TRL: GRPO step (64 completions)", items=1, mean=step)
    record(
        "TRL: reward call per step",
        items=1,
        mean=sum(calls[1:]) / len(calls[1:]),
        baseline="TRL: GRPO step (64 completions)",
    )


def test_cross_process_gather(benchmark, record, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    script = Path(__file__).with_name("gather_worker.py")

    def run():
        subprocess.run(
            [str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path)],
            check=True,
            capture_output=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )

    benchmark.pedantic(run, rounds=1, iterations=1)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    mean = {k: sum(r[k] for r in ranks) / 2 for k in ranks[0]}
    record("TRLReward call, whole groups (24/rank)", items=1, mean=mean["whole_groups_call_s"])
    record(
        "TRLReward call, split groups + gather",
        items=1,
        mean=mean["split_groups_call_s"],
        baseline="TRLReward call, whole groups (24/rank)",
    )
    record(
        "all_gather_object alone (2 CPU procs)",
        items=1,
        mean=mean["gather_only_s"],
        baseline="TRLReward call, whole groups (24/rank)",
    )
