"""Reward rules, pinned exactly: their parameters' errors, float rewards from any rule's core,
the completions' texts and lengths reaching the rules that read them, and their reprs - the
cases `make mutate` found the suite let change."""

import math

import numpy as np
import pytest

from rewardkit import (
    SPECIARL,
    Batch,
    Correct,
    Exact,
    Format,
    Graded,
    SpeciaRL,
    WeightedSum,
    to_list,
)
from rewardkit.rules import RewardRule
from rewardkit.shaping import SoftOverlong, ThinkAnswerFormat


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: SpeciaRL(no_answer="x"), TypeError, "no_answer must be a number or None, got 'x'"),
        (lambda: SpeciaRL(unscored=True), TypeError, "unscored must be a number or None, got True"),
        (lambda: Exact(no_answer=float("inf")), ValueError, "no_answer must be finite, got inf"),
        (lambda: Correct(unscored=float("nan")), ValueError, "unscored must be finite, got nan"),
        (lambda: Format(found=None), TypeError, "found must be a number, got None"),
        (lambda: Format(missing="0"), TypeError, "missing must be a number, got '0'"),
        (lambda: Format(found=np.inf), ValueError, "found must be finite, got inf"),
        (
            lambda: Graded(scale={"wrong": 0, "right": "1"}),
            TypeError,
            "graded scale['right'] must be a number, got '1'",
        ),
        (lambda: WeightedSum([]), ValueError, "a weighted sum needs at least one rule"),
        (
            lambda: WeightedSum([(len, 1.0)]),
            TypeError,
            "expected a RewardRule, got builtin_function_or_method",
        ),
    ],
)
def test_bad_parameters_are_named_exactly(build, error, message):
    with pytest.raises(error) as e:
        build()
    assert str(e.value) == message


def test_numbers_of_any_kind_are_taken_as_floats():
    rule = SpeciaRL(no_answer=np.int32(-2), unscored=np.float32(0.5))
    assert (rule.no_answer, rule.unscored) == (-2.0, 0.5)
    assert type(rule.no_answer) is float and type(rule.unscored) is float
    assert Format(found=2, missing=np.int64(-1))([None, None], answer_found=[True, False]) == [
        2.0,
        -1.0,
    ]


class CountsRungs(RewardRule):
    """A plugin rule whose core returns plain integers (its rung index)."""

    name = "counts"

    def core(self, ladder, codes, group_size):
        return [int(c) for c in codes]


def test_a_core_of_integers_still_gives_float_rewards_with_nan():
    batch = Batch.from_verdicts(["specific", "generic", "wrong"], answer_found=[True, True, False])
    rewards = CountsRungs(no_answer=None).compute(batch)
    assert rewards.dtype == np.float64
    assert rewards[:2].tolist() == [4.0, 2.0] and math.isnan(rewards[2])
    assert CountsRungs(no_answer=-1)(["specific", "generic"], answer_found=[False, True]) == [
        -1.0,
        2.0,
    ]


def test_to_list_gives_python_floats_and_none():
    out = to_list(np.array([1, 0], dtype=np.int64))
    assert out == [1.0, 0.0] and [type(x) for x in out] == [float, float]
    assert to_list([0.5, float("nan")]) == [0.5, None]


def test_texts_and_lengths_reach_the_rules_that_read_them():
    texts = ["<think>2+2</think> <answer>4</answer>", "<answer>4</answer>", "<think>2+2"]
    assert ThinkAnswerFormat()([None] * 3, texts=texts) == [1.0, -1.0, -1.0]
    lengths = [16, 17, 20, 21]
    assert SoftOverlong(l_max=20, l_cache=4)([None] * 4, lengths=lengths) == [
        0.0,
        -0.25,
        -1.0,
        -1.0,
    ]
    both = Correct() + 0.5 * ThinkAnswerFormat()
    assert both(["specific", "wrong", "generic"], texts=texts) == [1.5, -0.5, 0.5]


def test_reprs():
    assert repr(SpeciaRL()) == "SpeciaRL(no_answer=-1.0, unscored=None)"
    assert repr(Exact(no_answer=None, unscored=0)) == "Exact(no_answer=None, unscored=0.0)"
    assert repr(Exact() + 0.5 * Format()) == (
        "1 * Exact(no_answer=-1.0, unscored=None) + 0.5 * Format(no_answer=0.0, unscored=None)"
    )


def test_the_rules_on_a_ladder_of_two_rungs_in_groups():
    from rewardkit.ladders import BINARY

    verdicts = ["wrong", "correct", None, "wrong"]
    assert SpeciaRL()(verdicts, group_size=2, ladder=BINARY) == [0.0, 1.0, None, 0.0]
    assert Exact()(verdicts, ladder=BINARY) == [0.0, 1.0, None, 0.0]
    assert SPECIARL.max_score == 4.0
