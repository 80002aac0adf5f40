"""``rewardkit judge``: add a ``verdict`` to rows with ``label`` and ``prediction``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import CLIError
from ..urls import redact_url
from .args import judge_arguments, judge_options, load_spec
from .command import Command, example
from .io import dump, field, io_arguments, read_input

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    judge_arguments(p)
    p.add_argument(
        "--completion-field",
        help="judge raw completions in this field (the answer is extracted) instead of "
        "'prediction'",
    )
    p.add_argument(
        "--tag",
        default="answer",
        help="answer tag with --completion-field (default answer; '' none)",
    )
    p.add_argument(
        "--explain", action="store_true", help="add judge_reply and judge_error to each row"
    )
    p.add_argument("--spec", help="a reward_spec.json (from a training run): its judge and options")
    io_arguments(p)


def build_judge(args: argparse.Namespace) -> Any:
    """The judge the flags (or ``--spec``) name."""
    from ..errors import CacheError
    from ..plugins import get_judge

    try:
        if args.spec:
            spec = load_spec(args.spec)
            return get_judge(spec.judge, **spec.judge_kwargs())
        return get_judge(args.judge, **judge_options(args))
    except CacheError as e:
        raise CLIError(str(e)) from None
    except TypeError as e:  # an option the judge does not take
        raise CLIError(f"judge {args.judge!r}: {e}") from None


def _pairs(args, judge, rows, name) -> tuple[list[tuple], list[str | None]]:
    from ..answers import extract_answer

    pairs: list[tuple] = []
    predictions: list[str | None] = []
    for row in rows:
        label = field(row, "label", name, (str,), "a string")
        if args.completion_field:
            completion = field(row, args.completion_field, name, (str, list), "a completion")
            try:
                answer = extract_answer(completion, tag=args.tag or None)
            except TypeError as e:
                raise CLIError(f"{name}, line {row[0]}: {e}") from None
            prediction = answer.text if answer.found and answer.text else None
        else:
            prediction = field(row, "prediction", name, (str, type(None)), "a string or null")
        predictions.append(prediction)
        if judge.uses_question:
            question = field(row, "question", name, (str,), "a string (the prompt uses it)")
            pairs.append((label, prediction, question))
        else:
            pairs.append((label, prediction))
    return pairs, predictions


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..errors import CacheError, JudgeError, TaxonomyError, UnknownLabelError

    rows, name = read_input(args)
    judge = build_judge(args)
    pairs, predictions = _pairs(args, judge, rows, name)
    try:
        if hasattr(judge, "check_labels"):
            for row, pair in zip(rows, pairs):
                try:
                    judge.check_labels([pair[0]])
                except UnknownLabelError as e:
                    raise CLIError(f"{name}, line {row[0]}: {e}") from None
        records = _judge_with_progress(judge, pairs)
    except (TaxonomyError, TypeError, JudgeError, CacheError) as e:
        _summary(judge, len(pairs))
        raise CLIError(str(e)) from None
    _summary(judge, len(pairs))
    for (_, obj), prediction, record in zip(rows, predictions, records):
        out = dict(obj, verdict=record.verdict)
        if args.completion_field:
            out["prediction"] = prediction
            out["answer_found"] = prediction is not None
        elif prediction is None:
            out.setdefault("answer_found", False)
        if args.explain:
            out["judge_reply"] = record.reply
            out["judge_error"] = record.error
        yield dump(out)


def _judge_with_progress(judge, pairs: list) -> list:
    """Judge in chunks with a progress bar when stderr is a terminal and the input is long."""
    chunk = 512
    if len(pairs) <= chunk or not sys.stderr.isatty():
        return judge.judge_records(pairs)
    try:
        from tqdm import tqdm
    except ImportError:
        return judge.judge_records(pairs)
    out: list = []
    with tqdm(total=len(pairs), desc="judging", unit="pair", file=sys.stderr) as bar:
        for start in range(0, len(pairs), chunk):
            out += judge.judge_records(pairs[start : start + chunk])
            bar.update(min(chunk, len(pairs) - start))
    return out


def _summary(judge, n: int) -> None:
    """Calls, cache hits, retries and failures by cause, to stderr (never to the output)."""
    s = judge.stats
    parts = [f"{n} rows", f"{s.unique} judged"]
    for key in ("calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
        if hasattr(s, key):
            parts.append(f"{getattr(s, key)} {key.replace('_', ' ')}")
    parts.append(f"{s.missing} without verdict")
    errors = getattr(s, "errors", None)
    if errors is not None:
        causes = ", ".join(f"{k} {v}" for k, v in sorted(errors.items(), key=lambda x: -x[1]))
        parts.append(f"{getattr(s, 'failures', 0)} failures" + (f" ({causes})" if causes else ""))
    servers = getattr(getattr(judge, "transport", None), "endpoint_stats", None) or {}
    if len(servers) > 1:
        parts.append(
            "per server: "
            + "; ".join(
                f"{redact_url(url)} {e.calls} calls, {e.failures} failed"
                for url, e in servers.items()
            )
        )
    print(f"rewardkit judge: {', '.join(parts)}", file=sys.stderr)


COMMAND = Command(
    "judge",
    "add a 'verdict' to rows with 'label' and 'prediction'",
    add_arguments,
    run,
    epilog=example(
        "rewardkit judge --taxonomy tax.json -i rollouts.jsonl -o judged.jsonl\n"
        "  rewardkit judge --judge openai --model M --api-base http://127.0.0.1:8000/v1 "
        "--explain < rows.jsonl"
    ),
)
