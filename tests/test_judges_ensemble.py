"""NoisyJudge goes through the batch planner like every judge: its stats count, and its seeded
flips are those it made before (each completion flipped on its own, in order)."""

import asyncio

import pytest

from rewardkit.judges.ensemble import NoisyJudge
from rewardkit.judges.taxonomy import TaxonomyJudge
from rewardkit.taxonomy import Taxonomy

BASE = TaxonomyJudge(Taxonomy([["animal", "dog", "spitz", "samoyed"]]))
PREDICTIONS = ["dog", "samoyed", None, "dog", "spitz", "animal", "cat", "samoyed", "dog", None,
               "spitz", "dog"]  # fmt: skip
PAIRS = [("samoyed", p) for p in PREDICTIONS]

# Seed 3, rate 0.5: the verdicts of three batches in a row (sync, async, records), pinned.
FLIPS = {
    "paper": [
        ["abstain", "less_specific", None, "generic", "less_specific", "abstain", "wrong",
         "less_specific", "generic", None, "specific", "generic"],
        ["generic", "less_specific", None, "generic", "generic", "generic", "wrong", "specific",
         "generic", None, "generic", "abstain"],
        ["generic", "less_specific", None, "generic", "less_specific", "less_specific", "abstain",
         "specific", "abstain", None, "less_specific", "abstain"],
    ],
    "rungs": [
        ["abstain", "more_specific", None, "generic", "generic", "generic", "abstain", "specific",
         "less_specific", None, "less_specific", "generic"],
        ["abstain", "less_specific", None, "generic", "less_specific", "generic", "wrong",
         "less_specific", "abstain", None, "less_specific", "less_specific"],
        ["generic", "specific", None, "less_specific", "less_specific", "less_specific",
         "abstain", "less_specific", "less_specific", None, "less_specific", "generic"],
    ],
}  # fmt: skip


@pytest.mark.parametrize("scheme", ["paper", "rungs"])
def test_noisy_flips_each_completion_as_before(scheme):
    judge = NoisyJudge(BASE, 0.5, seed=3, scheme=scheme)
    got = [
        judge.judge(PAIRS),
        asyncio.run(judge.ajudge(PAIRS)),
        [r.verdict for r in judge.judge_records(PAIRS)],
    ]
    assert got == FLIPS[scheme]
    assert judge.flipped == {"paper": 14, "rungs": 15}[scheme]


def test_noisy_counts_its_pairs_like_any_judge():
    judge = NoisyJudge(BASE, 0.0, seed=0)
    assert judge.judge(PAIRS) == BASE.judge(PAIRS)
    # every completion with an answer is a judgement of its own; no answer is missing
    assert (judge.stats.pairs, judge.stats.unique, judge.stats.missing) == (12, 10, 2)
    records = judge.judge_records(PAIRS)
    assert records[2].error == "no answer" and judge.stats.pairs == 24
