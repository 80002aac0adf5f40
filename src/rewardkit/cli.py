"""The ``rewardkit`` command line: JSON Lines in and out (stdin/stdout by default).

    rewardkit judge --taxonomy tax.json < rows.jsonl        # adds "verdict"
    rewardkit judge --judge openai --model M --api-base URL --explain < rows.jsonl
    rewardkit reward --rule speciarl --group-size 10 < judged.jsonl   # adds "reward"
    rewardkit score < judged.jsonl                          # one JSON object of metrics
    rewardkit plugins                                       # the loaded plugins
    rewardkit serve --taxonomy tax.json -g 8                # rewards over HTTP
    rewardkit demo [--preset quick]                         # the SpeciaRL CPU demo

Bad input exits with status 2 and a message naming the line; output is written only once the
whole input has been read and checked, and an ``--output`` file appears complete or not at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import CLIError, RewardkitError
from .urls import redact, redact_url

__all__ = ["main"]


# -- JSON Lines ----------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def read_rows(stream: Iterable[bytes | str], name: str) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line (UTF-8 JSON; text lines are taken as
    they are)."""
    rows = []
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as e:
            raise CLIError(f"{name}, line {number}: not valid UTF-8 ({e.reason})") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            raise CLIError(f"{name}, line {number}: not valid JSON ({e.msg})") from None
        except ValueError as e:
            raise CLIError(f"{name}, line {number}: {e}") from None
        except RecursionError:
            raise CLIError(f"{name}, line {number}: JSON nested too deeply") from None
        if not isinstance(row, dict):
            got = line.strip()[:60]
            raise CLIError(f"{name}, line {number}: expected a JSON object, got {got}")
        rows.append((number, row))
    return rows


