import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit import (
    MISSING,
    SPECIARL,
    Batch,
    Correct,
    Exact,
    Format,
    Graded,
    Ladder,
    Rung,
    SpeciaRL,
    WeightedSum,
    to_list,
)
from rewardkit.ladders import BINARY

W, A, G, L, S, M = "wrong", "abstain", "generic", "less_specific", "specific", "more_specific"


# -- speciarl: the dynamic reward as the paper states it ------------------------------------


@pytest.mark.parametrize(
    "group, rewards",
    [
        ([G, S, W, L], [0, 1, 0, 0]),  # best is specific
        ([G, G, L, W], [0, 0, 1, 0]),  # best is less specific: it alone earns
        ([M, S, G, W], [1, 1, 0, 0]),  # more specific ties with specific
        ([M, M, L, A], [1, 1, 0, 0]),  # best more specific counts as specific
        ([W, W, W, W], [0, 0, 0, 0]),  # all wrong: nobody rewarded
        ([A, W, A, W], [1, 0, 1, 0]),  # abstaining beats being wrong
        ([G, G, G, G], [1, 1, 1, 1]),  # everyone at the best rung
    ],
)
def test_speciarl_groups(group, rewards):
    assert SpeciaRL()(group, group_size=4) == rewards


def test_speciarl_groups_are_independent_in_one_batch():
    verdicts = [S, G, G, G, W, W, L, G]
    assert SpeciaRL()(verdicts, group_size=4) == [1, 0, 0, 0, 0, 0, 1, 0]
    assert SpeciaRL()(verdicts, group_size=2) == [1, 0, 1, 1, 0, 0, 1, 0]


def test_no_answer_gets_the_format_penalty_whatever_its_verdict():
    # The "specific" on a row with no answer is ignored and does not set the reference.
    rewards = SpeciaRL()([S, G, W, G], group_size=4, answer_found=[False, True, True, True])
    assert rewards == [-1, 1, 0, 1]
    assert SpeciaRL(no_answer=-0.5)([None], answer_found=[False]) == [-0.5]
    assert SpeciaRL(no_answer=None)([None], answer_found=[False]) == [None]


def test_missing_verdict_is_unscored_and_the_rest_use_existing_verdicts():
    assert SpeciaRL()([None, G, L, W], group_size=4) == [None, 0, 1, 0]
    assert SpeciaRL()([None, None], group_size=2) == [None, None]
    assert SpeciaRL(unscored=0.0)([None, G], group_size=2) == [0, 1]


def test_speciarl_on_another_ladder_rewards_the_best_correct_rung():
    math_ladder = Ladder(
        "m",
        [
            Rung("wrong", "W", 0, False),
            Rung("partial", "P", 1, True),
            Rung("correct", "C", 2, True),
        ],
    )
    assert SpeciaRL()(["partial", "wrong", "partial"], group_size=3, ladder=math_ladder) == [
        1,
        0,
        1,
    ]
    assert SpeciaRL()(["partial", "correct", "partial"], group_size=3, ladder=math_ladder) == [
        0,
        1,
        0,
    ]


def speciarl_loop(verdicts, group_size, answer_found):
    """The rule written plainly, one completion at a time, from the paper's wording."""
    order = {s: i for i, s in enumerate(SPECIARL.slugs)}
    out = []
    for start in range(0, len(verdicts), group_size):
        group = list(
            zip(verdicts[start : start + group_size], answer_found[start : start + group_size])
        )
        judged = [v for v, f in group if f and v is not None]
        best = max(judged, key=order.__getitem__, default=None)
        if best == M:
            best = S
        if best in (W, None):
            best = A
        for v, f in group:
            if not f:
                out.append(-1.0)
            elif v is None:
                out.append(None)
            else:
                rank = order[S] if v == M else order[v]
                out.append(1.0 if v != W and rank >= order[best] else 0.0)
    return out


verdict = st.sampled_from([*SPECIARL.slugs, None])


@st.composite
def batches(draw):
    size = draw(st.integers(1, 8))
    groups = draw(st.integers(1, 6))
    n = size * groups
    verdicts = draw(st.lists(verdict, min_size=n, max_size=n))
    found = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return verdicts, size, found


@settings(max_examples=300, deadline=None)
@given(batches())
def test_speciarl_matches_the_plain_loop(batch):
    verdicts, size, found = batch
    assert SpeciaRL()(verdicts, group_size=size, answer_found=found) == speciarl_loop(
        verdicts, size, found
    )


RULES = [SpeciaRL(), Exact(), Correct(), Graded(), Exact() + 0.5 * Format()]


@settings(max_examples=200, deadline=None)
@given(batches(), st.randoms(use_true_random=False), st.sampled_from(RULES))
def test_permuting_a_group_permutes_its_rewards(batch, rnd, rule):
    verdicts, size, found = batch
    before = rule(verdicts, group_size=size, answer_found=found)
    order = list(range(len(verdicts)))
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        rnd.shuffle(chunk)
        order[start : start + size] = chunk
    after = rule(
        [verdicts[i] for i in order], group_size=size, answer_found=[found[i] for i in order]
    )
    assert after == [before[i] for i in order]


