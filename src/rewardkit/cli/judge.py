"""``rewardkit judge``: add a ``verdict`` to rows with ``label`` and ``prediction``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import CLIError, OptionError
from ..urls import redact_url
from .args import judge_arguments, judge_options, load_spec, spellings
from .command import Command, example
from .io import dump, field, ignored, io_arguments, read_input
from .progress import wanted
from .rows import DEFAULT_LADDER, LADDER_FIELD

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--completion-field",
        help="judge raw completions in this field (the answer is extracted) instead of "
        "'prediction'",
    )
    p.add_argument(
        "--tag",
        help="answer tag with --completion-field (default answer; '' none)",
    )
    p.add_argument(
        "--explain", action="store_true", help="add judge_reply and judge_error to each row"
    )
    p.add_argument(
        "--verdict-field",
        default="verdict",
        metavar="NAME",
        help="the field the verdict goes in (default verdict; another name keeps a second "
        "judge's verdicts beside the first, for rewardkit agree)",
    )
    p.add_argument("--spec", help="a reward_spec.json (from a training run): its judge and options")
    io_arguments(p)
    judge_arguments(p, old_timeout=True)  # after the command's own flags


def build_judge(args: argparse.Namespace) -> Any:
    """The judge the flags (or ``--spec``) name."""
    from ..errors import CacheError
    from ..plugins import get_judge

    name = args.judge
    try:
        if args.spec:
            spec = load_spec(args.spec)
            name = spec.judge
            return get_judge(name, **spec.judge_kwargs())
        return get_judge(name, **judge_options(args))
    except CacheError as e:
        raise CLIError(str(e)) from None
    except OptionError as e:  # an option missing, one it does not take, a wrong value
        raise unbuildable(e, args, name, "--judge-option") from None


def unbuildable(error: Exception, args: argparse.Namespace, judge: str, flag: str) -> CLIError:
    """The error for judge ``judge`` its options refused; where it misses an option it
    declares, what to pass, as this command line takes it (its own flag, else ``flag``:
    ``--judge-option`` or ``--option-a``).

    >>> args = argparse.Namespace(judge_flags_added=("--taxonomy",))
    >>> error = OptionError("judge 'taxonomy' needs option 'taxonomy' (a file)", missing="taxonomy")
    >>> str(unbuildable(error, args, "taxonomy", "--judge-option"))
    "judge 'taxonomy' needs option 'taxonomy' (a file); pass --taxonomy VALUE"
    >>> str(unbuildable(error, argparse.Namespace(), "taxonomy", "--option-a"))
    "judge 'taxonomy' needs option 'taxonomy' (a file); pass --option-a taxonomy=VALUE"
    """
    from ..plugins import judge_options as declared

    text, missing = str(error), getattr(error, "missing", None)
    options = declared(judge) if isinstance(missing, str) else None
    if not isinstance(missing, str) or options is None or missing not in options:
        return CLIError(text)  # not this judge's (a judge it builds)
    shown = spellings(args, "judge", options, flag)[missing]
    if shown in text:  # the message says it already
        return CLIError(text)
    if "=" not in shown and options[missing].types != (bool,):
        shown += " VALUE"
    return CLIError(f"{text}; pass {shown}")


def _pairs(args, judge, rows, name) -> tuple[list[tuple], list[str | None]]:
    from ..answers import extract_answer

    pairs: list[tuple] = []
    predictions: list[str | None] = []
    for row in rows:
        label = field(row, "label", name, (str,), "a string")
        if args.completion_field:
            completion = field(row, args.completion_field, name, (str, list), "a completion")
            try:
                tag = "answer" if args.tag is None else args.tag or None
                answer = extract_answer(completion, tag=tag)
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
    if args.tag is not None and not args.completion_field:
        ignored("--tag", "it reads the answer out of --completion-field, not given", "judge")
    judge = build_judge(args)
    pairs, predictions = _pairs(args, judge, rows, name)
    try:
        if hasattr(judge, "check_labels"):
            for row, pair in zip(rows, pairs):
                try:
                    judge.check_labels([pair[0]])
                except UnknownLabelError as e:
                    raise CLIError(f"{name}, line {row[0]}: {e}") from None
        records = judge_with_progress(judge, pairs, wanted(args), "rewardkit judge")
    except (TaxonomyError, TypeError, JudgeError, CacheError) as e:
        _aborted(judge)
        raise CLIError(str(e)) from None
    print(f"rewardkit judge: {summary(judge, predictions, records)}", file=sys.stderr)
    ladder = getattr(getattr(judge, "ladder", None), "name", DEFAULT_LADDER)
    for (_, obj), prediction, record in zip(rows, predictions, records):
        out = dict(obj)
        out[args.verdict_field] = record.verdict
        if ladder != DEFAULT_LADDER:  # reward, score and agree read it: no --ladder again
            out[LADDER_FIELD] = ladder
        if args.completion_field:
            out["prediction"] = prediction
            out["answer_found"] = prediction is not None
        elif prediction is None:
            out.setdefault("answer_found", False)
        if args.explain:
            out["judge_reply"] = record.reply
            out["judge_error"] = record.error
        yield dump(out)


_CHUNK = 256  # distinct pairs per batch while a progress bar is shown


def judge_with_progress(judge: Any, pairs: list, show: bool, prefix: str) -> list:
    """The judge's records for ``pairs``; with ``show`` and more than one chunk of distinct
    pairs, judged a chunk at a time under a progress bar (each distinct pair once)."""
    distinct = list(dict.fromkeys(pairs))
    if not show or len(distinct) <= _CHUNK:
        return judge.judge_records(pairs)
    from .progress import Progress

    records: dict = {}
    with Progress(len(distinct), prefix, "distinct pairs") as bar:
        for start in range(0, len(distinct), _CHUNK):
            chunk = distinct[start : start + _CHUNK]
            records.update(zip(chunk, judge.judge_records(chunk)))
            bar.update(len(chunk))
    return [records[pair] for pair in pairs]


def summary(judge: Any, predictions: list, records: list) -> str:
    """What happened to the rows, in counts that add up - rows = without an answer + judged,
    judged = with a verdict + without one - then the judge's calls and failures by cause."""
    rows = len(predictions)
    no_answer = sum(p is None for p in predictions)
    judged = rows - no_answer
    verdicts = sum(r.verdict is not None for p, r in zip(predictions, records) if p is not None)
    text = (
        f"{rows} rows: {no_answer} without an answer, {judged} judged "
        f"({verdicts} with a verdict, {judged - verdicts} without)"
    )
    return ", ".join([text, *_call_counts(judge, always=True)])


def _call_counts(judge: Any, always: bool) -> list[str]:
    """The judge's calls, cache hits, retries, tokens and failures by cause (zero counts only
    when ``always``), then calls per server when there are several."""
    s = judge.stats
    parts = []
    for key in ("calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
        if hasattr(s, key) and (always or getattr(s, key)):
            parts.append(f"{getattr(s, key)} {key.replace('_', ' ')}")
    errors = getattr(s, "errors", None)
    if errors is not None and (always or errors):
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
    return parts


def _aborted(judge: Any) -> None:
    """Before the error of a run the judge stopped: what it had done, if anything failed
    (no row counts - no row got a verdict)."""
    if getattr(judge.stats, "failures", 0):
        parts = _call_counts(judge, always=False)
        print(f"rewardkit judge: stopped after {', '.join(parts)}", file=sys.stderr)


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
