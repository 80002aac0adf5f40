"""rewardkit's own GRPO loop on a tiny offline model: it learns, and it resumes exactly."""

import json

import numpy as np
import pytest
import torch

import rewardkit as rk  # noqa: E402
from rewardkit.loop import GRPOLoop, LoopConfig, _advantages  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, word_tokenizer  # noqa: E402

from .conftest import ANIMALS  # noqa: E402

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


def make_loop(tmp_path=None, **overrides):
    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    model = tiny_causal_lm(tokenizer, seed=0)
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS, tag=None)
    data = [{"prompt": f"classify {x}", "label": x} for x in LABELS]
    config = dict(
        num_generations=8,
        prompts_per_step=8,
        max_steps=30,
        learning_rate=1e-2,
        max_new_tokens=1,
        kl_coef=0.01,
        progress=False,
        seed=0,
        output_dir=str(tmp_path) if tmp_path else None,
    )
    config.update(overrides)
    return GRPOLoop(model, tokenizer, reward, data, LoopConfig(**config))


def test_reward_goes_up_on_a_toy_task():
    history = make_loop().train()
    rewards = [m["reward_mean"] for m in history]
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    assert last > first + 0.3, rewards
    assert history[-1]["correctness"] > history[0]["correctness"]


def stable(metrics):
    return [{k: v for k, v in m.items() if not k.startswith("time/")} for m in metrics]


def test_resumed_run_continues_identically(tmp_path):
    straight = make_loop(tmp_path / "a", max_steps=6, save_every=3)
    full = straight.train()

    first = make_loop(tmp_path / "b", max_steps=3, save_every=3)
    first.train()
    resumed = make_loop(tmp_path / "b", max_steps=6, save_every=3)  # a fresh process's view
    rest = resumed.train()

    assert [m["step"] for m in rest] == [4, 5, 6]
    assert stable(rest) == stable(full[3:])
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items()
    ):
        assert torch.equal(a, b), name
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert "config" in json.loads(lines[0])
    assert [json.loads(x)["step"] for x in lines[1:]] == [1, 2, 3, 4, 5, 6]


def test_same_seed_same_run():
    assert stable(make_loop(max_steps=3).train()) == stable(make_loop(max_steps=3).train())


def test_advantages_are_group_normalised_and_skip_unscored():
    rewards = np.array([1.0, 0.0, np.nan, 0.0, 1.0, 1.0, 1.0, 1.0])
    adv, scored = _advantages(rewards, 4, scale=True)
    assert scored.tolist() == [True, True, False, True] + [True] * 4
    assert adv[2] == 0.0
    assert adv[0] > 0 > adv[1] and adv[1] == adv[3]
    assert np.allclose(adv[4:], 0.0)  # a group with equal rewards has no signal
    assert np.isclose(adv[[0, 1, 3]].mean(), 0.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="num_generations must be >= 2"):
        LoopConfig(num_generations=1)
    loop = make_loop(max_steps=1)
    with pytest.raises(KeyError, match="data row 0 needs 'prompt' and 'label'"):
        GRPOLoop(loop.model, loop.tokenizer, loop.reward, [{"text": "x"}])
    with pytest.raises(rk.UnknownLabelError, match="'unicorn'"):
        GRPOLoop(loop.model, loop.tokenizer, loop.reward, [{"prompt": "p", "label": "unicorn"}])