@settings(max_examples=200, deadline=None)
@given(batches(), st.lists(verdict, min_size=1, max_size=8), st.sampled_from(RULES))
def test_a_groups_rewards_never_depend_on_another_group(batch, other, rule):
    verdicts, size, found = batch
    first = rule(verdicts[:size], group_size=size, answer_found=found[:size])
    filler = (other * size)[:size]
    together = rule(
        verdicts[:size] + filler, group_size=size, answer_found=found[:size] + [True] * size
    )
    assert together[:size] == first


# -- static rules -------------------------------------------------------------------------------

ALL = [M, S, L, G, A, W]


def test_exact_is_the_rft_baseline():
    assert Exact()(ALL) == [1, 1, 0, 0, 0, 0]


def test_correct_rewards_anything_not_wrong():
    assert Correct()(ALL) == [1, 1, 1, 1, 1, 0]


def test_graded_default_scale():
    assert Graded()(ALL) == [1, 1, 0.75, 0.5, 0.25, 0]


def test_graded_custom_scale_and_its_errors():
    zeroed = {M: 1, S: 1, L: 0.75, G: 0, A: 0, W: 0}
    assert Graded(scale=zeroed)(ALL) == [1, 1, 0.75, 0, 0, 0]
    with pytest.raises(ValueError, match=r"no value for rungs \['wrong'\]"):
        Graded(scale={k: v for k, v in zeroed.items() if k != W})(ALL)
    with pytest.raises(ValueError, match="unknown rungs"):
        Graded(scale={**zeroed, "great": 2})(ALL)


def test_static_rules_policies():
    assert Exact()([S, None], answer_found=[False, True]) == [-1, None]
    assert Correct(unscored=0.5)([None]) == [0.5]


def test_binary_ladder_rules():
    assert Exact()(["wrong", "correct"], ladder=BINARY) == [0, 1]


# -- composition and batches -------------------------------------------------------------------


def test_weighted_sum():
    rule = Exact() + 0.5 * Format()
    assert isinstance(rule, WeightedSum) and rule.name == "exact+format"
    assert rule([S, G, S], answer_found=[True, True, False]) == [1.5, 0.5, -1.0]
    triple = rule + 2 * Correct()
    assert len(triple.terms) == 3 and triple([G]) == [2.5]
    assert (SpeciaRL() + Format()).group_relative


def test_unscored_term_makes_the_sum_unscored():
    assert (Exact() + Format())([None, S]) == [None, 2.0]


def test_weighted_sum_rejects_bad_terms():
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum([])
    with pytest.raises(ValueError, match="finite"):
        Exact() * float("nan")
    with pytest.raises(TypeError, match="RewardRule"):
        WeightedSum([(lambda v: v, 1.0)])


def test_batch_validation_names_the_problem():
    with pytest.raises(ValueError, match="5 completions do not split into groups of 2"):
        SpeciaRL()([S] * 5, group_size=2)
    with pytest.raises(ValueError, match="group_size must be >= 1"):
        Batch(SPECIARL, np.zeros(2, np.int16), np.ones(2, bool), 0)
    with pytest.raises(ValueError, match=r"codes must lie in \[-1, 5\]"):
        Batch(SPECIARL, np.array([7], np.int16), np.ones(1, bool))
    with pytest.raises(ValueError, match="equal length"):
        Batch(SPECIARL, np.zeros(2, np.int16), np.ones(3, bool))
    with pytest.raises(ValueError, match="unknown verdict"):
        SpeciaRL()(["Specific"])


def test_compute_on_arrays_marks_unscored_with_nan_and_to_list_with_none():
    batch = Batch(SPECIARL, np.array([4, MISSING, 2, 0], np.int16), np.ones(4, bool), 4)
    rewards = SpeciaRL().compute(batch)
    assert rewards.dtype == np.float64 and math.isnan(rewards[1])
    assert to_list(rewards) == [1.0, None, 0.0, 0.0]


def test_large_batch_runs_as_arrays():
    rng = np.random.default_rng(1)
    codes = rng.integers(MISSING, 6, size=100_000).astype(np.int16)
    found = rng.random(100_000) > 0.05
    rewards = SpeciaRL().compute(Batch(SPECIARL, codes, found, 10))
    assert set(np.unique(rewards[~np.isnan(rewards)])) <= {-1.0, 0.0, 1.0}
    assert np.isnan(rewards).sum() == np.count_nonzero((codes == MISSING) & found)


def test_a_weighted_sum_keeps_its_parts():
    import rewardkit as rk
    from rewardkit.rules import Batch

    rule = rk.Exact() + 0.5 * rk.Format() + rk.Exact()
    batch = Batch.from_verdicts(["specific", "generic", None], answer_found=[True, True, False])
    parts = rule.parts(batch)
    assert list(parts) == ["exact", "format", "exact#2"]
    assert parts["format"].tolist() == [1.0, 1.0, 0.0]
    total = rule.compute(batch)
    assert total.tolist() == [2.5, 0.5, -2.0]
    reward = rk.LadderReward("taxonomy", rule, taxonomy="examples/data/animals.json")
    judged = reward.judge_completions(["<answer>samoyed</answer>", "x"], ["samoyed"] * 2)
    m = reward.metrics(judged, reward.rewards(judged, 1), 1)
    assert m["part/exact"] == 0.0 and m["part/format"] == 0.5  # (1 + -1) / 2, (1 + 0) / 2
