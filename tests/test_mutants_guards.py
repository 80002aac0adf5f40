"""Answer guards, pinned exactly: their options' checks and errors, the limit's boundary, the
identity they add to a judge's, and labels that only the rung-name check reads - the cases
`make mutate` found the suite let change (tests/test_guard_checks.py covers what each check
refuses)."""

import pytest

from rewardkit.guards import AnswerGuard


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"max_chars": True}, TypeError, "max_chars must be an integer, got True"),
        ({"max_chars": 2.0}, TypeError, "max_chars must be an integer, got 2.0"),
        ({"max_chars": 0}, ValueError, "max_chars must be >= 1, got 0"),
        ({"markers": ["<x>", " "]}, ValueError, "markers must be non-empty strings"),
        ({"markers": [3]}, ValueError, "markers must be non-empty strings"),
        ({"rung_names": "yes"}, TypeError, "rung_names must be true or false, got 'yes'"),
        ({"verdict_syntax": 1}, TypeError, "verdict_syntax must be true or false, got 1"),
    ],
)
def test_bad_options_are_named_exactly(options, error, message):
    with pytest.raises(error) as e:
        AnswerGuard(**options)
    assert str(e.value) == message


def test_a_limit_of_one_character():
    guard = AnswerGuard(max_chars=1)
    assert guard.check("a") is None
    assert guard.check("ab") == "answer over 1 characters"


def test_options_are_stored_immutable():
    guard = AnswerGuard(markers=["<x>"], rung_labels=["b", "a"])
    assert type(guard.markers) is tuple and guard.markers == ("<x>",)
    assert type(guard.rung_labels) is frozenset and guard.rung_labels == frozenset({"a", "b"})
    assert len({guard, AnswerGuard(markers=("<x>",), rung_labels=frozenset({"a", "b"}))}) == 1
    assert guard.check("a <X> b") == "chat-control marker <x>"


def test_labels_are_read_only_by_the_checks_switched_on():
    labelled = AnswerGuard(rung_labels={"specific"})
    assert labelled.check("Specific") is None
    assert labelled.check("cat\nSpecific") is None
    assert AnswerGuard(rung_labels={"specific"}, rung_names=True).check("Specific?!") == (
        "a rung name as the answer"
    )


def test_the_identity_names_the_checks_and_their_labels():
    guard = AnswerGuard(max_chars=10, markers=("<x>",), rung_names=True, rung_labels={"b", "a"})
    assert guard.identity() == [10, ["<x>"], ["rung_names"], ["a", "b"]]
    assert AnswerGuard(max_chars=10, markers=("<x>",)).identity() == [10, ["<x>"]]


def test_switching_checks_on():
    assert AnswerGuard(content_free=True).with_checks("rung_names").checks == (
        "content_free",
        "rung_names",
    )
    assert AnswerGuard().with_checks("verdict_syntax", "all").checks == (
        "content_free",
        "verdict_syntax",
        "rung_names",
    )
    assert AnswerGuard().with_checks().checks == ()
    with pytest.raises(ValueError) as e:
        AnswerGuard().with_checks("content-free", "rung_names")
    assert str(e.value) == (
        "unknown guard checks ['content-free']; known: content_free, verdict_syntax, "
        "rung_names, all"
    )


def test_labels_are_bound_as_words():
    bound = AnswerGuard(rung_names=True).for_labels(["Less_Specific", "OK", "more-specific"])
    assert bound.rung_labels == frozenset({"less specific", "ok", "more specific"})
    assert bound.check("less-specific") == "a rung name as the answer"


def test_a_rung_name_ending_in_a_capital_x_is_refused():
    # "!?:;" are stripped from the end, and nothing else: the X of "MAX" is part of the name.
    assert AnswerGuard(rung_names=True).for_labels(["max"]).check("MAX") == (
        "a rung name as the answer"
    )


def test_verdict_syntax_without_rung_labels():
    guard = AnswerGuard(verdict_syntax=True)
    assert guard.check("samoyed") is None  # no labels bound: only the verdict key is read
    assert guard.check("cat\nspecific") is None
    # A quoted "verdict" key with no separator after it (a JSON list, a Python tuple).
    assert guard.check('dog ["verdict", 1]') == "verdict syntax in the answer"
    assert guard.check("dog ('VERDICT', 1)") == "verdict syntax in the answer"


def test_a_rung_label_on_a_line_of_its_own_is_verdict_syntax():
    # "1.5 stars" does not read as a statement in prose (its "1." reads as a list number),
    # so only the line check sees it: the answer's second line is a rung label.
    guard = AnswerGuard(verdict_syntax=True).for_labels(["1.5 stars", "2 stars"])
    assert guard.check("cat\n1.5 stars") == "verdict syntax in the answer"
    assert guard.check("cat\n\n  1.5 stars!\n") == "verdict syntax in the answer"
    assert guard.check("cat\n1.5 starsx") is None
