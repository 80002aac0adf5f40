"""The records rules and groups read (rewardkit.records), pinned exactly: a batch's checks and
their messages, its texts and token lengths, a judged batch's outcomes, errors and correctness,
and a group member's result - the cases `make mutate` found the suite let change."""

import math

import numpy as np
import pytest

from rewardkit.ladders import BINARY, MISSING, SPECIARL
from rewardkit.records import Batch, Judged, Judgement, Member, SampleResult

FOUND2 = np.ones(2, bool)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (
            (np.zeros(2, np.int16), [True, 1]),
            {},
            TypeError,
            "answer_found must be true/false flags, got 1",
        ),
        (
            (np.zeros(2, np.int16), np.ones(2)),
            {},
            TypeError,
            "answer_found must be true/false flags, got 1.0",
        ),
        (
            (np.zeros(2, np.int16), np.array([], dtype=np.float64)),
            {},
            TypeError,
            "answer_found must be true/false flags, got dtype('float64')",
        ),
        (
            (np.zeros((1, 2), np.int16), np.ones((1, 2), bool)),
            {},
            ValueError,
            "codes and answer_found must be 1-D and of equal length, got shapes (1, 2) and (1, 2)",
        ),
        (
            (np.zeros(2, np.int16), np.ones(3, bool)),
            {},
            ValueError,
            "codes and answer_found must be 1-D and of equal length, got shapes (2,) and (3,)",
        ),
        ((np.zeros(2), FOUND2), {}, TypeError, "codes must be integers, got dtype float64"),
        (
            (np.zeros(2, np.int16), FOUND2),
            {"group_size": True},
            TypeError,
            "group_size must be an int, got True",
        ),
        (
            (np.zeros(2, np.int16), FOUND2),
            {"group_size": 2.0},
            TypeError,
            "group_size must be an int, got 2.0",
        ),
        (
            (np.zeros(2, np.int16), FOUND2),
            {"group_size": 0},
            ValueError,
            "group_size must be >= 1, got 0",
        ),
        (
            (np.zeros(2, np.int16), FOUND2),
            {"group_size": 3},
            ValueError,
            "2 completions do not split into groups of 3",
        ),
        (
            (np.array([0, 2], np.int16), FOUND2),
            {},
            ValueError,
            "verdict codes must lie in [-1, 1] for ladder 'binary'",
        ),
        (
            (np.array([-2, 0], np.int16), FOUND2),
            {},
            ValueError,
            "verdict codes must lie in [-1, 1] for ladder 'binary'",
        ),
    ],
)
def test_a_bad_batch_is_named_exactly(args, kwargs, error, message):
    with pytest.raises(error) as e:
        Batch(BINARY, *args, **kwargs)
    assert str(e.value) == message


def test_a_batch_takes_what_numpy_reads_as_arrays():
    batch = Batch(BINARY, [MISSING, 1], [True, False], np.int64(2))
    assert batch.codes.tolist() == [-1, 1] and batch.answer_found.tolist() == [True, False]
    assert len(batch) == 2 and (batch.texts, batch.lengths) == (None, None)
    empty = Batch(BINARY, np.zeros(0, np.int16), np.zeros(0, bool))
    assert len(empty) == 0


def test_texts_and_lengths():
    batch = Batch.from_verdicts(["wrong", None], ladder=BINARY, texts=["a", "b"], lengths=[3, 0])
    assert batch.texts == ("a", "b")
    assert batch.lengths.tolist() == [3, 0] and batch.lengths.dtype.kind == "i"
    empty = Batch.from_verdicts([], ladder=BINARY, texts=[], lengths=[])
    assert empty.texts == () and empty.lengths.dtype == np.int64


def test_a_batch_built_directly_holds_its_texts_as_a_tuple():
    # A generator is read once, while checking; the batch keeps what it read for every rule.
    batch = Batch(BINARY, np.array([0, 1]), FOUND2, texts=(t for t in ["a", "b"]))
    assert batch.texts == ("a", "b")
    assert Batch(BINARY, np.array([0, 1]), FOUND2, texts=["a", "b"]).texts == ("a", "b")


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"texts": ["a", 1, b"x"]}, TypeError, "texts must be strings, got int"),
        ({"texts": ["a"]}, ValueError, "1 texts for 2 completions"),
        ({"lengths": [1]}, ValueError, "lengths must be 1-D with one per completion (2), got (1,)"),
        (
            {"lengths": [[1, 2]]},
            ValueError,
            "lengths must be 1-D with one per completion (2), got (1, 2)",
        ),
        (
            {"lengths": [1.0, 2.0]},
            TypeError,
            "lengths must be integers (tokens), got dtype float64",
        ),
        ({"lengths": [3, -1]}, ValueError, "lengths must be >= 0, got -1"),
    ],
)
def test_bad_texts_and_lengths_are_named_exactly(options, error, message):
    with pytest.raises(error) as e:
        Batch.from_verdicts(["wrong", "correct"], ladder=BINARY, **options)
    assert str(e.value) == message


def test_a_judged_batch():
    codes = SPECIARL.encode(["specific", None, "wrong", "generic"])
    found = np.array([True, True, True, False])
    judged = Judged(SPECIARL, ["a", "b", "c", None], found, codes)
    assert judged.verdicts == ["specific", None, "wrong", "generic"]
    assert judged.outcomes == ["specific", "unscored", "wrong", "no_answer"]
    assert judged.errors == [None, "no verdict", None, None]
    assert judged.correct.tolist() == [True, False, False, False]
    assert len(judged) == 4
    records = [
        Judgement("specific"),
        Judgement(None, error="timeout"),
        Judgement("wrong"),
        Judgement(None, error="no answer"),
    ]
    with_records = Judged(SPECIARL, ["a", "b", "c", None], found, codes, records)
    assert with_records.errors == [None, "timeout", None, "no answer"]


def test_a_members_result():
    first, unscored, last = Member.all([1.0, None, 0.0], True)
    assert (first, last) == (Member(1.0, True, False), Member(0.0, True, False))
    assert math.isnan(unscored.reward) and (unscored.partial, unscored.flat) == (True, False)
    assert Member.of([0.5, 0.5], 0, False) == Member(0.5, False, True)  # every reward equal
    assert Member.of([0.5, float("nan")], 0, False) == Member(0.5, False, True)  # one scored
    assert Member.of([None], 0, False).flat is True
    assert Member.of([2, 1], -1, True) == Member(1.0, True, False)
    assert type(Member.of([2, 1], 0, False).reward) is float


def test_a_samples_score_for_a_trainer_that_cannot_skip_it():
    unscored = SampleResult(math.nan, "judge_error", False, True, error="timeout")
    assert unscored.score(-0.5) == -0.5 and type(unscored.score(1)) is float
    assert SampleResult(0.25, "generic", True, True, verdict="generic").score(-0.5) == 0.25
