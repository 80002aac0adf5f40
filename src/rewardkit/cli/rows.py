"""Row checks shared by the commands that read verdicts (``reward``, ``score``, ``agree``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import CLIError
from .io import field, found_flags

__all__ = ["verdicts", "verdict_column", "ladder_argument", "ladder_name", "LADDER_FIELD"]

#: The field ``rewardkit judge`` adds to each row when its ladder is not the default one, so
#: ``reward``, ``score`` and ``agree`` down a pipe read the verdicts on it without --ladder.
LADDER_FIELD = "ladder"
DEFAULT_LADDER = "speciarl"


def ladder_argument(p: argparse.ArgumentParser) -> None:
    """``--ladder``, read by :func:`ladder_name`."""
    p.add_argument(
        "--ladder", help="ladder of the verdicts (default: the rows' ladder field, else speciarl)"
    )


def ladder_name(given: str | None, rows: list, name: str) -> str:
    """The ladder of the verdicts: ``--ladder`` when given, else the one the rows carry in
    their ``ladder`` field, else speciarl; a ``--ladder`` other than the rows' is an error.

    >>> ladder_name(None, [(1, {"verdict": "partial", "ladder": "math"})], "rows.jsonl")
    'math'
    >>> ladder_name("binary", [(1, {"ladder": "math"})], "rows.jsonl")
    Traceback (most recent call last):
    ...
    rewardkit.errors.CLIError: --ladder binary, but rows.jsonl, line 1 was judged on ladder 'math'
    """
    carried: dict[str, int] = {}
    for number, obj in rows:
        ladder = obj.get(LADDER_FIELD)
        if ladder is None:
            continue
        if not isinstance(ladder, str):
            raise CLIError(f"{name}, line {number}: field 'ladder' must be a ladder's name")
        carried.setdefault(ladder, number)
    if len(carried) > 1:
        (a, at), (b, bt) = list(carried.items())[:2]
        raise CLIError(f"{name}: rows of two ladders, {a!r} (line {at}) and {b!r} (line {bt})")
    if given and carried and given not in carried:
        ladder, number = next(iter(carried.items()))
        raise CLIError(
            f"--ladder {given}, but {name}, line {number} was judged on ladder {ladder!r}"
        )
    return given or next(iter(carried), DEFAULT_LADDER)


def verdict_column(
    rows: list, name: str, ladder: Any, column: str, *, named: bool = True
) -> list[str | None]:
    """The verdicts in ``column``: slugs of ``ladder`` or null (``named``: errors name it)."""
    out = []
    where = f" in {column!r}" if named else ""
    for row in rows:
        verdict = field(row, column, name, (str, type(None)), "a verdict slug or null")
        if verdict is not None and verdict not in ladder.slugs:
            raise CLIError(
                f"{name}, line {row[0]}: unknown verdict {verdict!r}{where}; "
                f"ladder {ladder.name!r} has {', '.join(ladder.slugs)} (verdicts of another "
                "ladder? give --ladder NAME; rewardkit plugins lists the ladders)"
            )
        out.append(verdict)
    return out


def verdicts(rows: list, name: str, ladder: Any) -> tuple[list[str | None], list[bool]]:
    """Each row's ``verdict`` and ``answer_found``, checked row by row."""
    out: list[str | None] = []
    found: list[bool] = []
    for row in rows:
        out += verdict_column([row], name, ladder, "verdict", named=False)
        found += found_flags([row], name)
    return out, found
