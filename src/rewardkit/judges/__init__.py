"""Judges place (ground truth, prediction) pairs on a ladder."""

from .base import Judge, JudgeStats, Pair
from .taxonomy import TaxonomyJudge

__all__ = ["Judge", "JudgeStats", "Pair", "TaxonomyJudge"]
