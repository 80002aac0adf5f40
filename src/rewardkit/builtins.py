"""rewardkit's own ladders, judges and rules, registered as an ordinary plugin."""

from __future__ import annotations

from . import rules, shaping
from .hookspecs import hookimpl
from .judges.llm_options import CALL, CONSTRAINTS, LADDER, MODEL, PROMPT, SAMPLING
from .ladders import BINARY, SPECIARL
from .options import Option, declares
from .verifiers.code import CODE
from .verifiers.math import MATH


@hookimpl
def register_ladders(register):
    register(SPECIARL)
    register(BINARY)
    register(MATH)
    register(CODE)


# Each factory declares its options (rewardkit.options): the flags of `rewardkit judge`, the
# checks of a spec's options and the list `rewardkit plugins` prints all come from them.
_MODEL_FILE = Option("model", str, help="judge model: a path or hub id")


@declares(Option("taxonomy", str, help="taxonomy file (.json, .yaml)", path=True))
def _taxonomy_judge(**options):
    from .judges.taxonomy import TaxonomyJudge

    return TaxonomyJudge(**options)


@declares(
    MODEL,
    Option(
        "api_base",
        (str, list),
        help="server URL, e.g. http://127.0.0.1:8000/v1 (replicas: URLs separated by commas)",
    ),
    Option("constraint", str, "choice", "how the reply is held to the labels", choices=CONSTRAINTS),
    Option(
        "api_key_env",
        str,
        "OPENAI_API_KEY",
        "environment variable holding the API key ('null': none)",
        nullable=True,
    ),
    SAMPLING,
    CALL,
)
def _openai_judge(*, model, api_base, **options):
    from .judges.openai_compat import openai_judge

    return openai_judge(model, api_base, **options)


@declares(
    MODEL,
    Option("api_base", str, None, "server URL (default: the provider's)"),
    Option(
        "constraint",
        str,
        None,
        "how the reply is held to the labels (default: choice for hosted_vllm/ models, "
        "json_schema otherwise)",
        choices=CONSTRAINTS,
    ),
    Option("mock_response", str, None, "a canned reply instead of a call (tests)", flag=""),
    SAMPLING,
    CALL,
)
def _litellm_judge(*, model, **options):
    from .judges.litellm_judge import litellm_judge

    return litellm_judge(model, **options)


@declares(
    _MODEL_FILE,
    Option("tokenizer", str, None, "tokenizer path or hub id (default: the model's)"),
    LADDER,
    Option("batch_size", int, 32, "sequences per forward pass", minimum=1),
    Option("device", str, None, "torch device (default: cuda when available)"),
    PROMPT,
)
def _hf_judge(*, model, **options):
    from .judges.hf import HFJudge

    return HFJudge(model, **options)


@declares(
    Option("form", str, None, "the answer's expected form, or 'truth': the ground truth's"),
    Option("timeout", float, 5.0, "seconds per answer", flag="call-timeout", minimum=0, above=True),
    Option("workers", int, None, "worker processes (default: up to 4, one per CPU)", minimum=1),
    Option(
        "fallback",
        dict,
        None,
        'an LLM judge for the answers math-verify cannot read: {"judge": "openai", ...}',
    ),
)
def _math_judge(*, fallback=None, **options):
    from .verifiers.math import MathJudge

    if isinstance(fallback, dict):  # {"judge": NAME, ...options}, as --judge-option gives it
        from .plugins import get_judge

        spec = dict(fallback)
        name = spec.pop("judge", None)
        if not isinstance(name, str):
            raise TypeError(f'the fallback option needs "judge": a judge name, got {fallback!r}')
        fallback = get_judge(name, **{"ladder": MATH, **spec})
    return MathJudge(fallback=fallback, **options)


@declares(
    Option("sandbox", str, "bwrap", "how programs are isolated: bwrap, none, sandbox_fusion"),
    Option("sandbox_url", str, None, "a SandboxFusion service's URL (sandbox=sandbox_fusion)"),
    Option("workers", int, 4, "programs run at once", minimum=1),
    Option(
        "timeout", float, 5.0, "seconds per program", flag="call-timeout", minimum=0, above=True
    ),
    Option("limits", object, None, "a rewardkit.verifiers.code.Limits (Python only)"),
    Option("cache_size", int, 10_000, "verdicts kept in memory", minimum=0),
)
def _code_judge(**options):
    from .verifiers.code import CodeJudge

    return CodeJudge(**options)


@declares(
    _MODEL_FILE,
    LADDER,
    Option("params", object, None, "vllm SamplingParams (Python only)"),
    PROMPT,
    Option("reply_chars", int, 1000, "characters of a reply kept for --explain", minimum=0),
    extra="passed to vllm.LLM (gpu_memory_utilization, max_model_len, ...)",
)
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
