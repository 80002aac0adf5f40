"""Row checks shared by the commands that read verdicts (``reward``, ``score``, ``agree``)."""

from __future__ import annotations

from typing import Any

from ..errors import CLIError
from .io import field, found_flags

__all__ = ["verdicts", "verdict_column"]


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
                f"ladder {ladder.name!r} has {', '.join(ladder.slugs)}"
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
