"""Answer extraction, pinned exactly: the cases `make mutate` found the suite let change."""

import uuid

import pytest

from rewardkit import extract_answer, extract_answers
from rewardkit.answers import Answer, completion_text, has_content

# -- chat completions ----------------------------------------------------------------------------


def test_a_message_without_a_role_is_the_assistants():
    assert completion_text([{"content": "<answer>dog</answer>"}]) == "<answer>dog</answer>"


def test_other_roles_are_skipped_and_reading_goes_on_after_them():
    messages = [
        {"role": "user", "content": "which animal?"},
        {"role": "assistant", "content": "a"},
        {"role": "tool", "content": "t"},
        {"role": "assistant", "content": [{"type": "text", "text": "b"}, {"type": "image"}]},
    ]
    assert completion_text(messages) == "a\nb"


def test_a_text_part_without_text_is_an_empty_line():
    parts = [{"type": "text"}, {"type": "text", "text": "x"}]
    assert completion_text([{"role": "assistant", "content": parts}]) == "\nx"


def test_bad_completions_name_the_problem_exactly():
    with pytest.raises(TypeError) as none:
        completion_text(None)
    assert str(none.value) == "completion is None; expected a string or a list of chat messages"
    with pytest.raises(TypeError) as text:
        completion_text(["<answer>x</answer>"])
    assert str(text.value) == "chat completion must be a list of message dicts, got str"


# -- strict extraction (the default) -------------------------------------------------------------


def test_a_tag_never_seen_before_is_matched_in_any_case():
    tag = f"t{uuid.uuid4().hex}"  # not yet in the module's compiled-pattern cache
    text = f"<{tag.upper()}>Dog</{tag}> <{tag}>cat</{tag.upper()}>"
    assert extract_answer(text, tag=tag) == Answer("cat", True)
    assert extract_answer(f"<{tag}>dog", tag=tag) == Answer(None, False)


def test_an_opening_tag_after_the_last_closing_one_is_ignored():
    assert extract_answer("<answer>dog</answer> <answer>cat") == Answer("dog", True)


def test_a_closing_tag_without_an_opening_one_is_no_answer():
    assert extract_answer("dog</answer>") == Answer(None, False)


def test_untagged_extraction_is_always_found():
    assert extract_answer("<think>x</think>  ", tag=None) == Answer("", True)
    assert extract_answer(" Dog ", tag=None) == Answer("Dog", True)


def test_the_batch_passes_its_tag_on():
    tag = f"t{uuid.uuid4().hex}"
    completions = [f"<{tag}>a</{tag}>", "<answer>b</answer>"]
    assert extract_answers(completions, tag=tag) == (["a", None], [True, False])


@pytest.mark.parametrize(
    "text, content",
    [
        (None, False),
        ("", False),
        ("...", False),
        ("\u200b \u3000", False),
        ("+", True),
        ("a.", True),
        ("7", True),
    ],
)
def test_has_content(text, content):
    assert has_content(text) is content


# -- the SpeciaRL authors' extraction ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, answer",
    [
        ("<answer>dog</answer>", Answer("dog", True)),  # the tag at the very start
        ("x <answer> dog </answer>", Answer("dog", True)),
        ("<answer>a</answer> <answer>b</answer>", Answer("a", True)),  # the first one
        ("<answer>a</answer> b</answer>", Answer("a", True)),  # its first closing tag
        ("</answer><answer>x</answer>", Answer("x", True)),  # a closing tag before it
        ("<think><answer>cat</answer></think>", Answer("cat", True)),  # think not looked at
        ("<ANSWER>dog</ANSWER>", Answer(None, False)),  # case-sensitive
        ("x</answer>", Answer(None, False)),
        ("a closing tag alone, late: </answer>", Answer(None, False)),  # no opening tag at all
        ("<answer>dog", Answer(None, False)),
        ("no tags", Answer(None, False)),
    ],
)
def test_authors_mode(text, answer):
    assert extract_answer(text, mode="authors") == answer


def test_authors_mode_reads_chat_messages_and_other_tags():
    chat = [{"role": "assistant", "content": "<final>dog</final>"}]
    assert extract_answer(chat, tag="final", mode="authors") == Answer("dog", True)
    assert extract_answer(" <b>x</b> ", tag=None, mode="authors") == Answer("<b>x</b>", True)


def test_authors_mode_in_a_batch_penalises_only_blank_answers():
    completions = ["<answer>...</answer>", "<answer> </answer>", "<answer>dog</answer>", "-"]
    assert extract_answers(completions, mode="authors") == (
        ["...", None, "dog", None],
        [True, False, True, False],
    )
    assert extract_answers(completions) == ([None, None, "dog", None], [False, False, True, False])
    assert extract_answers(["<final>x</final>"], tag="final", mode="authors") == (["x"], [True])
    # The batch reads each answer in its mode: the first tag (inside think) or the last outside.
    thought = "<think>a <answer>dog</answer>, no</think> <answer>spitz</answer>"
    assert extract_answers([thought], mode="authors") == (["dog"], [True])
    assert extract_answers([thought]) == (["spitz"], [True])


def test_a_tag_of_its_own_is_read_in_any_case():
    # A tag this process has not read before: its patterns are compiled here.
    assert extract_answer("<RESULT> 42 </result>", tag="result") == Answer("42", True)
    assert extract_answer("<result> 42 </RESULT>", tag="result") == Answer("42", True)


def test_an_unknown_mode_is_refused_by_name():
    with pytest.raises(ValueError) as e:
        extract_answer("<answer>x</answer>", mode="lenient")  # type: ignore[arg-type]
    assert str(e.value) == "extraction mode must be one of strict, authors, got 'lenient'"
