"""An example rewardkit plugin: a math ladder and a numeric judge."""

from __future__ import annotations

import math
import re

from rewardkit import Judge, Ladder, Rung, hookimpl

MATH = Ladder(
    "math",
    [
        Rung("wrong", "Wrong", 0.0, False, "the final answer is not the ground truth"),
        Rung("partial", "Partial", 1.0, True, "the final answer is close to the ground truth"),
        Rung("correct", "Correct", 2.0, True, "the final answer equals the ground truth"),
    ],
    task="math problems with a numeric answer",
)

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def parse_number(text: str) -> float | None:
    """The last number in ``text`` (commas as thousands separators), or ``None``."""
    found = _NUMBER.findall(text.replace(",", ""))
    return float(found[-1]) if found else None


class NumericJudge(Judge):
    """Places numeric answers on the math ladder."""

    name = "numeric"
    ladder = MATH

    def __init__(self, rel_tol: float = 1e-9, partial_tol: float = 0.01) -> None:
        super().__init__()
        self.rel_tol = rel_tol
        self.partial_tol = partial_tol

    def judge_unique(self, pairs):
        verdicts = []
        for truth, prediction in pairs:
            expected = parse_number(truth)
            if expected is None:
                raise ValueError(f"ground truth {truth!r} is not a number")
            got = parse_number(prediction)
            if got is None:
                verdicts.append("wrong")
            elif math.isclose(got, expected, rel_tol=self.rel_tol):
                verdicts.append("correct")
            elif math.isclose(got, expected, rel_tol=self.partial_tol):
                verdicts.append("partial")
            else:
                verdicts.append("wrong")
        return verdicts


@hookimpl
def register_ladders(register):
    register(MATH)


@hookimpl
def register_judges(register):
    register("numeric", NumericJudge)
