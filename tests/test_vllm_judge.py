"""The in-process vLLM judge without vLLM: prompts, batching and reading replies back.

vLLM cannot be installed here; a stand-in ``llm`` with vLLM's ``chat`` signature answers from a
taxonomy judge, so what rewardkit does around the two vLLM calls is exercised for real.
"""

from types import SimpleNamespace

import pytest

import rewardkit as rk
from rewardkit.judges.vllm_judge import VLLMJudge, sampling_params

from .conftest import ANIMALS
from .judge_server import pair_of


class StandIn:
    def __init__(self, broken=()):
        self.taxonomy, self.calls, self.broken = rk.TaxonomyJudge(ANIMALS), [], set(broken)

    def chat(self, conversations, params, use_tqdm=True):
        self.calls.append((conversations, params))
        out = []
        for messages in conversations:
            truth, prediction = pair_of(messages)
            text = "hmm" if prediction in self.broken else self.taxonomy.verdict(truth, prediction)
            out.append(SimpleNamespace(outputs=[SimpleNamespace(text=text)]))
        return out


def test_one_chat_call_per_batch_with_verdicts_in_order():
    llm = StandIn()
    judge = VLLMJudge(llm, params="PARAMS")
    pairs = [("samoyed", "Dog"), ("samoyed", "spitz"), ("samoyed", "dog"), ("spitz", "samoyed")]
    assert judge.judge(pairs) == ["generic", "less_specific", "generic", "more_specific"]
    assert len(llm.calls) == 1
    conversations, params = llm.calls[0]
    assert params == "PARAMS" and len(conversations) == 3  # "Dog" and "dog" judged once
    assert conversations[0][0]["role"] == "system"


def test_off_ladder_reply_is_a_missing_verdict():
    judge = VLLMJudge(StandIn(broken={"cat"}), params="P")
    assert judge.judge([("samoyed", "cat"), ("samoyed", "dog")]) == [None, "generic"]
    assert judge.off_ladder == 1


def test_sampling_params_need_vllm():
    with pytest.raises(ImportError):
        sampling_params(rk.SPECIARL)
