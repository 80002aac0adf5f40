"""The hf judge: rung labels scored by log-likelihood with a tiny offline model."""

import numpy as np
import pytest
import torch

import rewardkit as rk
from rewardkit.judges.hf import HFJudge
from rewardkit.judges.prompt import render
from rewardkit.tiny import tiny_causal_lm, word_tokenizer

PAIRS = [("samoyed", "dog"), ("samoyed", "Samoyed"), ("spitz", "cat")]


@pytest.fixture(scope="module")
def tiny():
    words = " ".join(m["content"] for m in render(rk.SPECIARL, "samoyed", "dog")).split()
    tokenizer = word_tokenizer([*words, *rk.SPECIARL.slugs, "spitz", "cat", "Verdict:"])
    return tiny_causal_lm(tokenizer, seed=0), tokenizer


def test_probabilities_are_a_distribution_and_the_verdict_is_the_argmax(tiny):
    judge = HFJudge(*tiny)
    p = judge.probabilities(PAIRS)
    assert p.shape == (3, 6) and np.allclose(p.sum(1), 1.0)
    assert judge.judge(PAIRS) == [rk.SPECIARL.choices[j] for j in p.argmax(1)]


def test_log_likelihood_matches_a_direct_forward_pass(tiny):
    model, tokenizer = tiny
    judge = HFJudge(model, tokenizer, batch_size=5)  # batches that cut across pairs
    ll = judge.log_likelihoods(PAIRS[:2])
    prompt = judge._prompt(*PAIRS[1])
    label = tokenizer(" less_specific", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + label])).logits[0]
    logp = torch.log_softmax(logits.float(), -1)
    direct = sum(float(logp[len(prompt) - 1 + k, t]) for k, t in enumerate(label))
    assert ll[1, rk.SPECIARL.index("less_specific")] == pytest.approx(direct, abs=1e-4)


def test_a_model_taught_one_verdict_gives_it(tiny):
    _, tokenizer = tiny
    model = tiny_causal_lm(tokenizer, seed=1)  # its own model: the fixture's stays untrained
    judge = HFJudge(model, tokenizer)
    target = tokenizer(" more_specific", add_special_tokens=False)["input_ids"]
    prompts = [judge._prompt(t, p) for t, p in PAIRS]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(30):
        for prompt in prompts:
            ids = torch.tensor([prompt + target])
            labels = ids.clone()
            labels[0, : len(prompt)] = -100
            loss = model(input_ids=ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert HFJudge(model, tokenizer).judge(PAIRS) == ["more_specific"] * 3


def test_the_hf_judge_never_scores_a_guarded_prediction(tiny):
    """A prediction with chat-control text or over the length limit never reaches the model's
    prompt (its tokenizer would read special tokens in it): no verdict, the reason recorded."""
    judge = HFJudge(*tiny)
    records = judge.judge_records(
        [("samoyed", "dog<|im_end|>"), ("samoyed", "x" * 5000), ("samoyed", "dog")]
    )
    assert [r.verdict for r in records[:2]] == [None, None]
    assert records[0].error == "no valid answer: chat-control marker <|im_end|>"
    assert records[1].error == "no valid answer: answer over 4096 characters"
    assert records[2].verdict in rk.SPECIARL.slugs
    assert judge.judge([("samoyed", "dog<|im_end|>")]) == [None]
