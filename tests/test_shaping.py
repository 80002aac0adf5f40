"""Format and length shaping rules: the think/answer format and DAPO's soft overlong penalty,
exact values, composition with ladder rules and group normalisation, and the texts and token
lengths carried from the adapters."""

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.plugins import get_rule
from rewardkit.rules import Batch
from rewardkit.shaping import SoftOverlong, ThinkAnswerFormat, well_formed

from .conftest import ANIMALS

FORMATS = {
    "<think>a dog</think><answer>dog</answer>": True,
    "  <think>a\ndog</think>\n\n<answer> dog </answer>\n": True,
    "<THINK>a</THINK><Answer>dog</Answer>": True,
    "<think></think><answer>dog</answer>": True,  # an empty thought is still a closed block
    "<answer>dog</answer>": False,  # no think block
    "<think>a dog<answer>dog</answer>": False,  # think never closed
    "<think>a dog</think>": False,  # no answer
    "<think>a</think><answer>dog</answer><answer>cat</answer>": False,  # two answers
    "<think>a <answer>x</answer></think><answer>dog</answer>": False,  # an answer inside think
    "<think>a</think><think>b</think><answer>dog</answer>": False,  # two think blocks
    "<answer>dog</answer><think>a</think>": False,  # wrong order
    "Sure! <think>a</think><answer>dog</answer>": False,  # text before the think block
    "<think>a</think> so: <answer>dog</answer>": False,  # text between
    "<think>a</think><answer>dog</answer> hope it helps": False,  # text after
    "<think>a</think><answer> ... </answer>": False,  # an answer with no content
    "<think>a</think><answer>dog": False,  # answer never closed
    "": False,
}


def test_well_formed_table():
    got = {text: well_formed(text) for text in FORMATS}
    assert got == FORMATS


def test_prefilled_think_and_other_tag_names():
    assert well_formed("a dog</think><answer>dog</answer>", prefilled=True)
    assert not well_formed("<think>a</think><answer>dog</answer>", prefilled=True)
    text = "<reasoning>a</reasoning><final>dog</final>"
    assert well_formed(text, think="reasoning", answer="final")
    assert not well_formed(text)


def test_a_collapsed_completion_is_judged_in_linear_time():
    text = "<think>" + "<answer>" * 1_000_000  # milliseconds: at most 5 tags are looked at
    assert ThinkAnswerFormat()([None], texts=[text]) == [-1.0]


def test_think_answer_format_rewards_and_validation():
    texts = list(FORMATS)[:6]
    assert ThinkAnswerFormat()([None] * 6, texts=texts) == [1.0, 1.0, 1.0, 1.0, -1.0, -1.0]
    rule = ThinkAnswerFormat(0.5, 0)
    assert rule([None] * 6, texts=texts) == [0.5, 0.5, 0.5, 0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match="two tag names"):
        ThinkAnswerFormat(think="answer")
    with pytest.raises(TypeError, match="penalty must be a number, got True"):
        ThinkAnswerFormat(penalty=True)
    with pytest.raises(ValueError, match="reward must be finite"):
        ThinkAnswerFormat(reward=float("inf"))


DAPO = [(0, 0.0), (15, 0.0), (16, 0.0), (17, -0.25), (18, -0.5), (19, -0.75), (20, -1.0)]


def test_soft_overlong_is_dapos_formula():
    lengths = [n for n, _ in DAPO] + [21, 500]
    rewards = SoftOverlong(l_max=20, l_cache=4)([None] * len(lengths), lengths=lengths)
    assert rewards == [r for _, r in DAPO] + [-1.0, -1.0]
    hard = SoftOverlong(l_max=20, l_cache=0)([None] * 3, lengths=[19, 20, 21])
    assert hard == [0.0, 0.0, -1.0]
    whole = SoftOverlong(l_max=4, l_cache=4)([None] * 3, lengths=[0, 1, 4])  # from the start
    assert whole == [0.0, -0.25, -1.0]


