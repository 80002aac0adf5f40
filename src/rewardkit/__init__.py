"""rewardkit: reward shaping for reinforcement learning with verifiable rewards.

Three separate steps: a **judge** places each answer on an ordinal **ladder**, a **reward rule**
turns verdicts into rewards (static or group-relative), and **metrics** summarise verdicts.

>>> import rewardkit as rk
>>> judge = rk.TaxonomyJudge(rk.Taxonomy([["animal", "dog", "spitz", "samoyed"]]))
>>> verdicts = judge([("samoyed", "dog"), ("samoyed", "spitz"), ("samoyed", "cat")])
>>> rk.SpeciaRL()(verdicts, group_size=3)
[0.0, 1.0, 0.0]
>>> rk.score(verdicts).correctness
0.6666666666666666
"""

from __future__ import annotations

from .answers import Answer, extract_answer, extract_answers
from .errors import OptionError, RewardkitError
from .group_norm import GroupNormalised
from .hookspecs import hookimpl
from .judges import Judge, TaxonomyJudge
from .judges.prompt import PromptTemplate
from .ladders import BINARY, MISSING, SPECIARL, Ladder, Rung
from .metrics import Scores, best_of_n, group_best, score
from .pipeline import LadderReward
from .plugins import get_judge, get_ladder, get_rule
from .records import Judged, Judgement
from .rules import (
    Batch,
    Correct,
    Exact,
    Format,
    Graded,
    RewardRule,
    SpeciaRL,
    WeightedSum,
    to_list,
)
from .shaping import SoftOverlong, ThinkAnswerFormat
from .spec import RewardSpec, SpecError
from .taxonomy import Taxonomy, TaxonomyError, UnknownLabelError, normalize
from .version import __version__

__all__ = [
    "__version__",
    "Answer",
    "extract_answer",
    "extract_answers",
    "hookimpl",
    "Judge",
    "Judgement",
    "PromptTemplate",
    "TaxonomyJudge",
    "BINARY",
    "MISSING",
    "SPECIARL",
    "Ladder",
    "Rung",
    "Scores",
    "best_of_n",
    "group_best",
    "score",
    "Judged",
    "LadderReward",
    "RewardSpec",
    "RewardkitError",
    "OptionError",
    "SpecError",
    "get_judge",
    "get_ladder",
    "get_rule",
    "Batch",
    "Correct",
    "Exact",
    "Format",
    "Graded",
    "RewardRule",
    "SpeciaRL",
    "WeightedSum",
    "GroupNormalised",
    "ThinkAnswerFormat",
    "SoftOverlong",
    "to_list",
    "Taxonomy",
    "TaxonomyError",
    "UnknownLabelError",
    "normalize",
    "redteam",
]


def __getattr__(name: str):
    """``rk.redteam``, imported on first use (``import rewardkit`` stays light)."""
    if name == "redteam":
        import importlib

        return importlib.import_module(".redteam", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
