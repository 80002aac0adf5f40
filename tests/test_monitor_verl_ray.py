"""The reward monitor in verl 0.9 at its defaults: verl's RewardLoopWorkers as Ray actors, a
group's samples streamed to random workers, every group watched by the run's one monitor
actor."""

import json
import random

import pytest

import rewardkit as rk
from rewardkit.monitor import read_run
from rewardkit.monitor.watch import LOGGED
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS
from .test_verl import data_proto
from .test_verl_ray import reward_loop_config

ray = pytest.importorskip("ray")  # installed by make test; verl needs it
GROUP, WORKERS = 4, 4


def test_every_group_streamed_to_random_workers_is_watched(tmp_path):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    audit = tmp_path / "audit_spec.json"
    rk.RewardSpec(judge="taxonomy", judge_options={"taxonomy": str(ANIMALS)}).save(audit)
    kwargs = {
        "taxonomy": str(ANIMALS), "rule": "graded", "timeout": 60.0, "audit_spec": str(audit),
        "audit_rate": 1.0, "monitor_dir": str(tmp_path / "run"), "monitor_groups": 2,
    }  # fmt: skip
    config = reward_loop_config(tmp_path / "tokenizer", kwargs, WORKERS)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actor = ray.remote(RewardLoopWorker)
        workers = [actor.remote(config, None) for _ in range(WORKERS)]
        answers = ["dog", "spitz", "samoyed", "cat"] * 8  # 8 groups of 4
        responses = [f"<answer> {a} </answer>" for a in answers]
        data = data_proto(tokenizer, ["classify"] * 32, responses, ["samoyed"] * 32, GROUP)
        rng = random.Random(0)
        refs = [rng.choice(workers).compute_score.remote(data[i : i + 1]) for i in range(32)]
        out = ray.get(refs, timeout=120)  # guards a hang of the group or monitor actor
    finally:
        ray.shutdown()
    assert [o["reward_score"] for o in out] == [0.5, 0.75, 1.0, 0.0] * 8
    infos = [o["reward_extra_info"] for o in out]
    assert all(set(i) == set(infos[0]) for i in infos) and set(infos[0]) >= set(LOGGED)
    assert max(i["monitor/steps"] for i in infos) == 4.0  # every group whole in one monitor
    steps = [json.loads(x) for x in (tmp_path / "run" / "monitor.jsonl").read_text().splitlines()]
    assert len(read_run(tmp_path / "run")["steps"]) == 4
    assert steps[-1]["audit/sampled"] == 32  # all 8 groups drawn at rate 1
