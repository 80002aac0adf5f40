"""An in-process vLLM judge: one ``LLM.chat`` call over the whole batch, output constrained
to the ladder's labels. Needs ``rewardkit-rl[vllm]`` and a GPU.

vLLM could not be installed where rewardkit is developed (its wheel needs a CUDA build of
torch), so this module is kept thin and was **not run against vLLM**. What it does without
vLLM - rendering the prompts, choosing the constraint class, reading the replies back onto the
ladder - is tested with a stand-in ``llm`` object; the two vLLM calls are
``StructuredOutputsParams(choice=...)`` (recent releases) with a ``GuidedDecodingParams``
fallback (older ones), and ``LLM.chat(conversations, sampling_params)``, whose outputs come back
in input order.
"""

from __future__ import annotations

from typing import Any

from ..extras import require
from ..ladders import SPECIARL, Ladder
from .base import Judgement
from .prompt import PromptTemplate
from .prompted import PromptedJudge

__all__ = ["VLLMJudge", "sampling_params"]


def sampling_params(ladder: Ladder, max_tokens: int = 16, choices: list[str] | None = None) -> Any:
    """Greedy sampling constrained to the ladder's labels (or ``choices``), for whichever vLLM
    is installed."""
    choices = choices or ladder.choices
    from vllm import SamplingParams

    try:  # vLLM >= 0.10
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(
            temperature=0.0,
            max_tokens=max_tokens,
            structured_outputs=StructuredOutputsParams(choice=choices),
        )
    except ImportError:  # older releases
        from vllm.sampling_params import GuidedDecodingParams

        return SamplingParams(
            temperature=0.0,
            max_tokens=max_tokens,
            guided_decoding=GuidedDecodingParams(choice=choices),
        )


class VLLMJudge(PromptedJudge):
    """``llm`` is a ``vllm.LLM`` (or a model name to build one with ``llm_options``). The
    prediction reaches the model as written (``prompt`` as for
    :class:`~rewardkit.judges.llm.LLMJudge`); a reply the ladder cannot read is a missing
    verdict, counted in ``off_ladder``."""

    def __init__(
        self,
        llm: Any,
        *,
        ladder: Ladder = SPECIARL,
        params: Any = None,
        prompt: PromptTemplate | str | None = None,
        reply_chars: int = 1000,
        **llm_options: Any,
    ) -> None:
        super().__init__(ladder, prompt)
        if isinstance(llm, str):
            require("vllm", what="the vllm judge")
            from vllm import LLM

            llm = LLM(model=llm, **llm_options)
        self.llm = llm
        if params is None:
            params = sampling_params(self.ladder, choices=self.choices)
        self.params = params
        self.name = "vllm"
        self.off_ladder = 0
        self.reply_chars = reply_chars

    def judge_admitted(self, pairs: list[tuple[str, ...]]) -> list[Judgement]:
        conversations = [self.messages(pair) for pair in pairs]
        outputs = self.llm.chat(conversations, self.params, use_tqdm=False)
        records = [self.judgement(out.outputs[0].text) for out in outputs]
        self.off_ladder += sum(r.verdict is None for r in records)
        return records
