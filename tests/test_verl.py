"""verl: compute_score for static rules, and compute_score_batch inside verl's own
BatchRewardManager on a DataProto in verl's layout."""

import numpy as np
import pytest
import torch

import rewardkit as rk
from rewardkit.adapters.verl import compute_score, compute_score_batch
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS

OPTIONS = {"taxonomy": str(ANIMALS)}


def test_compute_score_static_rule():
    out = compute_score(
        "animals", "<answer>Samoyed</answer>", "samoyed", {}, rule="exact", **OPTIONS
    )
    assert out == {
        "score": 1.0,
        "verdict": "specific",
        "correct": 1.0,
        "no_answer": 0.0,
        "unscored": 0.0,
    }
    out = compute_score("animals", "no tags", "samoyed", rule="graded", **OPTIONS)
    assert out["score"] == -1.0 and out["verdict"] == "no_answer"


def test_compute_score_refuses_group_rules():
    with pytest.raises(ValueError, match="group-relative.*compute_score_batch"):
        compute_score("animals", "<answer>dog</answer>", "samoyed", rule="speciarl", **OPTIONS)


def test_compute_score_batch_checks_the_layout():
    with pytest.raises(ValueError, match="group size as a reward kwarg"):
        compute_score_batch(["a"] * 2, ["x"] * 2, ["samoyed"] * 2, None, **OPTIONS)
    with pytest.raises(ValueError, match="do not share one ground truth"):
        compute_score_batch(
            ["a"] * 4, ["x"] * 4, ["samoyed", "spitz", "dog", "dog"], None, group_size=2, **OPTIONS
        )


def data_proto(tokenizer, prompts, responses, truths, group):
    from verl import DataProto

    def pad(texts, side):
        enc = tokenizer(
            texts, return_tensors="pt", padding=True, padding_side=side, add_special_tokens=False
        )
        return enc["input_ids"], enc["attention_mask"]

    prompt_ids, prompt_mask = pad(prompts, "left")
    response_ids, response_mask = pad(responses, "right")
    n = len(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], 1),
            "attention_mask": torch.cat([prompt_mask, response_mask], 1),
        },
        non_tensors={
            "data_source": np.array(["animals"] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": t} for t in truths], dtype=object),
            "uid": np.array([f"u{i // group}" for i in range(n)], dtype=object),
        },
    )


def test_verl_batch_reward_manager_with_group_rewards():
    from verl.workers.reward_manager import batch

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    group = 4
    answers = [
        "dog",
        "spitz",
        "cat",
        None,
        "samoyed",
        "dog",
        "animal",
        "samoyed",
        "warbler",
        "bird",
        "animal",
        "cat",
    ]
    truths = ["samoyed"] * 4 + ["spitz"] * 4 + ["golden-winged warbler"] * 4
    responses = [f"<answer> {a} </answer>" if a else "cat dog" for a in answers]
    prompts = [f"classify {t.split()[0]}" if t in taxonomy else "classify" for t in truths]
    data = data_proto(tokenizer, prompts, responses, truths, group)

    manager = batch.BatchRewardManager(
        tokenizer, 0, compute_score_batch, group_size=group, **OPTIONS
    )
    out = manager(data, return_dict=True)
    tensor = out["reward_tensor"]
    got = tensor.sum(1).tolist()  # one reward at each response's last valid token
    want = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        responses, truths, group_size=group
    )
    assert got == want
    assert out["reward_extra_info"]["verdict"][:4] == [
        "generic",
        "less_specific",
        "wrong",
        "no_answer",
    ]


def test_verl_09_reward_loop_manager_groups_by_uid():
    """Driven as verl 0.9's RewardLoopWorker.compute_score_batch drives a manager: one
    run_single task per sample, all on one event loop."""
    import asyncio

    from omegaconf import OmegaConf

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    group = 4
    answers = ["dog", "spitz", "cat", None, "samoyed", "dog", "animal", "samoyed"]
    truths = ["samoyed"] * 4 + ["spitz"] * 4
    responses = [f"<answer> {a} </answer>" if a else "cat dog" for a in answers]
    data = data_proto(tokenizer, ["classify"] * 8, responses, truths, group)
    order = [5, 0, 7, 2, 1, 6, 3, 4]  # samples of the two groups interleaved
    data = data[order]
    config = OmegaConf.create(
        {
            "reward": {"reward_kwargs": {"taxonomy": str(ANIMALS), "rule": "speciarl"}},
            "actor_rollout_ref": {"rollout": {"n": group}},
        }
    )
    manager = RewardkitRewardManager(config, tokenizer)

    async def batch():
        return await asyncio.gather(
            *(manager.run_single(data[i : i + 1]) for i in range(len(data)))
        )

    out = asyncio.run(batch())
    want = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        responses, truths, group_size=group
    )
    assert [o["reward_score"] for o in out] == [want[i] for i in order]
    assert all(o["reward_extra_info"]["partial_group"] == 0.0 for o in out)
    for o, i in zip(out, order):
        g = i // group
        rewards = {r for r in want[g * group : (g + 1) * group] if r == r}
        assert o["reward_extra_info"]["zero_variance_group"] == float(len(rewards) <= 1)


