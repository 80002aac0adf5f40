import json

import numpy as np
import pytest

from rewardkit import BINARY, MISSING, SPECIARL, Ladder, Rung


def test_speciarl_ladder_matches_the_paper():
    assert SPECIARL.slugs == (
        "wrong",
        "abstain",
        "generic",
        "less_specific",
        "specific",
        "more_specific",
    )
    assert SPECIARL.scores.tolist() == [0, 1, 2, 3, 4, 4]
    assert SPECIARL.correct.tolist() == [False, True, True, True, True, True]
    assert SPECIARL.max_score == 4.0
    assert [r.name for r in SPECIARL][3] == "Less specific"


def test_arrays_are_read_only():
    with pytest.raises(ValueError):
        SPECIARL.scores[0] = 9


def test_encode_decode_roundtrip_and_missing():
    codes = SPECIARL.encode(["wrong", None, "more_specific"])
    assert codes.dtype == np.int16 and codes.tolist() == [0, MISSING, 5]
    assert SPECIARL.decode(codes) == ["wrong", None, "more_specific"]


def test_unknown_slug_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown verdict 'right'.*wrong, abstain"):
        SPECIARL.encode(["specific", "right"])
    with pytest.raises(ValueError, match="unknown verdict"):
        SPECIARL.index("Specific")


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("specific", "specific"),
        ("The answer is MORE_SPECIFIC.", "more_specific"),
        ("more specific", "more_specific"),
        ("Less-Specific", "less_specific"),
        ("It is not wrong; it is generic", "generic"),  # the last label wins
        ("generic... on reflection: Wrong", "wrong"),
        ('{"verdict": "abstain"}', "abstain"),
        ("unspecific genericity", None),  # labels inside other words do not count
        ("", None),
        ("I cannot decide", None),
    ],
)
def test_parse_takes_the_last_label(reply, verdict):
    assert SPECIARL.parse(reply) == verdict


def test_json_schema_and_choices_come_from_the_rungs():
    schema = SPECIARL.json_schema()
    assert schema["properties"]["verdict"]["enum"] == list(SPECIARL.slugs)
    json.dumps(schema)
    assert SPECIARL.choices == list(SPECIARL.slugs)
    text = SPECIARL.definitions()
    assert text.splitlines()[0].startswith("- more_specific:")
    assert text.splitlines()[-1].startswith("- wrong:")


def test_custom_ladder():
    math = Ladder(
        "math",
        [
            Rung("wrong", "Wrong", 0, False),
            Rung("partial", "Partial", 1, True),
            Rung("correct", "Correct", 2, True),
        ],
    )
    assert math.max_score == 2.0
    assert math.parse("Partial credit? No: correct") == "correct"
    assert BINARY.parse("WRONG") == "wrong"


@pytest.mark.parametrize(
    "rungs, message",
    [
        ([Rung("a", "A", 1, True)], "at least two rungs"),
        ([Rung("a", "A", 0, False), Rung("a", "A", 1, True)], "duplicate slug 'a'"),
        ([Rung("Bad Slug", "A", 0, False), Rung("b", "B", 1, True)], "slug 'Bad Slug'"),
        ([Rung("a", "A", 0, False), Rung("b", "B", 0, False)], "no correct rung"),
        ([Rung("a", "A", float("nan"), False), Rung("b", "B", 1, True)], "bad score"),
        ([Rung("a", "A", -1, False), Rung("b", "B", 1, True)], "bad score"),
    ],
)
def test_bad_ladders_are_rejected(rungs, message):
    with pytest.raises(ValueError, match=message):
        Ladder("x", rungs)
