"""JSON Lines in and out, shared by every command that reads rows.

Rows are read whole and checked before anything is written; ``--output`` files are written
atomically (a temp file renamed over the target), so they appear complete or not at all.

>>> read_rows(['{"label": "dog"}', "", '{"label": "cat"}'], "rows.jsonl")
[(1, {'label': 'dog'}), (3, {'label': 'cat'})]
>>> field((3, {"label": 7}), "label", "rows.jsonl", (str,), "a string")
Traceback (most recent call last):
...
rewardkit.errors.CLIError: rows.jsonl, line 3: field 'label' must be a string, got 7
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from typing import Any

from ..errors import CLIError

__all__ = [
    "read_rows",
    "read_input",
    "field",
    "found_flags",
    "check_output",
    "write_lines",
    "dump",
    "ignored",
    "io_arguments",
]


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


def read_input(args: argparse.Namespace) -> tuple[list[tuple[int, dict]], str]:
    """The rows of ``--input`` (or stdin) and the name error messages give them."""
    if args.input:
        try:
            with open(args.input, "rb") as f:
                return read_rows(f, args.input), args.input
        except OSError as e:
            raise CLIError(f"cannot read {args.input}: {e.strerror}") from None
    if sys.stdin is None:
        raise CLIError("no input: stdin is closed; give --input FILE")
    return read_rows(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>"), "<stdin>"


def field(row: tuple[int, dict], key: str, name: str, kinds: tuple, what: str) -> Any:
    """``row``'s value under ``key``, which must be one of ``kinds`` (``what`` says so)."""
    number, obj = row
    if key not in obj:
        raise CLIError(f"{name}, line {number}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise CLIError(f"{name}, line {number}: field {key!r} must be {what}, got {value!r}")
    return value


def found_flags(rows: list[tuple[int, dict]], name: str) -> list[bool]:
    """Each row's ``answer_found`` (true where absent)."""
    found = []
    for number, obj in rows:
        flag = obj.get("answer_found", True)
        if not isinstance(flag, bool):
            raise CLIError(f"{name}, line {number}: field 'answer_found' must be true or false")
        found.append(flag)
    return found


def check_output(path: str | None) -> None:
    """Refuse an ``--output`` whose folder does not exist, before any work is done."""
    if path:
        directory = os.path.dirname(os.path.realpath(path))
        if not os.path.isdir(directory):
            raise CLIError(f"cannot write --output {path}: no directory {directory}")


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


def ignored(what: str, why: str, command: str) -> None:
    """Say on stderr, once per run, that an option given is not used, and why.

    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     ignored("--cache", "judge 'taxonomy' keeps no verdict cache", "judge")
    >>> print(err.getvalue(), end="")
    rewardkit judge: --cache ignored: judge 'taxonomy' keeps no verdict cache
    """
    print(f"rewardkit {command}: {what} ignored: {why}", file=sys.stderr)


def dump(obj: Any) -> str:
    """One JSON line (UTF-8 kept, NaN refused)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def io_arguments(p: argparse.ArgumentParser, output: bool = True) -> None:
    """``--input`` (default stdin) and, with ``output``, ``--output`` (default stdout)."""
    p.add_argument("--input", "-i", help="JSON Lines input file (default: stdin)")
    if output:
        p.add_argument("--output", "-o", help="output file (default: stdout)")