def test_verl_09_manager_falls_back_when_a_sibling_never_comes():
    import asyncio

    from omegaconf import OmegaConf

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    responses = ["<answer> dog </answer>", "<answer> spitz </answer>"]
    data = data_proto(tokenizer, ["classify"] * 2, responses, ["samoyed"] * 2, 4)
    config = OmegaConf.create(
        {
            "reward": {"reward_kwargs": {"taxonomy": str(ANIMALS), "timeout": 0.5}},
            "actor_rollout_ref": {"rollout": {"n": 4}},
        }
    )
    manager = RewardkitRewardManager(config, tokenizer)

    async def batch():
        return await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(2)))

    out = asyncio.run(batch())  # two of four siblings: closed after the timeout
    assert [o["reward_score"] for o in out] == [0.0, 1.0]
    assert all(o["reward_extra_info"]["partial_group"] == 1.0 for o in out)


def manager_for(group, **options):
    from omegaconf import OmegaConf

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    config = OmegaConf.create(
        {
            "reward": {"reward_kwargs": {"taxonomy": str(ANIMALS), **options}},
            "actor_rollout_ref": {"rollout": {"n": group}},
        }
    )
    return tokenizer, RewardkitRewardManager(config, tokenizer)


def test_verl_09_manager_answers_a_sample_scored_twice_once():
    """verl numbers every sample of a step (``priority``, np.arange over the repeated batch) and
    the reward loop gets it with the sample. A copy of a sample (verl's padding, a retried Ray
    task) that arrives while its group is still open must not count as a member: it waits and
    gets the original's reward. Before, it completed the group early and the real last sibling
    waited out the timeout alone."""
    import asyncio
    import time

    group = 4
    tokenizer, manager = manager_for(group, timeout=30.0)
    answers = ["samoyed", "dog", "cat", "spitz", "samoyed", "dog", "animal", "spitz"]
    truths = ["samoyed"] * 4 + ["spitz"] * 4
    responses = [f"<answer> {a} </answer>" for a in answers]
    data = data_proto(tokenizer, ["classify"] * 8, responses, truths, group)
    data.non_tensor_batch["priority"] = np.arange(8, dtype=np.int64)
    order = [0, 4, 0, 1, 4, 2, 5, 6, 3, 7]  # samples 0 and 4 twice, before their groups end

    async def batch():
        calls = [manager.run_single(data[i : i + 1]) for i in order]
        return await asyncio.wait_for(asyncio.gather(*calls), 20)  # hang: early-closed group

    start = time.monotonic()
    out = asyncio.run(batch())
    want = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)(
        responses, truths, group_size=group
    )
    assert [o["reward_score"] for o in out] == [want[i] for i in order]
    assert [o["reward_extra_info"]["partial_group"] for o in out] == [0.0] * len(order)
    stats = manager.groups.buffer.stats()
    assert (stats["duplicate"], stats["completed"], stats["partial"]) == (2, 2, 0)
    assert time.monotonic() - start < 15  # nobody waited for the 30 s timeout


def test_verl_09_identity_is_the_priority_and_the_response():
    tokenizer, manager = manager_for(4)
    responses = ["<answer> dog </answer>", "<answer> cat </answer>"]
    data = data_proto(tokenizer, ["classify"] * 2, responses, ["samoyed"] * 2, 4)
    assert manager._identity(data[0], "x") is None  # no priority column: no identity
    data.non_tensor_batch["priority"] = np.array([7, 7], dtype=np.int64)  # a dataset's column
    first, second = (manager._identity(data[i], responses[i]) for i in range(2))
    assert first.startswith("7:") and second.startswith("7:") and first != second
    _, off = manager_for(4, group_member="none")
    assert off._identity(data[0], responses[0]) is None


def test_verl_09_a_cancelled_sample_leaves_its_group():
    import asyncio

    tokenizer, manager = manager_for(2, timeout=30.0)
    responses = ["<answer> samoyed </answer>", "<answer> dog </answer>"]
    data = data_proto(tokenizer, ["classify"] * 2, responses, ["samoyed"] * 2, 2)
    buffer = manager.groups.buffer

    async def main():
        first = asyncio.ensure_future(manager.run_single(data[0:1]))
        while not buffer.open:  # joining takes the judge's await first
            await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        return buffer.stats()

    stats = asyncio.run(asyncio.wait_for(main(), 20))  # hang: the sample never joined
    assert (stats["abandoned"], stats["open"]) == (1, 0)
