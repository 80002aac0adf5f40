import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# (reply, the rung the judge meant or None, the exact reading). A reply is read as its meant
# rung or as a failure - never as a higher rung (a policy would learn to make the judge quote
# labels); the exact reading pins each protection (tests/test_replies.py has the full catalogue).
ADVERSARIAL = [
    ("It is generic, not specific.", "generic", None),
    ("The prediction is not specific enough.", "generic", None),
    ("Wrong. The prediction 'more specific' is not a dog breed.", "wrong", None),
    ("**Less** specific", "less_specific", None),  # emphasis inside a label: not read
    ("non-specific", "generic", None),
    ("<think>Is it specific? It could be more_specific", None, None),
    ("VERDICT: specific\nIt is not more_specific.", "specific", None),
    ("Not specific", "generic", None),
    ("specific? no. generic", "generic", None),
    ("more specific than 'dog' but still generic", "generic", None),
    ("I refuse to grade this. specific", None, None),
    ("Specific or more specific", None, None),
    ("specific, more_specific", None, None),
    ('{"verdict": "specific"} but really generic', "generic", None),
    ('Here is my answer: {"verdict": "more_specific"}', None, None),
    ("VERDICT: specific\nVERDICT: generic", "generic", None),
    ("VERDICT: not specific", "generic", None),
    ("Verdict: specific-ish", None, None),
    ("<think>more_specific</think>", None, None),
    ("<think>it is specific</think>\n<think>more", None, None),
    ("`specific` is what the user asked me to say, but the answer is wrong", "wrong", None),
    ("The label should be one of: specific, more_specific", None, None),
    ("specificity: high", None, None),
    ("MORE SPECIFIC!!!", None, None),
    ("I am not sure; VERDICT: more_specific maybe", None, None),
    ("", None, None),
    ("   ", None, None),
    ("I cannot decide", None, None),
]

WELL_FORMED = [
    ("specific", "specific"),
    ("Specific", "specific"),
    ("SPECIFIC", "specific"),
    ("Less specific.", "less_specific"),
    ("less_specific", "less_specific"),
    ("Less-Specific", "less_specific"),
    ("**more specific**", "more_specific"),
    ('"abstain"', "abstain"),
    ("`generic`", "generic"),
    ("The prediction names a parent of the label.\nVERDICT: generic", "generic"),
    ("Reasoning...\n**VERDICT:** Less specific.", "less_specific"),
    ("verdict: wrong", "wrong"),
    ('{"verdict": "abstain"}', "abstain"),
    ('```json\n{"verdict": "Less specific"}\n```', "less_specific"),
    ("VERDICT: specific\n", "specific"),
]


@pytest.mark.parametrize("reply, meant, read", ADVERSARIAL)
def test_adversarial_replies_are_their_meant_rung_or_a_failure(reply, meant, read):
    assert SPECIARL.parse(reply) == read
    assert read is None or read == meant


@pytest.mark.parametrize("reply, verdict", WELL_FORMED)
def test_well_formed_replies_parse(reply, verdict):
    assert SPECIARL.parse(reply) == verdict


@pytest.mark.parametrize("reply", ["not correct", "Incorrect", "correct? no", "in-correct"])
def test_binary_negations_are_never_correct(reply):
    assert BINARY.parse(reply) is None


def test_non_strings_are_off_the_ladder():
    assert SPECIARL.parse(None) is None and SPECIARL.parse(4) is None


def test_canonicalisers_merge_only_same_meaning():
    c = SPECIARL.canonical
    assert c(" Golden  Retriever. ") == c("golden retriever") == "golden retriever"
    assert c("ＳＡＭＯＹＥＤ") == "samoyed"  # NFKC
    for a, b in [
        ("-5", "5"),
        ("1/2", "1.2"),
        ("x+1", "x-1"),
        ("737-800", "737 800"),
        ("samoyed/dog", "samoyed dog"),
        ("dog, cat", "dog cat"),
    ]:
        assert c(a) != c(b)
    assert BINARY.canonical("Dog.") == "Dog."  # exact by default
    custom = Ladder("x", [Rung("a", "A", 0, False), Rung("b", "B", 1, True)], canonical=str.upper)
    assert custom.canonical("ab") == "AB" and custom.canonical_name == "builtins.str.upper"
    with pytest.raises(ValueError, match="unknown canonicaliser"):
        Ladder("x", [Rung("a", "A", 0, False), Rung("b", "B", 1, True)], canonical="fuzzy")


@given(st.text(max_size=60))
def test_parse_never_returns_a_rung_for_text_without_a_label_word(text):
    verdict = SPECIARL.parse(text)
    if verdict is not None:
        words = text.lower().replace("_", " ").replace("-", " ")
        assert SPECIARL.rung(verdict).name.lower() in words or verdict.replace("_", " ") in words


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
    assert math.parse("Partial credit? No: correct") is None
    assert math.parse("Partial credit? No.\nVERDICT: correct") == "correct"
    assert BINARY.parse("WRONG") == "wrong"


@pytest.mark.parametrize(
    "rungs, message",
    [
        ([Rung("a", "A", 1, True)], "at least two rungs"),
        ([Rung("a", "A", 0, False), Rung("a", "A", 1, True)], "duplicate slug 'a'"),
        ([Rung("Bad Slug", "A", 0, False), Rung("b", "B", 1, True)], "slug 'Bad Slug'"),
        ([Rung("a\n", "A", 0, False), Rung("b", "B", 1, True)], r"slug 'a\\n' must be"),
        ([Rung("a", "A", 0, False), Rung("b", "B", 0, False)], "no correct rung"),
        ([Rung("a", "A", float("nan"), False), Rung("b", "B", 1, True)], "bad score"),
        ([Rung("a", "A", -1, False), Rung("b", "B", 1, True)], "bad score"),
    ],
)
def test_bad_ladders_are_rejected(rungs, message):
    with pytest.raises(ValueError, match=message):
        Ladder("x", rungs)
