"""The ``authors`` extraction mode: answers read as the SpeciaRL authors' reward and evaluator
read them (the first ``<answer>...</answer>`` anywhere, case-sensitive, ``<think>`` ignored),
beside rewardkit's stricter default - and how often the format penalty fires under each."""

import json
import time

import pytest

import rewardkit as rk
from rewardkit import extract_answer, extract_answers

from .conftest import ANIMALS

CASES = [
    # completion, strict (text, found), authors (text, found)
    ("<think>x</think><answer>dog</answer>", ("dog", True), ("dog", True)),
    ("<think><answer>cat</answer></think> <answer>dog</answer>", ("dog", True), ("cat", True)),
    ("<think>thinking... <answer>dog</answer>", (None, False), ("dog", True)),  # unclosed think
    ("<answer>a</answer> then <answer>b</answer>", ("b", True), ("a", True)),
    ("<Answer>Dog</Answer>", ("Dog", True), (None, False)),  # case-sensitive
    ("<answer>x<answer>y</answer>", ("y", True), ("x<answer>y", True)),
    ("<answer>dog", (None, False), (None, False)),
    ("</answer><answer>", (None, False), (None, False)),
    ("no tags at all", (None, False), (None, False)),
]


@pytest.mark.parametrize("completion, strict, authors", CASES)
def test_authors_mode_against_the_default(completion, strict, authors):
    assert tuple(extract_answer(completion).__dict__.values()) == strict
    assert tuple(extract_answer(completion, mode="authors").__dict__.values()) == authors


def test_empty_answers_and_whole_text():
    batch = ["<answer> </answer>", "<answer>...</answer>", "<answer>\u200b</answer>"]
    assert extract_answers(batch) == ([None, None, None], [False, False, False])
    # The authors' code penalises only an answer that is empty once stripped.
    assert extract_answers(batch, mode="authors") == ([None, "...", "\u200b"], [False, True, True])
    assert extract_answers(batch, mode="authors", empty_is_missing=False)[1] == [True] * 3
    assert extract_answer(" <think>a</think> dog ", tag=None, mode="authors").text == (
        "<think>a</think> dog"
    )
    chat = [{"role": "assistant", "content": "<think><answer>x</answer>"}]
    assert extract_answer(chat, mode="authors").text == "x"
    with pytest.raises(ValueError, match="extraction mode must be one of strict, authors"):
        extract_answer("<answer>x</answer>", mode="first")


def test_authors_mode_is_linear_on_hostile_input():
    start = time.perf_counter()
    assert not extract_answer("<answer>" * 200_000, mode="authors").found
    assert extract_answer("<answer>" * 200_000 + "</answer>", mode="authors").found
    assert time.perf_counter() - start < 30  # a hang guard: two linear scans take milliseconds


def test_the_format_penalty_fires_less_often_in_authors_mode():
    # One group of six: thinking left open, a tag inside thinking, a capitalised tag, two clean
    # answers, nothing. The penalty (-1) fires 4 times strictly, 2 times as the authors read.
    group = [
        "<think>a spitz? <answer>spitz</answer>",
        "<think>samoyed</think> <answer>dog",
        "<Answer>samoyed</Answer>",
        "<think>fluffy</think><answer>samoyed</answer>",
        "<answer>dog</answer>",
        "I cannot tell",
    ]
    labels = ["samoyed"] * 6
    strict = rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS))
    authors = rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS), extraction="authors")
    assert strict(group, labels, group_size=6) == [-1.0, -1.0, 1.0, 1.0, 0.0, -1.0]
    assert authors(group, labels, group_size=6) == [0.0, -1.0, -1.0, 1.0, 0.0, -1.0]
    assert authors.extraction == "authors" and strict.extraction == "strict"


def test_the_spec_carries_the_mode_and_old_specs_read_the_same(tmp_path):
    spec = rk.RewardSpec(judge_options={"taxonomy": str(ANIMALS)}, extraction="authors")
    assert json.loads(spec.to_json())["extraction"] == "authors"
    assert rk.RewardSpec.from_json(spec.to_json()) == spec
    reward = rk.LadderReward.from_spec(spec)
    assert reward.extraction == "authors" and reward.to_spec() == spec
    # The default mode is left out of the JSON: a spec reads and writes as before the mode.
    plain = rk.RewardSpec(judge_options={"taxonomy": str(ANIMALS)})
    assert "extraction" not in plain.to_dict()
    assert rk.RewardSpec.from_dict(json.loads(plain.to_json())).extraction == "strict"
    with pytest.raises(rk.SpecError, match="extraction must be one of strict, authors"):
        rk.RewardSpec(extraction="last")
    with pytest.raises(ValueError, match="extraction must be one of"):
        rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS), extraction="nope")
