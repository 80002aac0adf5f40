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

from collections.abc import Sequence
from typing import Any

from ..extras import require
from ..ladders import SPECIARL, Ladder
from .base import Judge, Judgement, check_ladder, guarded
from .prompt import PromptTemplate, get_prompt

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


class VLLMJudge(Judge):
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
        super().__init__()
        ladder = check_ladder(ladder)
        if isinstance(llm, str):
            require("vllm", what="the vllm judge")
            from vllm import LLM

            llm = LLM(model=llm, **llm_options)
        self.llm, self.ladder = llm, ladder
        self.prompt = get_prompt(prompt)
        choices = self.prompt.choices(ladder)
        self.params = params if params is not None else sampling_params(ladder, choices=choices)
        self.uses_question = self.prompt.uses_question
        self.name = "vllm"
        self.off_ladder = 0
        self.reply_chars = reply_chars

    def key(self, ground_truth: str, prediction: str, *question: str):
        canonical = self.ladder.canonical
        return (canonical(ground_truth), canonical(prediction), *question)

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        """Verdicts of the pairs the ladder's answer guard admits; the rest are never sent."""
        return guarded(self.ladder, pairs, self._chat)

    def _chat(self, pairs: list[tuple[str, ...]]) -> list[Judgement]:
        conversations = [self.prompt.render(self.ladder, *pair) for pair in pairs]
        outputs = self.llm.chat(conversations, self.params, use_tqdm=False)
        records = []
        for out in outputs:
            text = out.outputs[0].text
            reading = self.ladder.reading(text, thinking=self.prompt.thinking)
            verdict = reading.verdict
            error = None if verdict is not None else f"off ladder ({reading.why}): {text[:80]!r}"
            records.append(Judgement(verdict, text[: self.reply_chars], error))
        self.off_ladder += sum(r.verdict is None for r in records)
        return records

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in self.judge_unique_records(pairs)]
