"""Per-reward group normalisation: exact values, unscored terms, and a logged total that is
exactly the weighted sum of the normalised parts the trainer optimises."""

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.group_norm import GroupNormalised, normalise
from rewardkit.rules import Batch

from .conftest import ANIMALS


def test_std_normalisation_per_group_with_constant_and_unscored_groups():
    values = np.array([1.0, 0.0, 0.0, 1.0, 5.0, 5.0, 5.0, 5.0, 2.0, np.nan, 0.0, 1.0])
    got = normalise(values, 4)
    assert got[:4].tolist() == [1.0, -1.0, -1.0, 1.0]
    assert got[4:8].tolist() == [0.0, 0.0, 0.0, 0.0]  # no spread: no signal, not NaN
    assert np.isnan(got[9]) and np.round(got[[8, 10, 11]], 6).tolist() == [1.224745, -1.224745, 0.0]


def test_rank_normalisation_averages_ties():
    got = normalise(np.array([3.0, 1.0, 3.0, 2.0]), 4, "rank")  # ranks 2.5, 0, 2.5, 1 of 0..3
    assert np.round(got, 6).tolist() == [0.333333, -0.5, 0.333333, -0.166667]
    with pytest.raises(ValueError, match="'std' or 'rank'"):
        normalise(np.zeros(2), 2, "minmax")
    with pytest.raises(ValueError, match="3 rewards do not split into groups of 2"):
        normalise(np.zeros(3), 2)


def test_each_term_is_normalised_before_the_weights_and_parts_keep_both():
    rule = GroupNormalised([(rk.Correct(), 1.0), (rk.Format(), 0.5)])
    batch = Batch.from_verdicts(
        ["specific", "wrong", "wrong", "generic", "wrong", "wrong"],
        group_size=3,
        answer_found=[True, True, False, True, True, True],
    )
    parts = rule.parts(batch)
    assert list(parts) == ["correct", "format", "correct/norm", "format/norm"]
    assert parts["correct"].tolist() == [1.0, 0.0, -1.0, 1.0, 0.0, 0.0]
    assert parts["format/norm"][3:].tolist() == [0.0, 0.0, 0.0]
    total = rule.compute(batch)
    assert total.tolist() == (parts["correct/norm"] + 0.5 * parts["format/norm"]).tolist()
    assert rule.group_relative and rule.name == "std_normalised(correct+format)"


def test_an_unscored_term_makes_the_total_unscored_and_leaves_the_statistics():
    rule = GroupNormalised([(rk.Correct(), 1.0), (rk.Format(), 1.0)])
    got = rule(["specific", None, "wrong", "specific"], group_size=4)
    assert got[1] is None
    assert [round(x, 6) for x in (got[0], got[2], got[3])] == [0.707107, -1.414214, 0.707107]


def test_the_logged_reward_is_what_the_rule_returns():
    rule = GroupNormalised([(rk.SpeciaRL(), 1.0), (rk.Format(), 0.2)])
    reward = rk.LadderReward("taxonomy", rule, taxonomy=str(ANIMALS))
    completions = ["<answer>dog</answer>", "<answer>spitz</answer>", "<answer>cat</answer>", "no"]
    judged = reward.judge_completions(completions, ["samoyed"] * 4)
    rewards = reward.rewards(judged, group_size=4)
    metrics = reward.metrics(judged, rewards, 4)
    assert metrics["reward_mean"] == pytest.approx(float(np.mean(rewards)), abs=0)
    assert {k for k in metrics if k.startswith("part/")} >= {
        "part/speciarl", "part/format", "part/speciarl/norm", "part/format/norm"
    }  # fmt: skip
