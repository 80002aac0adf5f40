"""verl at its defaults, with verl's own components: a local Ray cluster, verl's
``RewardLoopWorker`` as Ray actors loading rewardkit's manager through verl's own loader from the
documented configuration, a tokenizer saved to disk, ``DataProto`` batches in verl's layout -
driven both ways verl drives them: samples streamed to random workers (the agent loop) and a
reordered batch cut into one chunk per worker (the colocated path)."""

import os
import random
import time

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS
from .test_verl import data_proto

ray = pytest.importorskip("ray")  # installed by make test; verl needs it
# The group wait. Generous: under load (other suites beside this one) a group's siblings reached
# their workers over 8 s apart and were closed as partial groups; only the killed-worker test
# waits it out.
TIMEOUT = 20.0
GROUP = 4
WORKERS = 4



def reward_loop_config(tokenizer, reward_kwargs, workers=WORKERS):
    """verl's config for its reward loop workers with rewardkit's manager (importlib source)
    taking ``reward_kwargs``; ``tokenizer``: the folder of a saved tokenizer."""
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "actor_rollout_ref": {
                "model": {"path": str(tokenizer), "tokenizer_path": str(tokenizer)},
                "rollout": {"n": GROUP},
            },
            "reward": {
                "num_workers": workers,
                "reward_model": {"enable": False},
                "custom_reward_function": {"path": None, "name": None},
                "reward_manager": {
                    "source": "importlib",
                    "name": "RewardkitRewardManager",
                    "module": {"path": "pkg://rewardkit.adapters.verl_manager"},
                },
                "reward_kwargs": reward_kwargs,
            },
            "trainer": {"project_name": "test", "experiment_name": f"run{random.random()}"},
        }
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    kwargs = {"taxonomy": str(ANIMALS), "rule": "speciarl", "timeout": TIMEOUT}
    config = reward_loop_config(path, kwargs)
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


def batch(tokenizer, tag, groups, numbered=True):
    """``groups`` groups in verl's layout; ``numbered``: with verl's per-sample ``priority``."""
    answers = (ANSWERS * groups)[: GROUP * groups]
    truths = (TRUTHS * groups)[: GROUP * groups]
    responses = [f"<answer> {a} </answer>" if a else "cat dog" for a in answers]
    data = data_proto(tokenizer, ["classify"] * len(responses), responses, truths, GROUP)
    data.non_tensor_batch["uid"] = np.array(
        [f"{tag}-{u}" for u in data.non_tensor_batch["uid"]], dtype=object
    )
    if numbered:
        data.non_tensor_batch["priority"] = np.arange(len(data), dtype=np.int64)
    want = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        responses, truths, group_size=GROUP
    )
    return data, want


def test_samples_streamed_to_random_workers(cluster):
    tokenizer, workers = cluster
    data, want = batch(tokenizer, "stream", 6)
    rng = random.Random(0)
    refs = [
        rng.choice(workers[:WORKERS]).compute_score.remote(data[i : i + 1])
        for i in range(len(data))
    ]
    out = ray.get(refs)
    assert [o["reward_score"] for o in out] == want
    # No group was closed by its timeout: every sample was rewarded with its whole group.
    assert all(o["reward_extra_info"]["partial_group"] == 0.0 for o in out)


