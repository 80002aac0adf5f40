import math

import numpy as np
import pytest

from rewardkit import SPECIARL, best_of_n, group_best, score
from rewardkit.ladders import BINARY


def test_worked_example_from_the_paper():
    verdicts = ["abstain"] * 10 + ["generic"] * 15 + ["less_specific"] * 5 + ["specific"] * 20
    s = score(verdicts)
    assert s.n == 50 and s.unscored == 0
    assert s.correctness == 1.0
    assert s.specificity == pytest.approx(135 / 50 / 4)
    assert s.hm == pytest.approx(2 * 0.675 / 1.675)
    assert round(s.hm, 3) == 0.806
    assert s.counts == {
        "wrong": 0,
        "abstain": 10,
        "generic": 15,
        "less_specific": 5,
        "specific": 20,
        "more_specific": 0,
    }


def test_wrong_answers_lower_correctness_not_specificity():
    s = score(["wrong", "wrong", "specific", "generic"])
    assert s.correctness == 0.5
    assert s.specificity == pytest.approx((4 + 2) / 2 / 4)
    assert s.hm == pytest.approx(2 * 0.75 * 0.5 / 1.25)


def test_all_wrong_gives_zero_not_a_division_error():
    s = score(["wrong"] * 7)
    assert (s.correctness, s.specificity, s.hm) == (0.0, 0.0, 0.0)


def test_missing_verdicts_are_unscored_and_left_out_of_n():
    s = score(["specific", None, None, "wrong"])
    assert s.n == 2 and s.unscored == 2 and s.correctness == 0.5


def test_nothing_scored_gives_none_not_nan():
    s = score([None, None])
    assert s.n == 0 and s.correctness is None and s.specificity is None and s.hm is None
    assert score([]).n == 0


def test_codes_and_slugs_agree():
    slugs = ["wrong", "specific", None, "generic", "more_specific"]
    assert score(slugs) == score(SPECIARL.encode(slugs))


def test_group_best_and_best_of_n():
    verdicts = [
        "wrong",
        "generic",
        "specific",  # best: specific
        "wrong",
        "wrong",
        "wrong",  # best: wrong
        None,
        None,
        "abstain",  # best: abstain
        None,
        None,
        None,
    ]  # no verdict at all
    best = group_best(verdicts, 3)
    assert SPECIARL.decode(best) == ["specific", "wrong", "abstain", None]
    s = best_of_n(verdicts, 3)
    assert s.n == 3 and s.unscored == 1
    assert s.correctness == pytest.approx(2 / 3)
    assert s.specificity == pytest.approx((4 + 1) / 2 / 4)
    with pytest.raises(ValueError, match="groups of 5"):
        group_best(verdicts, 5)


def test_other_ladders():
    s = score(["wrong", "correct", "correct", "correct"], BINARY)
    assert s.correctness == 0.75 and s.specificity == 1.0
    assert math.isclose(s.hm, 2 * 0.75 / 1.75)


def test_best_of_n_never_below_mean_correctness_with_full_groups():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, size=600).astype(np.int16)
    assert best_of_n(codes, 6).correctness >= score(codes).correctness