def test_soft_overlong_counts_tokens_where_known_else_characters():
    texts, tokens = ["x" * 17, "x" * 9], [9, 17]
    auto = SoftOverlong(l_max=20, l_cache=4)
    assert auto([None] * 2, texts=texts) == [-0.25, 0.0]  # characters
    assert auto([None] * 2, texts=texts, lengths=tokens) == [0.0, -0.25]  # tokens
    chars = SoftOverlong(l_max=20, l_cache=4, unit="characters")
    assert chars([None] * 2, texts=texts, lengths=tokens) == [-0.25, 0.0]
    with pytest.raises(ValueError, match="counts tokens .* carries no token lengths"):
        SoftOverlong(l_max=20, l_cache=4, unit="tokens")([None] * 2, texts=texts)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"l_max": 10, "l_cache": 11}, "0 <= l_cache <= l_max"),
        ({"l_max": 0, "l_cache": 0}, "l_max >= 1"),
        ({"l_max": 10.0, "l_cache": 2}, "l_max must be an integer length, got 10.0"),
        ({"l_max": 10, "l_cache": 2, "unit": "words"}, "unit must be one of auto, tokens"),
    ],
)
def test_soft_overlong_refuses_bad_parameters(kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        SoftOverlong(**kwargs)


def test_a_batch_without_texts_is_refused_by_name():
    batch = Batch.from_verdicts(["specific", "generic"])
    for rule in (ThinkAnswerFormat(), SoftOverlong(l_max=8, l_cache=2)):
        with pytest.raises(ValueError, match=f"rule {rule.name!r} reads the completions' text"):
            rule.compute(batch)


def test_batch_texts_and_lengths_are_optional_and_checked():
    plain = Batch(rk.SPECIARL, np.array([4, 2]), np.array([True, True]), 2)
    assert (plain.texts, plain.lengths) == (None, None)
    batch = Batch.from_verdicts(["specific", None], texts=["a", "b"], lengths=[3, 0])
    assert batch.texts == ("a", "b") and batch.lengths.tolist() == [3, 0]
    with pytest.raises(ValueError, match="1 texts for 2 completions"):
        Batch.from_verdicts(["specific", None], texts=["a"])
    with pytest.raises(TypeError, match="texts must be strings, got NoneType"):
        Batch.from_verdicts(["specific", None], texts=["a", None])
    with pytest.raises(TypeError, match="lengths must be integers"):
        Batch.from_verdicts(["specific", None], lengths=[1.5, 2])
    with pytest.raises(ValueError, match="lengths must be >= 0, got -1"):
        Batch.from_verdicts(["specific", None], lengths=[1, -1])


COMPLETIONS = [
    "<think>white, fluffy</think><answer>samoyed</answer>",  # 52 characters
    "<answer>spitz</answer>",  # 22
    "<think>hm</think><answer>dog</answer>",  # 37
    "<think>no idea",  # 14
]


def test_composed_with_a_ladder_rule_through_the_pipeline():
    rule = rk.SpeciaRL() + 0.5 * ThinkAnswerFormat() + SoftOverlong(l_max=50, l_cache=16)
    reward = rk.LadderReward("taxonomy", rule, taxonomy=str(ANIMALS))
    judged = reward.judge_completions(COMPLETIONS, ["samoyed"] * 4)
    parts = reward.reward_parts(judged, 4)
    assert parts["speciarl"].tolist() == [1.0, 0.0, 0.0, -1.0]
    assert parts["think_answer_format"].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert parts["soft_overlong"].tolist() == [-1.0, 0.0, -0.1875, 0.0]  # characters
    assert reward.rewards(judged, 4).tolist() == [0.5, -0.5, 0.3125, -1.5]
    tokens = reward.judge_completions(COMPLETIONS, ["samoyed"] * 4, lengths=[12, 6, 40, 4])
    assert reward.rewards(tokens, 4).tolist() == [1.5, -0.5, 0.125, -1.5]
    metrics = reward.metrics(tokens, reward.rewards(tokens, 4), 4)
    assert metrics["part/soft_overlong"] == -0.09375
    assert metrics["part/think_answer_format"] == 0.0
    with pytest.raises(ValueError, match="3 lengths for 4 completions"):
        reward.judge_completions(COMPLETIONS, ["samoyed"] * 4, lengths=[1, 2, 3])


def test_chat_completions_are_read_as_their_text():
    chat = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]
    reward = rk.LadderReward("taxonomy", ThinkAnswerFormat(), taxonomy=str(ANIMALS))
    assert reward(chat, ["samoyed"] * 4) == [1.0, -1.0, 1.0, -1.0]