@pytest.mark.parametrize(
    "n_workers,numbered",
    [(WORKERS, True), (3, True), (3, False)],
    ids=["even chunks", "padded chunks", "padded chunks without priority"],
)
def test_a_reordered_batch_cut_into_chunks(cluster, n_workers, numbered):
    from verl.protocol import pad_dataproto_to_divisor

    tokenizer, workers = cluster
    data, want = batch(tokenizer, f"chunks{n_workers}{numbered}", 5, numbered)
    order = np.random.default_rng(1).permutation(len(data))  # as balance_batch reorders
    data = data[order]
    # RewardLoopManager.compute_rm_score: pad to a multiple of the workers, one chunk each.
    padded, pad = pad_dataproto_to_divisor(data, n_workers)
    chunks = padded.chunk(n_workers)
    outs = ray.get([w.compute_score_batch.remote(c) for w, c in zip(workers[:n_workers], chunks)])
    flat = [o for chunk in outs for o in chunk][: len(data)]
    # flat[k] is the sample order[k]; without verl's priority a padding copy is a member like
    # any other, and one that overtakes its group's last sample (its chunk scored first, as
    # under load) takes that sample's place: only the copies' groups depend on the order.
    copied = set() if numbered else {order[i] // GROUP for i in range(pad)}
    kept = [k for k, i in enumerate(order) if i // GROUP not in copied]
    assert len(kept) == len(data) - GROUP * len(copied) > 0
    assert [flat[k]["reward_score"] for k in kept] == [want[order[k]] for k in kept]
    assert all(flat[k]["reward_extra_info"]["partial_group"] == 0.0 for k in kept)
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


def test_the_group_actor_with_identities_and_a_cancelled_call(cluster):
    """The actor's own rules through remote_reward: a retried identity is one member with one
    reward; a caller that stops waiting cancels its actor call, whose member leaves the group."""
    import asyncio

    from rewardkit.adapters.ray_groups import group_actor, remote_reward

    S = rk.SPECIARL
    SP, G, L = (S.index(x) for x in ("specific", "generic", "less_specific"))
    actor = group_actor(
        f"identities-{random.random()}", group_size=3, ladder=S, rule=rk.SpeciaRL(), timeout=60.0
    )

    async def stats(key, value):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (await actor.stats.remote())[key] == value:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"hang: the actor never counted {key} = {value}")

    async def main():
        gone = asyncio.ensure_future(remote_reward(actor, "u", G, True, "dog"))
        await stats("open", 1)
        gone.cancel()  # the worker stopped waiting: ray.cancel reaches the actor's coroutine
        await asyncio.gather(gone, return_exceptions=True)
        await stats("abandoned", 1)
        calls = [
            remote_reward(actor, "u", SP, True, "samoyed"),
            remote_reward(actor, "u", SP, True, "samoyed"),  # the same sample again
            remote_reward(actor, "u", G, True, "dog"),  # the cancelled sample's retry
        ]
        first = [asyncio.ensure_future(c) for c in calls]
        await stats("duplicate", 1)
        spitz = await asyncio.wait_for(remote_reward(actor, "u", L, True, "spitz"), 30)
        return [*await asyncio.wait_for(asyncio.gather(*first), 30), spitz]

    got = asyncio.run(main())
    final = ray.get(actor.stats.remote())
    ray.kill(actor)
    assert [(m.reward, m.partial) for m in got] == [(1.0, False)] * 2 + [(0.0, False)] * 2
    assert (final["completed"], final["partial"], final["abandoned"]) == (1, 0, 1)


def test_a_rerun_with_other_settings_gets_its_own_actor(cluster):
    """A detached actor keeps the settings it was created with. A rerun under the same name
    (project and experiment) within its ttl that changed rollout.n got the old group size: its
    group of 3 was rewarded as a group of 2 plus a late member. Now the settings are in the
    name: the rerun gets an actor of its own; the same settings find the same actor."""
    import asyncio

    from rewardkit.adapters.ray_groups import group_actor, remote_reward

    S = rk.SPECIARL
    SP, W = S.index("specific"), S.index("wrong")
    name = f"rerun-{random.random()}"
    old = group_actor(name, group_size=2, ladder=S, rule=rk.SpeciaRL(), timeout=60.0)
    ray.get(old.stats.remote())  # the first run's actor is up
    new = group_actor(name, group_size=3, ladder=S, rule=rk.SpeciaRL(), timeout=60.0)

    async def main():
        calls = [remote_reward(new, "u", c, True) for c in (SP, W, W)]
        return await asyncio.wait_for(asyncio.gather(*calls), 30)  # hang: a group never done

    got = asyncio.run(main())
    same = group_actor(name, group_size=3, ladder=S, rule=rk.SpeciaRL(), timeout=60.0)
    counts = ray.get(same.stats.remote()), ray.get(old.stats.remote())
    for actor in (old, new):
        ray.kill(actor)
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False), (0.0, False)]
    assert counts[0]["completed"] == 1 and counts[1]["completed"] == 0


def test_the_config_tag_is_the_same_in_every_process_and_names_each_setting():
    import subprocess
    import sys

    code = (
        "import rewardkit as rk; from rewardkit.adapters.ray_groups import config_tag; "
        "print(config_tag(4, rk.SPECIARL, rk.SpeciaRL(), 300.0))"
    )
    tags = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    from rewardkit.adapters.ray_groups import config_tag

    S = rk.SPECIARL
    here = config_tag(4, S, rk.SpeciaRL(), 300.0)
    others = {
        config_tag(8, S, rk.SpeciaRL(), 300.0),
        config_tag(4, rk.Ladder("two", S.rungs[:1] + S.rungs[4:5]), rk.SpeciaRL(), 300.0),
        config_tag(4, S, rk.SpeciaRL(no_answer=0.0), 300.0),
        config_tag(4, S, rk.Exact(), 300.0),
        config_tag(4, S, rk.SpeciaRL(), 120.0),
    }
    assert tags == {here} and len(others) == 5 and here not in others
