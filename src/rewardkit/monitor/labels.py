"""Human labels as an audit judge: verdicts read from a JSON Lines file.

Each line holds ``label`` (the ground truth), ``prediction`` and ``verdict`` (a rung slug of
the ladder). A pair the file does not hold gets no verdict ("no human label"), so it is left
out of the audit's figures rather than counted as a disagreement.

>>> import json, tempfile, rewardkit as rk
>>> path = tempfile.mktemp(suffix=".jsonl")
>>> _ = open(path, "w").write(json.dumps({"label": "samoyed", "prediction": "dog",
...                                       "verdict": "generic"}) + "\\n")
>>> LabelJudge(path, rk.SPECIARL).judge([("samoyed", "dog"), ("samoyed", "cat")])
['generic', None]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..judges.base import Judge
from ..ladders import Ladder
from ..records import Judgement
from .runlog import json_objects

__all__ = ["LabelJudge"]


class LabelJudge(Judge):
    """Verdicts looked up in a JSON Lines file of (label, prediction, verdict) rows."""

    name = "labels"

    def __init__(self, path: str | os.PathLike, ladder: Ladder) -> None:
        super().__init__()
        self.ladder = ladder
        self.path = str(path)
        self.table: dict[tuple[str, str], str] = {}
        for number, row in json_objects(path):
            label, prediction, verdict = (row.get(k) for k in ("label", "prediction", "verdict"))
            if not (isinstance(label, str) and isinstance(prediction, str)):
                raise ValueError(
                    f"{path}, line {number}: needs string fields label, prediction, verdict"
                )
            if not isinstance(verdict, str) or verdict not in ladder.slugs:
                raise ValueError(
                    f"{path}, line {number}: verdict {verdict!r} is not a rung of "
                    f"{ladder.name} ({', '.join(ladder.slugs)})"
                )
            self.table[label, prediction] = verdict

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        out = []
        for truth, prediction, *_ in pairs:
            verdict = self.table.get((truth, prediction))
            out.append(Judgement(verdict, error=None if verdict else "no human label"))
        return out

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in self.judge_unique_records(pairs)]
