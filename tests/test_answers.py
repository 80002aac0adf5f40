import pytest

from rewardkit import extract_answer, extract_answers
from rewardkit.answers import completion_text


@pytest.mark.parametrize(
    "completion, text, found",
    [
        ("<think>hmm</think><answer>Samoyed</answer>", "Samoyed", True),
        ("<answer> golden retriever \n</answer>", "golden retriever", True),
        ("<ANSWER>dog</ANSWER>", "dog", True),
        ("<answer>cat</answer> wait <answer>dog</answer>", "dog", True),  # the last answer
        ("<think>I'd say <answer>cat</answer></think><answer>dog</answer>", "dog", True),
        ("<think>only <answer>cat</answer> inside thinking</think>", None, False),
        ("<think>never closed <answer>cat</answer>", None, False),
        ("<answer>truncated", None, False),
        ("just a dog", None, False),
        ("", None, False),
        ("<answer></answer>", "", True),
        ("<answer>None</answer>", "None", True),
    ],
)
def test_extract_answer(completion, text, found):
    answer = extract_answer(completion)
    assert (answer.text, answer.found) == (text, found)


def test_missing_is_distinct_from_empty_and_abstaining():
    missing, empty, abstain = (
        extract_answer(c) for c in ("dog", "<answer> </answer>", "<answer>none</answer>")
    )
    assert not missing.found and not missing.empty
    assert empty.found and empty.empty
    assert abstain.found and not abstain.empty


def test_chat_completions_as_trl_passes_them():
    completion = [{"role": "assistant", "content": "<answer>spitz</answer>"}]
    assert extract_answer(completion).text == "spitz"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "<answer>x</answer>"}]}]
    assert extract_answer(parts).text == "x"
    assert completion_text([{"role": "user", "content": "ignored"}]) == ""


def test_bad_completion_types_are_clear_errors():
    with pytest.raises(TypeError, match="completion is None"):
        extract_answer(None)
    with pytest.raises(TypeError, match="message dicts"):
        extract_answer(["<answer>x</answer>"])


def test_untagged_mode_uses_the_whole_text():
    assert extract_answer("<think>x</think> Dog ", tag=None).text == "Dog"


def test_batch_flags_and_empty_policy():
    completions = ["<answer>a</answer>", "<answer></answer>", "no tags"]
    assert extract_answers(completions) == (["a", None, None], [True, False, False])
    assert extract_answers(completions, empty_is_missing=False) == (
        ["a", "", None],
        [True, True, False],
    )
