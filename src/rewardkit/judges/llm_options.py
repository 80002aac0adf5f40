"""The options every model judge shares, declared once.

A judge registered with ``options=Options(MODEL, CALL, Option(...))`` gets these flags on the
command line (``--model``, ``--call-timeout``, ``--cache`` ...), its options checked, and its
entry in ``rewardkit plugins``; a new transport handed to
:class:`~rewardkit.judges.llm.LLMJudge` composes :data:`CALL` instead of listing them again.

>>> "timeout" in CALL and CALL["timeout"].cli_flag
'--call-timeout'
"""

from __future__ import annotations

from ..options import Option, Options

__all__ = ["LADDER", "PROMPT", "MODEL", "CALL", "SAMPLING", "CONSTRAINTS"]

#: The ladder a model judge places verdicts on (a registered name).
LADDER = Option("ladder", str, "speciarl", "ladder of the verdicts (a registered name)")

#: The judge prompt: a prompt file or a registered prompt name.
PROMPT = Option(
    "prompt",
    str,
    None,
    "judge prompt: a prompt file (.json, .yaml, or text) or a prompt name",
    path="existing",
)

#: The judge model, which every model judge needs.
MODEL = Option("model", str, help="judge model")

#: How the reply is held to the ladder's labels (OpenAI-compatible servers and LiteLLM).
CONSTRAINTS = ("choice", "json_schema", "none")

#: The sampling settings of a chat call.
SAMPLING = Options(
    Option("temperature", float, 0.0, "sampling temperature of the judge", minimum=0),
    Option("max_tokens", int, 16, "tokens in the judge's reply", minimum=1),
    Option("extra_body", dict, None, "extra fields of each request (JSON)"),
)

#: The call policy of :class:`~rewardkit.judges.llm.LLMJudge`: concurrency, time-outs,
#: retries, failures, the verdict cache.
CALL = Options(
    LADDER,
    PROMPT,
    Option("concurrency", int, 64, "calls in flight per endpoint", minimum=1),
    Option("timeout", float, 60.0, "seconds per call", flag="call-timeout", minimum=0, above=True),
    Option("retries", int, 3, "retries per call", minimum=0),
    Option("backoff", float, 0.5, "first retry delay in seconds", minimum=0),
    Option("max_backoff", float, 20.0, "longest retry delay in seconds", minimum=0),
    Option(
        "on_failure",
        str,
        "missing",
        "a failed pair's verdict: missing, raise, or a rung slug",
    ),
    Option(
        "max_failure_rate",
        float,
        0.2,
        "share of failed calls that stops the run with an error ('none': no limit)",
        nullable=True,
        minimum=0,
        maximum=1,
    ),
    Option(
        "cache",
        str,
        None,
        "verdict cache: a sqlite file or a redis:// URL (off when not given)",
        path=True,
    ),
    Option("seed", int, None, "seed of the retry jitter"),
    Option("reply_chars", int, 1000, "characters of a reply kept for --explain", minimum=0),
    Option(
        "thinking",
        bool,
        None,
        "the judge model thinks in a <think> block first (default: the prompt's)",
        nullable=True,
    ),
)
