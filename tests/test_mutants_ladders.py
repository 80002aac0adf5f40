"""Ladders, pinned exactly: a new ladder's attributes and labels, its errors, the judge-facing
texts and schema, read-only arrays and the ``label`` canonicaliser - the cases `make mutate`
found the suite let change. Ladders are built here, not taken from rewardkit's own (built
once at import, before any test runs)."""

import pytest

from rewardkit.guards import AnswerGuard
from rewardkit.ladders import Ladder, Rung, label_text

RUNGS = [
    Rung("wrong", "Wrong", 0.0, False, "incorrect"),
    Rung("ok", "Fine answer", 1.0, True),  # no description: its name stands in
    Rung("best", "Best", 2.0, True, "exact"),
]


def canon(text):
    return text.strip()


def test_a_new_ladder():
    ladder = Ladder("mine", RUNGS)
    assert (ladder.name, ladder.task, ladder.canonical_name) == ("mine", "", "exact")
    assert repr(ladder) == "Ladder('mine', ['wrong', 'ok', 'best'])"
    assert ladder.rung("ok") is RUNGS[1]
    assert Ladder("mine", RUNGS, task="t", canonical=canon).task == "t"
    assert Ladder("mine", RUNGS, canonical=canon).canonical_name == f"{__name__}.canon"


def test_display_names_read_as_their_slugs():
    ladder = Ladder("mine", RUNGS)
    assert [ladder.label(t) for t in ("Fine answer", "fine_answer", "FINE-ANSWER.", "ok")] == [
        "ok",
        "ok",
        "ok",
        "ok",
    ]
    assert ladder.label("fine") is None
    assert ladder.parse("<think>hmm</think>\nVERDICT: Fine answer", thinking=True) == "ok"


def test_the_arrays_are_read_only():
    ladder = Ladder("mine", RUNGS)
    for array in (ladder.scores, ladder.correct):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1


def test_judge_facing_texts():
    ladder = Ladder("mine", RUNGS)
    assert ladder.definitions() == "- best: exact\n- ok: Fine answer\n- wrong: incorrect"
    assert ladder.json_schema() == {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["wrong", "ok", "best"]}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    assert ladder.json_schema(["a", "b"])["properties"]["verdict"]["enum"] == ["a", "b"]


@pytest.mark.parametrize("check", ["rung_names", "verdict_syntax"])
def test_a_guard_check_that_reads_labels_is_bound_to_the_ladders(check):
    ladder = Ladder("mine", RUNGS, guard=AnswerGuard(**{check: True}))
    assert ladder.guard.rung_labels == frozenset({"wrong", "fine answer", "ok", "best"})
    assert Ladder("mine", RUNGS).guard.rung_labels == frozenset()


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"rungs": [RUNGS[0], "ok"]}, TypeError, "ladder 'x': expected Rung, got str"),
        (
            {"canonical": "fold"},
            ValueError,
            "ladder 'x': unknown canonicaliser 'fold'; expected one of exact, label or a function",
        ),
        ({"canonical": 3}, TypeError, "ladder 'x': canonical must be a name or a function"),
        ({"guard": "strict"}, TypeError, "ladder 'x': guard must be an AnswerGuard"),
    ],
)
def test_bad_ladders_are_named_exactly(options, error, message):
    options = {"rungs": RUNGS, **options}
    with pytest.raises(error) as e:
        Ladder("x", **options)
    assert str(e.value) == message


def test_the_label_canonicaliser():
    assert label_text("  Golden  Retriever . ") == "golden retriever"
    assert label_text("Dog .") == "dog"
    assert label_text("x-1.") == "x-1"