def test_group_normalised_shaping_terms():
    rule = rk.GroupNormalised([(rk.Correct(), 1.0), (ThinkAnswerFormat(), 1.0)])
    batch = Batch.from_verdicts(
        ["specific", "wrong", "generic", "wrong"], group_size=4, texts=COMPLETIONS
    )
    parts = rule.parts(batch)
    assert parts["think_answer_format/norm"].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert parts["correct/norm"].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert rule.compute(batch).tolist() == [2.0, -2.0, 2.0, -2.0]


def test_registered_by_name_and_rebuilt_from_a_spec():
    assert get_rule("think_answer_format")([None], texts=[COMPLETIONS[0]]) == [1.0]
    rule = get_rule("soft_overlong", l_max=50, l_cache=16)
    assert repr(rule) == "SoftOverlong(l_max=50, l_cache=16, unit='auto')"
    reward = rk.LadderReward(
        "taxonomy",
        "soft_overlong",
        rule_options={"l_max": 50, "l_cache": 16},
        taxonomy=str(ANIMALS),
    )
    again = rk.LadderReward.from_spec(rk.RewardSpec.from_json(reward.to_spec().to_json()))
    assert again(COMPLETIONS, ["samoyed"] * 4) == [-1.0, 0.0, -0.1875, 0.0]


def test_the_trl_adapter_passes_token_lengths():
    from rewardkit.adapters.trl import TRLReward

    rule = SoftOverlong(l_max=50, l_cache=20, unit="tokens")
    reward = TRLReward(rk.LadderReward("taxonomy", rule, taxonomy=str(ANIMALS)), num_generations=4)
    ids = [[1] * 12, [1] * 6, [1] * 40, [1] * 4]
    got = reward(["p"] * 4, COMPLETIONS, label=["samoyed"] * 4, completion_ids=ids)
    assert got == [0.0, 0.0, -0.5, 0.0]


def test_trl_groups_split_across_processes_carry_texts_and_lengths(monkeypatch):
    from rewardkit.adapters import trl

    rule = ThinkAnswerFormat() + SoftOverlong(l_max=50, l_cache=16, unit="tokens")
    inner = rk.LadderReward("taxonomy", rule, taxonomy=str(ANIMALS))
    reward = trl.TRLReward(inner, num_generations=4)
    other = inner.judge_completions(COMPLETIONS[2:] * 3, ["samoyed"] * 6, lengths=[40, 4] * 3)
    # Rank 0 of 2 holds 6 completions: its second group ends on rank 1, whose 6 come after.
    sent = []

    def gather(local, world):
        sent.append(local)
        return [local, (other.codes, other.found, local[2], other.texts, other.lengths)]

    monkeypatch.setattr(trl, "_world", lambda: (0, 2))
    monkeypatch.setattr(trl, "_all_gather", gather)
    texts, lengths = COMPLETIONS + COMPLETIONS[:2], [12, 6, 40, 4, 12, 6]
    ids = [[0] * n for n in lengths]
    got = reward(["p"] * 6, texts, label=["samoyed"] * 6, completion_ids=ids)
    assert got == [1.0, -1.0, 0.625, -1.0, 1.0, -1.0]
    assert sent[0][3] == tuple(texts) and sent[0][4].tolist() == lengths


def test_a_sum_splits_into_its_verdict_terms_and_the_terms_each_completion_earns_alone():
    from rewardkit.shaping import reads_completions, split_per_sample

    rule = rk.SpeciaRL() + 0.5 * rk.ThinkAnswerFormat() + rk.SoftOverlong(l_max=8, l_cache=4)
    group, own = split_per_sample(rule)
    assert [(r.name, w) for r, w in group.terms] == [("speciarl", 1.0)]
    assert [(r.name, w) for r, w in own.terms] == [
        ("think_answer_format", 0.5),
        ("soft_overlong", 1.0),
    ]
    plain = rk.SpeciaRL() + 0.5 * rk.Exact()
    assert split_per_sample(plain) == (plain, None)
    assert not reads_completions(plain) and reads_completions(rule)
    for unsplittable in (
        rk.GroupNormalised([(rk.SpeciaRL(), 1.0), (rk.ThinkAnswerFormat(), 0.5)]),
        rk.ThinkAnswerFormat(),  # nothing of it is read from verdicts
    ):
        with pytest.raises(ValueError, match="reads the completions' text within a group"):
            split_per_sample(unsplittable)
