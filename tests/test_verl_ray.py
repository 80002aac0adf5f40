"""verl at its defaults, with verl's own components: a local Ray cluster, verl's
``RewardLoopWorker`` as Ray actors loading rewardkit's manager through verl's own loader from the
documented configuration, a tokenizer saved to disk, ``DataProto`` batches in verl's layout -
driven both ways verl drives them: samples streamed to random workers (the agent loop) and a
reordered batch cut into one chunk per worker (the colocated path)."""

import random
import time

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS
from .test_verl import data_proto

ray = pytest.importorskip("ray")  # installed by make test; verl needs it
TIMEOUT = 8.0
GROUP = 4
WORKERS = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from omegaconf import OmegaConf
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {
                "model": {"path": str(path), "tokenizer_path": str(path)},
                "rollout": {"n": GROUP},
            },
            "reward": {
                "num_workers": WORKERS,
                "reward_model": {"enable": False},
                "custom_reward_function": {"path": None, "name": None},
                "reward_manager": {
                    "source": "importlib",
                    "name": "RewardkitRewardManager",
                    "module": {"path": "pkg://rewardkit.adapters.verl_manager"},
                },
                "reward_kwargs": {"taxonomy": str(ANIMALS), "rule": "speciarl", "timeout": TIMEOUT},
            },
            "trainer": {"project_name": "test", "experiment_name": f"run{random.random()}"},
        }
    )
    actor = ray.remote(RewardLoopWorker)
    # One worker more than the batches use: the last is killed by a test.
    workers = [
        actor.options(name=f"reward_loop_worker_{i}").remote(config, None)
        for i in range(WORKERS + 1)
    ]
    ray.get([w.__ray_ready__.remote() for w in workers])
    yield tokenizer, workers
    ray.shutdown()


ANSWERS = ["dog", "spitz", "cat", None, "samoyed", "dog", "animal", "samoyed"]
TRUTHS = ["samoyed"] * 4 + ["spitz"] * 4


def batch(tokenizer, tag, groups):
    answers = (ANSWERS * groups)[: GROUP * groups]
    truths = (TRUTHS * groups)[: GROUP * groups]
    responses = [f"<answer> {a} </answer>" if a else "cat dog" for a in answers]
    data = data_proto(tokenizer, ["classify"] * len(responses), responses, truths, GROUP)
    data.non_tensor_batch["uid"] = np.array(
        [f"{tag}-{u}" for u in data.non_tensor_batch["uid"]], dtype=object
    )
    want = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        responses, truths, group_size=GROUP
    )
    return data, want


def test_samples_streamed_to_random_workers(cluster):
    tokenizer, workers = cluster
    data, want = batch(tokenizer, "stream", 6)
    rng = random.Random(0)
    start = time.monotonic()
    refs = [
        rng.choice(workers[:WORKERS]).compute_score.remote(data[i : i + 1])
        for i in range(len(data))
    ]
    out = ray.get(refs)
    elapsed = time.monotonic() - start
    assert [o["reward_score"] for o in out] == want
    assert all(o["reward_extra_info"]["partial_group"] == 0.0 for o in out)
    assert elapsed < TIMEOUT / 2, elapsed  # no sample waited for its group's timeout


@pytest.mark.parametrize("n_workers", [WORKERS, 3], ids=["even chunks", "padded chunks"])
def test_a_reordered_batch_cut_into_chunks(cluster, n_workers):
    from verl.protocol import pad_dataproto_to_divisor

    tokenizer, workers = cluster
    data, want = batch(tokenizer, f"chunks{n_workers}", 5)
    order = np.random.default_rng(1).permutation(len(data))  # as balance_batch reorders
    data = data[order]
    # RewardLoopManager.compute_rm_score: pad to a multiple of the workers, one chunk each.
    padded, pad = pad_dataproto_to_divisor(data, n_workers)
    chunks = padded.chunk(n_workers)
    start = time.monotonic()
    outs = ray.get([w.compute_score_batch.remote(c) for w, c in zip(workers[:n_workers], chunks)])
    elapsed = time.monotonic() - start
    flat = [o for chunk in outs for o in chunk][: len(data)]
    assert [o["reward_score"] for o in flat] == [want[i] for i in order]
    assert all(o["reward_extra_info"]["partial_group"] == 0.0 for o in flat)
    assert elapsed < TIMEOUT / 2, elapsed
    if n_workers == 3:
        assert pad > 0  # the padded copies were answered at once, not held for a timeout


def test_a_worker_killed_while_its_group_is_open(cluster):
    tokenizer, workers = cluster
    data, want = batch(tokenizer, "killed", 1)
    doomed = workers[WORKERS]
    ray.kill(doomed)  # the worker that would have scored the group's last sample
    start = time.monotonic()
    refs = [workers[i].compute_score.remote(data[i : i + 1]) for i in range(GROUP - 1)]
    out = ray.get(refs)
    elapsed = time.monotonic() - start
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT * 3
    assert all(o["reward_extra_info"]["partial_group"] == 1.0 for o in out)
    partial = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        [f"<answer> {a} </answer>" for a in ANSWERS[: GROUP - 1]],
        TRUTHS[: GROUP - 1],
        group_size=GROUP - 1,
    )
    assert [o["reward_score"] for o in out] == partial
