"""rewardkit's own ladders, judges and rules, registered as an ordinary plugin."""

from __future__ import annotations

from . import rules, shaping
from .hookspecs import hookimpl
from .ladders import BINARY, SPECIARL
from .verifiers.code import CODE
from .verifiers.math import MATH


@hookimpl
def register_ladders(register):
    register(SPECIARL)
    register(BINARY)
    register(MATH)
    register(CODE)


def _taxonomy_judge(**options):
    from .judges.taxonomy import TaxonomyJudge

    return TaxonomyJudge(**options)


def _openai_judge(*, model, api_base, **options):
    from .judges.openai_compat import openai_judge

    return openai_judge(model, api_base, **options)


def _litellm_judge(*, model, **options):
    from .judges.litellm_judge import litellm_judge

    return litellm_judge(model, **options)


def _hf_judge(*, model, **options):
    from .judges.hf import HFJudge

    return HFJudge(model, **options)


def _math_judge(**options):
    from .verifiers.math import MathJudge

    return MathJudge(**options)


def _code_judge(**options):
    from .verifiers.code import CodeJudge

    return CodeJudge(**options)


def _vllm_judge(*, model, **options):
    from .judges.vllm_judge import VLLMJudge

    return VLLMJudge(model, **options)


@hookimpl
def register_judges(register):
    register("taxonomy", _taxonomy_judge)
    register("openai", _openai_judge)
    register("litellm", _litellm_judge)
    register("hf", _hf_judge)
    register("vllm", _vllm_judge)
    register("math", _math_judge)
    register("code", _code_judge)


@hookimpl
def register_rewards(register):
    for rule in (rules.SpeciaRL, rules.Exact, rules.Correct, rules.Graded, rules.Format):
        register(rule.name, rule)
    for shaper in (shaping.ThinkAnswerFormat, shaping.SoftOverlong):
        register(shaper.name, shaper)


@hookimpl
def register_metrics(register):
    from .metrics import grpo_diagnostics

    register("grpo", grpo_diagnostics)


@hookimpl
def register_attacks(register):
    from .redteam.catalogue import FAMILIES

    for family in FAMILIES:
        register(family)
