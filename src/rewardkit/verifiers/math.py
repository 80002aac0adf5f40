"""The math ladder and its judge: final answers checked by ``math-verify``.

Rungs, worst first: ``no_final_answer`` (nothing parseable as a final answer) < ``wrong`` <
``right_value_wrong_form`` (the value is right but the task asked for another form - only
when the judge is given a ``form``) < ``correct``. ``math-verify`` (the ``math`` extra:
``pip install 'rewardkit-rl[math]'``) reads plain and LaTeX answers, ``\\boxed{}``, fractions,
decimals, sets and intervals.

Verification runs in worker processes (:class:`~rewardkit.verifiers.workers.WorkerPool`), with
``math-verify``'s own signal-based timeouts switched off: a check that does not finish within
``timeout`` seconds is killed and the pair is **unscored** with that reason - never a silent
``wrong`` - from any thread, process or Ray worker. A ground truth that cannot be parsed is
unscored too.

>>> judge = MathJudge(workers=1, form="truth")
>>> judge.judge([("1/2", "so \\\\boxed{1/2}"), ("1/2", "\\\\boxed{0.5}"), ("3", "4"), ("3", "?")])
['correct', 'right_value_wrong_form', 'wrong', 'no_final_answer']
>>> judge.judge_records([("(", "1")])[0].error
"unscored: the ground truth '(' cannot be parsed"
>>> judge.close()
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from ..extras import require
from ..judges.base import Judge, Judgement
from ..ladders import Ladder, Rung
from .fallback import Fallback, FallbackStats
from .workers import WorkerPool

__all__ = ["MATH", "FORMS", "MathJudge", "check", "final_text", "form_of", "require_math_verify"]

MATH = Ladder(
    "math_answer",
    [
        Rung("no_final_answer", "No final answer", 0.0, False, "no final answer can be read"),
        Rung("wrong", "Wrong", 0.0, False, "the final answer's value is not the ground truth's"),
        Rung(
            "right_value_wrong_form",
            "Right value, wrong form",
            1.0,
            True,
            "the value equals the ground truth but is not in the form the task asks for",
        ),
        Rung("correct", "Correct", 2.0, True, "the final answer equals the ground truth"),
    ],
    task="math problems with a checkable final answer",
)

#: The forms a task may ask for (``form=``), as :func:`form_of` names a parsed answer.
FORMS = ("integer", "fraction", "decimal", "set", "interval", "expression")


def require_math_verify() -> None:
    """A :class:`~rewardkit.errors.MissingExtra` (an ImportError) naming the extra when
    ``math-verify`` is not installed."""
    require("math_verify", "math", "the math judge")


_INTEGER = re.compile(r"[-+]?\d+")
_DECIMAL = re.compile(r"[-+]?\d*\.\d+")
_FRACTION = re.compile(r"[-+]?(\\[dt]?frac\s*\{.+\}\s*\{.+\}|\\[dt]?frac\d\d|\d+\s*/\s*\d+)")
_INTERVAL = re.compile(r"[(\[].*,.*[)\]](\s*\\cup\s*[(\[].*,.*[)\]])*")
_SET = re.compile(r"\\\{.*\\\}")


def final_text(text: str) -> str:
    """The final answer as written: the last ``\\boxed{...}`` content, else the whole text,
    without surrounding ``$`` and spaces.

    >>> final_text("so \\\\boxed{\\\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    """
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, i = 0, start + len("\\boxed")
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                text = text[i + 1 : j]
                break
    return text.strip().strip("$").strip()


def form_of(text: str) -> str:
    """The form an answer is written in, one of :data:`FORMS` (read from the text: ``math-verify``
    normalises ``0.5`` and ``\\frac12`` to the same value).

    >>> [form_of(t) for t in ["0.5", "1/2", "\\\\frac{1}{2}", "(0,1]", "\\\\{1\\\\}", "x"]]
    ['decimal', 'fraction', 'fraction', 'interval', 'set', 'expression']
    """
    text = final_text(text).replace("\\left", "").replace("\\right", "")
    for form, pattern in (
        ("integer", _INTEGER),
        ("decimal", _DECIMAL),
        ("fraction", _FRACTION),
        ("interval", _INTERVAL),
        ("set", _SET),
    ):
        if pattern.fullmatch(text):
            return form
    return "expression"


def _parse_truth(truth: str) -> list:
    from math_verify import parse

    # A ground truth is usually bare LaTeX ("\\{1,2\\}", "(0,1]"): read it as math first.
    strict = {"parsing_timeout": None, "fallback_mode": "no_fallback"}  # no string fallback
    return parse(f"${truth}$", **strict) or parse(truth, **strict)  # type: ignore[arg-type]


def check(truth: str, prediction: str, form: str | None = None) -> tuple[str | None, str]:
    """Place ``prediction`` against ``truth``: ``(verdict, detail)``; verdict ``None`` when the
    ground truth cannot be parsed. Runs in a worker (no timeout of its own). ``form`` is
    ``None`` (value only), ``"truth"`` (the ground truth's form) or one of :data:`FORMS`."""
    from math_verify import parse, verify

    gold = _parse_truth(truth)
    if not gold:
        return None, f"the ground truth {truth[:80]!r} cannot be parsed"
    answer = parse(prediction, parsing_timeout=None)  # type: ignore[arg-type]
    if not answer:
        return "no_final_answer", "no final answer found"
    shown = str(answer[-1])[:80]
    if not verify(gold, answer, timeout_seconds=None):
        return "wrong", f"answer {shown!r} is not {truth[:80]!r}"
    if form is None:
        return "correct", f"answer {shown!r}"
    wanted = form_of(truth) if form == "truth" else form
    got = form_of(prediction)
    if got != wanted:
        return "right_value_wrong_form", f"answer {shown!r} is a {got}, the task asks a {wanted}"
    return "correct", f"answer {shown!r} ({got})"


class MathJudge(Judge):
    """Judges (ground truth, prediction) pairs on :data:`MATH` with ``math-verify``.

    ``form``: ``None`` (the value is all that counts), ``"truth"`` (the answer must be in the
    ground truth's form) or one of :data:`FORMS`. ``timeout``: seconds of wall-clock time per
    pair, after which the check is killed and the pair unscored. ``workers``: verifier processes
    (default: up to 4, one per CPU). ``fallback``: an LLM judge on this ladder, asked about the
    answers math-verify cannot read (``no_final_answer``); its failures are unscored
    (:mod:`rewardkit.verifiers.fallback`). On the command line:
    ``fallback={"judge": "openai", "model": ..., "api_base": ...}``.
    """

    name = "math"
    ladder = MATH
    stats: FallbackStats

    def __init__(
        self,
        *,
        form: str | None = None,
        timeout: float = 5.0,
        workers: int | None = None,
        fallback: Judge | None = None,
    ) -> None:
        super().__init__()
        self.stats = FallbackStats()
        require_math_verify()
        if form is not None and form != "truth" and form not in FORMS:
            raise ValueError(
                f"form must be None, 'truth' or one of {', '.join(FORMS)}; got {form!r}"
            )
        self.form = form
        allowed = None if form else [s for s in MATH.slugs if s != "right_value_wrong_form"]
        self.fallback = None if fallback is None else Fallback(fallback, MATH, allowed)
        size = workers or max(1, min(4, os.cpu_count() or 1))
        self.pool = WorkerPool(
            "rewardkit.verifiers.math:check",
            workers=size,
            timeout=timeout,
            warm_up=("\\frac{1}{2}", "\\boxed{(0, 1]}", "truth"),  # sympy and the LaTeX parser
        )

    def __repr__(self) -> str:
        pool, more = self.pool, f", fallback={self.fallback.judge!r}" if self.fallback else ""
        return f"MathJudge(form={self.form!r}, timeout={pool.timeout:g}, workers={pool.size}{more})"

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in self.judge_unique_records(pairs)]

    async def ajudge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        import asyncio  # the records, with their reasons, from a worker thread

        return await asyncio.to_thread(self.judge_unique_records, pairs)

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        outcomes = self.pool.map([(truth, pred, self.form) for truth, pred, *_ in pairs])
        records = []
        for outcome in outcomes:
            if outcome.error is not None:
                records.append(Judgement(None, error=f"unscored: {outcome.error}"))
                continue
            verdict, detail = outcome.value
            if verdict is None:
                records.append(Judgement(None, error=f"unscored: {detail}"))
            else:
                records.append(Judgement(verdict, reply=detail))
        unread = [i for i, r in enumerate(records) if r.verdict == "no_final_answer"]
        if self.fallback is not None and unread:
            asked = self.fallback.records([pairs[i][:2] for i in unread], self.stats, len(pairs))
            for i, record in zip(unread, asked):
                records[i] = record
        return records

    def close(self) -> None:
        """Stop the verifier processes."""
        self.pool.close()
