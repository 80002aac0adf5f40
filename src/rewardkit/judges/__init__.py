"""Judges place (ground truth, prediction) pairs on a ladder.

``TaxonomyJudge`` (rule-based, offline), ``LLMJudge`` with the ``openai_compat`` and
``litellm_judge`` transports, ``HFJudge`` (local transformers), ``MajorityJudge`` and
``NoisyJudge``. The LLM judges load (with asyncio) on first use.
"""

from .base import Judge, JudgeStats, Pair
from .ensemble import MajorityJudge, NoisyJudge
from .taxonomy import TaxonomyJudge

__all__ = [
    "Judge",
    "JudgeStats",
    "Pair",
    "TaxonomyJudge",
    "LLMJudge",
    "JudgeError",
    "MajorityJudge",
    "NoisyJudge",
]


def __getattr__(name: str):
    if name in ("LLMJudge", "JudgeError"):
        from . import llm

        return getattr(llm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