def field(row: tuple[int, dict], key: str, name: str, kinds: tuple, what: str) -> Any:
    number, obj = row
    if key not in obj:
        raise CLIError(f"{name}, line {number}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise CLIError(f"{name}, line {number}: field {key!r} must be {what}, got {value!r}")
    return value


def write_lines(lines: Iterable[str], path: str | None) -> None:
    """Write every line to ``path`` atomically (temp file + rename), or to stdout."""
    if path is None:
        out = sys.stdout
        for line in lines:
            out.write(line + "\n")
        out.flush()
        return
    target = os.path.realpath(path)  # write through a symlink, never replace the link
    directory = os.path.dirname(target)
    try:
        mode = os.stat(target).st_mode & 0o7777  # keep the mode of the file replaced
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".rewardkit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


# -- commands ------------------------------------------------------------------------------------


_LLM_JUDGES = ("openai", "litellm")


def key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` flags as options (values read by :func:`_option_value`)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise CLIError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = _option_value(value)
    return out


def _option_value(text: str) -> Any:
    """A ``--judge-option`` value: JSON where it parses (numbers, true, objects), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """Options for ``get_judge`` from the command line (plugin judges get --judge-option)."""
    options: dict[str, Any] = {}
    if args.taxonomy:
        options["taxonomy"] = args.taxonomy
    if args.ladder:
        options["ladder"] = args.ladder
    if args.prompt:
        options["prompt"] = args.prompt
    if args.judge in (*_LLM_JUDGES, "hf", "vllm"):
        if not args.model:
            raise CLIError(f"--judge {args.judge} needs --model")
        options["model"] = args.model
    if args.judge in _LLM_JUDGES:
        if args.judge == "openai" and not args.api_base:
            raise CLIError("--judge openai needs --api-base (e.g. http://127.0.0.1:8000/v1)")
        if args.api_base:
            options["api_base"] = args.api_base
        options.update(
            concurrency=args.concurrency,
            timeout=args.call_timeout,
            retries=args.retries,
            cache=args.cache,
            max_failure_rate=args.max_failure_rate,
        )
        if args.constraint:
            options["constraint"] = args.constraint
    options.update(key_values(args.judge_option, "--judge-option"))
    return options


def cmd_judge(args: argparse.Namespace, rows: list[tuple[int, dict]], name: str) -> Iterator[str]:
    from .answers import extract_answer
    from .judges.cache import CacheError
    from .judges.llm import JudgeError
    from .plugins import get_judge
    from .taxonomy import TaxonomyError, UnknownLabelError

    try:
        if args.spec:
            spec = _load_spec(args.spec)
            judge = get_judge(spec.judge, **spec.judge_kwargs())
        else:
            judge = get_judge(args.judge, **judge_options(args))
    except CacheError as e:
        raise CLIError(str(e)) from None
    except TypeError as e:  # an option the judge does not take
        raise CLIError(f"judge {args.judge!r}: {e}") from None
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


def cmd_reward(args: argparse.Namespace, rows: list[tuple[int, dict]], name: str) -> Iterator[str]:
    import numpy as np

    from .plugins import get_ladder, get_rule
    from .rules import Batch, to_list

    options: dict[str, Any] = {}
    if not args.rule and not args.spec:
        raise CLIError("give --rule NAME (or --spec reward_spec.json)")
    if args.spec:
        spec = _load_spec(args.spec)
        args.rule, options = spec.rule, dict(spec.rule_options)
        args.group_size = args.group_size or spec.group_size
        if spec.ladder:
            args.ladder = spec.ladder
    ladder = get_ladder(args.ladder)
    if args.no_answer is not None:
        options["no_answer"] = (
            None if args.no_answer == "unscored" else _number(args.no_answer, "--no-answer")
        )
    if args.unscored is not None:
        options["unscored"] = _number(args.unscored, "--unscored")
    try:
        rule = get_rule(args.rule, **options)
    except TypeError as e:
        flags = " and ".join(f"--{k.replace('_', '-')}" for k in options) or "these options"
        raise CLIError(f"rule {args.rule!r} does not take {flags} ({e})") from None
    args.group_size = group_size_for(rule, args.rule, args.group_size)
    verdicts, found = _verdicts(rows, name, ladder)
    if len(rows) % args.group_size:
        last = rows[-1][0] if rows else 0
        raise CLIError(
            f"{name}: {len(rows)} rows (last at line {last}) do not split into groups of "
            f"{args.group_size}"
        )
    batch = Batch(ladder, ladder.encode(verdicts), np.asarray(found, bool), args.group_size)
    for (_, obj), reward in zip(rows, to_list(rule.compute(batch))):
        yield dump(dict(obj, reward=reward))


def group_size_for(rule: Any, name: str, size: int | None) -> int:
    """``size``, or 1 for a static rule; a group-relative rule without a size is an error."""
    if size is not None:
        return size
    if rule.group_relative:
        raise CLIError(
            f"rule {name!r} is group-relative: give --group-size (the completions per prompt)"
        )
    return 1


def _load_spec(path: str):
    from .spec import RewardSpec, SpecError

    try:
        return RewardSpec.load(path)
    except SpecError as e:
        raise CLIError(f"--spec {path}: {e}") from None


def _number(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{flag} expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise CLIError(f"{flag} must be finite, got {text!r}")
    return value


def _verdicts(rows, name, ladder) -> tuple[list[str | None], list[bool]]:
    verdicts, found = [], []
    for row in rows:
        verdict = field(row, "verdict", name, (str, type(None)), "a verdict slug or null")
        if verdict is not None and verdict not in ladder.slugs:
            raise CLIError(
                f"{name}, line {row[0]}: unknown verdict {verdict!r}; "
                f"ladder {ladder.name!r} has {', '.join(ladder.slugs)}"
            )
        flag = row[1].get("answer_found", True)
        if not isinstance(flag, bool):
            raise CLIError(f"{name}, line {row[0]}: field 'answer_found' must be true or false")
        verdicts.append(verdict)
        found.append(flag)
    return verdicts, found


def cmd_score(args: argparse.Namespace, rows: list[tuple[int, dict]], name: str) -> Iterator[str]:
    from .metrics import best_of_n, score
    from .plugins import get_ladder

    ladder = get_ladder(args.ladder)
    verdicts, found = _verdicts(rows, name, ladder)
    # A row with no answer found was not judged: it scores as missing, like a failed judge.
    verdicts = [v if f else None for v, f in zip(verdicts, found)]
    result = score(verdicts, ladder).to_dict()
    if args.group_size:
        if len(verdicts) % args.group_size:
            raise CLIError(
                f"{name}: {len(rows)} rows do not split into groups of {args.group_size}"
            )
        result["best_of_n"] = best_of_n(verdicts, args.group_size, ladder).to_dict()
    yield dump(result)


def cmd_openrlhf(args: argparse.Namespace) -> Iterator[str]:
    from .adapters.openrlhf import write_reward_file
    from .judges.cache import CacheError

    try:
        path = write_reward_file(
            args.output,
            group_size=args.group_size,
            judge=args.judge,
            rule=args.rule,
            judge_options=judge_options(args),
            timeout=args.timeout,
            unscored=args.unscored,
        )
    except (CacheError, TypeError) as e:
        raise CLIError(str(e)) from None
    yield f"wrote {path}: pass --reward.remote_url {path.resolve()} to OpenRLHF"


def cmd_agree(args: argparse.Namespace, rows: list[tuple[int, dict]], name: str) -> Iterator[str]:
    import time

    from .agreement import agreement, save_heatmap
    from .judges.cache import CacheError
    from .judges.llm import JudgeError
    from .plugins import get_judge, get_ladder

    ladder = get_ladder(args.ladder)
    columns = [args.a, args.b]
    judges = [args.judge_a, args.judge_b]
    for side, (column, judge) in enumerate(zip(columns, judges)):
        letter = "ab"[side]
        if bool(column) == bool(judge):
            raise CLIError(f"give either --{letter} COLUMN or --judge-{letter} NAME")
    names = [c or j for c, j in zip(columns, judges)]
    if names[0] == names[1]:
        names = [f"{names[0]} (a)", f"{names[1]} (b)"]
    verdicts: list[list[str | None]] = []
    cost: dict[str, dict[str, Any]] = {}
    for side, (column, judge_name) in enumerate(zip(columns, judges)):
        if column:
            verdicts.append(_verdict_column(rows, name, ladder, column))
            continue
        letter = "ab"[side]
        options: dict[str, Any] = {}
        if args.taxonomy and judge_name == "taxonomy":
            options["taxonomy"] = args.taxonomy
        if args.cache and judge_name in _LLM_JUDGES:
            options["cache"] = args.cache
        options.update(key_values(getattr(args, f"option_{letter}"), f"--option-{letter}"))
        pairs = []
        for row in rows:
            label = field(row, "label", name, (str,), "a string")
            prediction = field(row, "prediction", name, (str, type(None)), "a string or null")
            pairs.append((label, prediction))
        try:
            judge = get_judge(judge_name, **options)
            start = time.perf_counter()
            records = judge.judge_records(pairs)
            seconds = time.perf_counter() - start
        except (CacheError, JudgeError, TypeError) as e:
            raise CLIError(f"judge {names[side]}: {e}") from None
        verdicts.append([r.verdict for r in records])
        s = judge.stats
        cost[names[side]] = {
            "seconds": round(seconds, 4),
            "verdicts_per_second": round(len(pairs) / seconds, 1) if seconds else None,
            **{
                key: getattr(s, key)
                for key in ("calls", "cache_hits", "failures", "prompt_tokens", "completion_tokens")
                if hasattr(s, key)
            },
        }
        if getattr(s, "cost", 0):
            cost[names[side]]["cost"] = s.cost
    found = None
    if args.group_size:
        found = []
        for row in rows:
            flag = row[1].get("answer_found", True)
            if not isinstance(flag, bool):
                raise CLIError(f"{name}, line {row[0]}: field 'answer_found' must be true or false")
            found.append(flag)
        if len(rows) % args.group_size:
            raise CLIError(
                f"{name}: {len(rows)} rows do not split into groups of {args.group_size}"
            )
    report = agreement(
        verdicts[0],
        verdicts[1],
        ladder,
        names=(names[0], names[1]),
        group_size=args.group_size,
        rule=args.rule if args.group_size else None,
        found=found,
    )
    report.cost = cost
    if args.report:
        os.makedirs(args.report, exist_ok=True)
        write_lines(
            [json.dumps(report.to_dict(), indent=2)], os.path.join(args.report, "agreement.json")
        )
        write_lines([report.markdown()], os.path.join(args.report, "agreement.md"))
        try:
            save_heatmap(report, os.path.join(args.report, "confusion.png"))
        except ImportError:
            print(
                "rewardkit agree: no matplotlib, no heatmap (pip install rewardkit-rl[demo])",
                file=sys.stderr,
            )
    yield dump(report.to_dict())


def _verdict_column(rows, name: str, ladder, column: str) -> list[str | None]:
    out = []
    for row in rows:
        verdict = field(row, column, name, (str, type(None)), "a verdict slug or null")
        if verdict is not None and verdict not in ladder.slugs:
            raise CLIError(
                f"{name}, line {row[0]}: unknown verdict {verdict!r} in {column!r}; "
                f"ladder {ladder.name!r} has {', '.join(ladder.slugs)}"
            )
        out.append(verdict)
    return out


def _serve_token(args: argparse.Namespace) -> str | None:
    """The bearer token, and the refusal to serve a non-loopback address without one."""
    import ipaddress

    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise CLIError(f"--token-env {args.token_env}: the variable is not set or empty")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:  # a host name: taken as reachable from outside
        loopback = False
    if not loopback and token is None:
        if not args.allow_open:
            raise CLIError(
                f"--host {args.host} is not a loopback address and no token is set: "
                "set --token-env or pass --allow-open"
            )
        logging.getLogger("rewardkit.serve").warning(
            "serving on %s without a token (--allow-open): anyone who can reach it can use it",
            args.host,
        )
    return token


def cmd_serve(args: argparse.Namespace) -> Iterator[str]:
    from .pipeline import LadderReward
    from .serve import RewardServer, serve
    from .serve_stores import log_redacted, redact
    from .spec import RewardSpec

    log_redacted()  # every log line of the service, passwords masked
    token = _serve_token(args)
    try:
        if args.spec:
            spec = _load_spec(args.spec)
        else:
            options = judge_options(args)
            ladder = options.pop("ladder", None)
            spec = RewardSpec(
                judge=args.judge,
                judge_options=options,
                rule=args.rule,
                ladder=ladder,
                group_size=args.group_size,
            )
        reward = LadderReward.from_spec(spec)
        size = group_size_for(reward.rule, spec.rule, args.group_size or spec.group_size)
        server = RewardServer(
            reward,
            group_size=size,
            timeout=args.timeout,
            unscored=args.unscored,
            token=token,
            max_body=args.max_body,
            groups=args.groups,
            read_timeout=args.read_timeout,
            max_pairs=args.max_pairs,
        )

        def ready(port: int) -> None:
            print(f"rewardkit serve: http://{args.host}:{port} ({reward!r})", file=sys.stderr)
            sys.stderr.flush()

        serve(server, args.host, args.port, ready)
    except (RewardkitError, LookupError, ValueError, TypeError, OSError) as e:
        raise CLIError(redact(str(e))) from None
    yield from ()


def cmd_demo(args: argparse.Namespace) -> Iterator[str]:
    """Run the SpeciaRL CPU demo from the source tree (it is an example, not package code)."""
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "speciarl" / "cpu_demo.py"
    if not script.exists():
        raise CLIError(
            "the SpeciaRL demo lives in the rewardkit repository (examples/speciarl); "
            "run `rewardkit demo` from an editable install of a clone, or `make demo` there"
        )
    sys.argv = [str(script), *args.demo_args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise CLIError(f"the demo exited with status {e.code}") from None
    yield from ()


def cmd_plugins(args: argparse.Namespace) -> Iterator[str]:
    from .plugins import get_plugins

    yield json.dumps(get_plugins(), indent=2)


# -- entry point ---------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0 to 65535), got {text!r}")
    return value


def _number_type(what: str, ok, *, none: bool = False):
    """An argparse type: a finite number that passes ``ok`` (``none``: or the word none)."""

    def parse(text: str) -> float | None:
        if none and text.lower() == "none":
            return None
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    return parse


finite_float = _number_type("a finite number", lambda v: True)
positive_seconds = _number_type("a finite number of seconds > 0", lambda v: v > 0)
failure_rate = _number_type("a number in [0, 1] or none", lambda v: 0 <= v <= 1, none=True)


def judge_arguments(p: argparse.ArgumentParser, call_timeout: str = "--timeout") -> None:
    """The options that pick and configure a judge (``judge`` and ``openrlhf-reward``)."""
    p.add_argument(
        "--judge",
        default="taxonomy",
        help="taxonomy (default), openai, litellm, hf, or a plugin's judge",
    )
    p.add_argument("--taxonomy", help="taxonomy file (.json, .yaml) for the taxonomy judge")
    p.add_argument("--model", help="judge model (openai, litellm, hf, vllm judges)")
    p.add_argument("--api-base", help="server URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--ladder", help="ladder of the model judges (default speciarl)")
    p.add_argument(
        "--prompt", help="judge prompt: a prompt file (.json, .yaml, or text) or a prompt name"
    )
    p.add_argument(
        "--constraint",
        choices=("choice", "json_schema", "none"),
        help="how the reply is held to the labels (default: choice for vLLM servers)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=64,
        help="calls in flight per endpoint (default 64)",
    )
    p.add_argument("--cache", help="sqlite verdict cache file (off when not given)")
    p.add_argument(
        call_timeout,
        dest="call_timeout",
        type=positive_seconds,
        default=60.0,
        help="seconds per call (default 60)",
    )
    p.add_argument("--retries", type=int, default=3, help="retries per call (default 3)")
    p.add_argument(
        "--max-failure-rate",
        type=failure_rate,
        default=0.2,
        help="share of failed calls that stops the run with an error (default 0.2; 'none')",
    )
    p.add_argument(
        "--judge-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option for the judge (any registered judge); VALUE is JSON or text; repeatable",
    )


def rendezvous_arguments(p: argparse.ArgumentParser) -> None:
    """Options of commands that wait for a group's siblings one sample at a time."""
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=120.0,
        help="seconds a sample waits for its group's siblings (default 120)",
    )
    p.add_argument(
        "--unscored",
        type=finite_float,
        default=0.0,
        help="reward when the judge gives no verdict (default 0; counted as unscored)",
    )


def example(text: str) -> str:
    return "example:\n  " + text


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="rewardkit", description="Reward shaping for RL with verifiable rewards."
    )
    parser.add_argument("--version", action="version", version=f"rewardkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def io(p: argparse.ArgumentParser) -> None:
        p.add_argument("--input", "-i", help="JSON Lines input file (default: stdin)")
        p.add_argument("--output", "-o", help="output file (default: stdout)")

    p = sub.add_parser(
        "judge",
        help="add a 'verdict' to rows with 'label' and 'prediction'",
        description="Add a 'verdict' to rows with 'label' and 'prediction'.",
        epilog=example(
            "rewardkit judge --taxonomy tax.json -i rollouts.jsonl -o judged.jsonl\n"
            "  rewardkit judge --judge openai --model M --api-base http://127.0.0.1:8000/v1 "
            "--explain < rows.jsonl"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    io(p)
    p.set_defaults(run=cmd_judge)

    p = sub.add_parser(
        "reward",
        help="add a 'reward' to rows with 'verdict'",
        description="Add a 'reward' to rows with 'verdict'.",
        epilog=example(
            "rewardkit reward --rule speciarl --group-size 10 < judged.jsonl\n"
            "  rewardkit reward --spec runs/x/reward_spec.json < judged.jsonl"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rule", help="registered reward rule, e.g. speciarl")
    p.add_argument("--spec", help="a reward_spec.json (from a training run): its rule and groups")
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        help="completions per group: each run of G consecutive rows (needed by group rules; "
        "default 1 for static rules)",
    )
    p.add_argument("--ladder", default="speciarl", help="ladder of the verdicts")
    p.add_argument(
        "--no-answer",
        help="reward for rows with answer_found false "
        "(a number or 'unscored'; default: the rule's own, -1 for ladder rules)",
    )
    p.add_argument("--unscored", help="turn unscored rewards (null verdicts) into this number")
    io(p)
    p.set_defaults(run=cmd_reward)

    p = sub.add_parser(
        "score",
        help="metrics of rows with 'verdict'",
        description="Metrics of rows with 'verdict'.",
        epilog=example("rewardkit score --group-size 10 < judged.jsonl"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ladder", default="speciarl", help="ladder of the verdicts")
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        help="also report best-of-N over consecutive groups of this size",
    )
    io(p)
    p.set_defaults(run=cmd_score)

    p = sub.add_parser(
        "agree",
        help="how far two judges agree (kappa, confusion, reward effects)",
        description="Compare judge B with judge A on labelled rows: verdict columns (--a, --b) "
        "or judges run on the spot (--judge-a, --judge-b). Prints one JSON report.",
        epilog=example("rewardkit agree --a human --b verdict -g 4 --report out/ < rows.jsonl"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--a", help="column with judge A's verdicts (the reference)")
    p.add_argument("--b", help="column with judge B's verdicts (the candidate)")
    p.add_argument("--judge-a", help="registered judge to run as A (rows need label, prediction)")
    p.add_argument("--judge-b", help="registered judge to run as B")
    p.add_argument("--option-a", action="append", metavar="KEY=VALUE", help="option for judge A")
    p.add_argument("--option-b", action="append", metavar="KEY=VALUE", help="option for judge B")
    p.add_argument("--taxonomy", help="taxonomy file for a taxonomy judge")
    p.add_argument("--cache", help="sqlite verdict cache shared by LLM judges")
    p.add_argument("--ladder", default="speciarl", help="ladder of the verdicts")
    p.add_argument(
        "--group-size", "-g", type=positive_int, help="consecutive rows per group: reward effects"
    )
    p.add_argument("--rule", default="speciarl", help="reward rule for the effects (speciarl)")
    p.add_argument("--report", help="folder for agreement.json, agreement.md and confusion.png")
    p.add_argument("--input", "-i", help="JSON Lines input file (default: stdin)")
    p.set_defaults(run=cmd_agree, output=None)

    p = sub.add_parser(
        "serve",
        help="serve rewards over HTTP (OpenRLHF's remote reward protocol and a JSON API)",
        description="An HTTP reward server: POST / (OpenRLHF), /v1/judge, /v1/reward; "
        "GET /health, /metrics. Binds 127.0.0.1 unless --host says otherwise.",
        epilog=example(
            "rewardkit serve --taxonomy tax.json --rule speciarl -g 8 --port 8080\n"
            "  then: --reward.remote_url http://127.0.0.1:8080 (OpenRLHF)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    judge_arguments(p, call_timeout="--call-timeout")
    p.add_argument("--rule", default="speciarl", help="registered reward rule")
    p.add_argument(
        "--group-size", "-g", type=positive_int, help="completions per prompt (group rules)"
    )
    p.add_argument("--spec", help="a reward_spec.json instead of the judge and rule flags")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=8080, help="port (default 8080; 0: any free)"
    )
    p.add_argument("--token-env", help="require 'Authorization: Bearer $VAR' on every request")
    p.add_argument(
        "--allow-open",
        action="store_true",
        help="serve a non-loopback --host without a token (refused otherwise)",
    )
    p.add_argument(
        "--groups", help="redis://HOST:PORT/DB: assemble groups in Redis, shared by replicas"
    )
    p.add_argument("--max-body", type=positive_int, default=1 << 20, help="bytes (default 1 MiB)")
    p.add_argument(
        "--max-pairs",
        type=positive_int,
        default=4096,
        help="pairs or completions in one request; more get 413 (default 4096)",
    )
    p.add_argument(
        "--read-timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds a client may take to send a request's headers, and then its body; "
        "slower connections are closed (default 30)",
    )
    rendezvous_arguments(p)
    p.set_defaults(run=None, command_fn=cmd_serve)

    p = sub.add_parser(
        "openrlhf-reward",
        help="write a reward file for OpenRLHF",
        description="Write a reward file for OpenRLHF.",
        epilog=example("rewardkit openrlhf-reward -o reward.py -g 8 --taxonomy tax.json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", "-o", required=True, help="the reward file to write (.py)")
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        required=True,
        help="OpenRLHF's --rollout.n_samples_per_prompt",
    )
    p.add_argument("--rule", default="speciarl", help="registered reward rule")
    judge_arguments(p, call_timeout="--call-timeout")
    rendezvous_arguments(p)
    p.set_defaults(run=None, command_fn=cmd_openrlhf)

    p = sub.add_parser(
        "demo",
        help="run the SpeciaRL CPU demo (from a clone)",
        description="Run examples/speciarl/cpu_demo.py; options pass through "
        "(--preset quick|full, --seed N, --out DIR, --rules a,b, --trainer own|trl).",
        epilog=example("rewardkit demo --preset quick --trainer trl"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=None, command_fn=cmd_demo)

    p = sub.add_parser(
        "plugins",
        help="list the loaded plugins as JSON",
        description="List the loaded plugins as JSON.",
        epilog=example("rewardkit plugins"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=None, command_fn=cmd_plugins)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "demo":
        args.demo_args = extra  # the demo's own options pass through
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.run is None:  # commands that read no rows
            write_lines(args.command_fn(args), None)
            return 0
        run: Callable = args.run
        if args.output:
            directory = os.path.dirname(os.path.realpath(args.output))
            if not os.path.isdir(directory):
                raise CLIError(f"cannot write --output {args.output}: no directory {directory}")
        if args.input:
            try:
                with open(args.input, "rb") as f:
                    rows = read_rows(f, args.input)
            except OSError as e:
                raise CLIError(f"cannot read {args.input}: {e.strerror}") from None
        else:
            if sys.stdin is None:
                raise CLIError("no input: stdin is closed; give --input FILE")
            rows = read_rows(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>")
        name = args.input or "<stdin>"
        lines = list(run(args, rows, name))  # everything is checked before anything is written
        write_lines(lines, args.output)
    except BrokenPipeError:  # the reader went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CLIError, LookupError, ValueError, OSError) as e:  # LookupError: unknown names
        print(f"rewardkit {args.command}: error: {redact(str(e))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
