"""Reading a judge's reply, pinned exactly: think blocks, the JSON and VERDICT-line forms, what
counts as a statement of a verdict (its windows, negations, prefixes, three-word labels) and the
reasons a reply has no verdict - the cases `make mutate` found the suite let change. Each case
is one that only the rule it pins decides."""

import pytest

from rewardkit.ladders import BINARY, SPECIARL, Ladder, Rung
from rewardkit.replies import MAX_REPLY_CHARS, Reading, mentions, read_reply

#: Short and multi-word labels: "ok" (two letters), "top" (three), "Nearly the same" (three words).
SHORT = Ladder(
    "short",
    [
        Rung("wrong", "Wrong", 0.0, False),
        Rung("ok", "OK", 1.0, True),
        Rung("top", "Top", 2.0, True),
        Rung("near", "Nearly the same", 3.0, True),
        Rung("best", "Best", 4.0, True),
    ],
)

TWO_BLOCKS = Reading(None, "more than one think block")


def read(reply, thinking=False, ladder=SPECIARL):
    return ladder.reading(reply, thinking=thinking)


def two(first, then):
    return Reading(None, f"two verdicts: {first} and {then}")


# -- thinking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, reading",
    [
        ("<think>hmm</think>\nVERDICT: specific", Reading("specific")),
        ("the template opened it</think> specific", Reading("specific")),
        ("<think>a</think><think>b</think> specific", TWO_BLOCKS),
        ("<think>a<think>b</think> specific", TWO_BLOCKS),  # opened twice
        ("</think> x <think> specific", TWO_BLOCKS),  # opened after it closed
        ("</think><think>specific", TWO_BLOCKS),  # opened right where it closed
    ],
)
def test_think_blocks_of_a_thinking_judge(reply, reading):
    assert read(reply, thinking=True) == reading


def test_a_judge_is_not_thinking_unless_declared():
    why = "a think tag in the reply of a judge not configured as thinking"
    assert read_reply(SPECIARL.label, "<think>x</think> specific") == Reading(None, why)


# -- the JSON form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, reading",
    [
        ('```json{"verdict": "specific"}```', Reading("specific")),  # no newline after json
        ('{"verdict": "specific", "finalVerdict": "x generic y"}', two("generic", "specific")),
        ('{"verdict": "specific", "final_verdict": "x generic y"}', two("generic", "specific")),
        ('{"verdict": "specific", "note": "x generic y"}', Reading("specific")),  # no lead
        ('{"verdict": "great"}', Reading(None, "JSON without one verdict label")),
        (
            '{"verdict": "generic", "Verdict": "specific"}',
            Reading(None, "JSON without one verdict label"),
        ),
        ('{"verdict": 3}', Reading(None, "JSON without one verdict label")),
        ('{"verdict": "a", "verdict": "b"}', Reading(None, "JSON with duplicate keys")),
    ],
)
def test_the_json_form(reply, reading):
    assert read(reply) == reading


# -- the VERDICT-line form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, reading",
    [
        (
            "intro\nVERDICT: maybe\nVERDICT: specific",
            Reading(None, "a VERDICT line that is not a label"),
        ),
        ("intro\nGeneric\nVERDICT: specific", two("generic", "specific")),  # not the first line
        ("Specific\nthe answer is generic\nVERDICT: specific", two("generic", "specific")),
        ("no verdict here", Reading(None, "no VERDICT: <label> last line")),
    ],
)
def test_the_verdict_line_form(reply, reading):
    assert read(reply) == reading


# -- what states a verdict -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, reading",
    [
        ("Generic?\nVERDICT: specific", two("generic", "specific")),  # a line of one label
        ("answer x y z generic\nVERDICT: specific", Reading("specific")),  # 4 words back: no
        ("answer x y generic\nVERDICT: specific", two("generic", "specific")),  # 3 words back
        ("Is it generic? well, no\nVERDICT: generic", Reading("generic")),  # "no" 4 words on
        ("Is it generic? no\nVERDICT: generic", two("not generic", "generic")),
        ("the answer is generic, no doubt\nVERDICT: generic", Reading("generic")),  # no question
        ("The answer is generic: certainly\nVERDICT: generic", Reading("generic")),
        ("not really generic\nVERDICT: generic", two("not generic", "generic")),
        ("xyzgeneric\nVERDICT: generic", Reading("generic")),  # not a negating prefix
    ],
)
def test_statements_in_prose(reply, reading):
    assert read(reply) == reading


@pytest.mark.parametrize(
    "reply, reading",
    [
        ("unok\nVERDICT: ok", Reading("ok")),  # a prefix needs more than two letters after it
        ("untop\nVERDICT: top", two("not top", "top")),
        ("The answer is nearly the same\nVERDICT: best", two("near", "best")),  # three words
    ],
)
def test_prefixes_and_labels_of_several_words(reply, reading):
    assert read(reply, ladder=SHORT) == reading


# A label of four words: prose reading (a label within three words of a verdict word) cannot
# see it, so only a line or a table cell that is the label as a whole states it.
ESSAY = Ladder(
    "essay",
    [
        Rung("wrong", "Wrong", 0, False),
        Rung("partial", "Partly done but incomplete", 1, True),
        Rung("right", "Right", 2, True),
    ],
)


@pytest.mark.parametrize(
    "reply, reading",
    [
        ("not partly done but incomplete\nVERDICT: partial", two("not partial", "partial")),
        ("- Never partly done but incomplete!\nVERDICT: right", Reading("right")),
        ("| grade | partly done but incomplete |\nVERDICT: right", two("partial", "right")),
        (
            "| not partly done but incomplete | x |\nVERDICT: partial",
            two("not partial", "partial"),
        ),
        ("| grade | partly done but incomplete |\nVERDICT: partial", Reading("partial")),
        ("partly done but incomplete | grade\nVERDICT: right", two("partial", "right")),
    ],
)
def test_a_long_label_negated_on_its_own_line_or_in_a_table_cell(reply, reading):
    assert read(reply, ladder=ESSAY) == reading


def test_a_negating_prefix_is_read_on_at_most_two_words():
    assert read("in correct\nVERDICT: correct", ladder=BINARY) == two("not correct", "correct")
    assert read("in cor rect\nVERDICT: correct", ladder=BINARY) == Reading("correct")


def test_mentions():
    assert mentions(SPECIARL.label, "cat. The grade is Specific, surely") == ["specific"]
    assert mentions(SPECIARL.label, "the answer is not generic\nLess specific") == [
        "generic",
        "less_specific",
    ]


# -- what is not a reply -------------------------------------------------------------------------


def test_what_is_not_a_reply():
    assert read_reply(SPECIARL.label, 3) == Reading(None, "reply is int, not text")
    assert read_reply(SPECIARL.label, None) == Reading(None, "reply is NoneType, not text")
    assert read("   \n ") == Reading(None, "empty reply")


def test_a_reply_of_exactly_the_limit_is_read_one_more_is_not():
    assert read("specific".ljust(MAX_REPLY_CHARS)) == Reading("specific")
    over = "specific".ljust(MAX_REPLY_CHARS + 1)
    assert read(over) == Reading(None, f"reply over {MAX_REPLY_CHARS} characters")
