"""rewardkit's own ladders, judges and rules, registered as an ordinary plugin."""

from __future__ import annotations

from . import rules
from .hookspecs import hookimpl
from .ladders import BINARY, SPECIARL


@hookimpl
def register_ladders(register):
    register(SPECIARL)
    register(BINARY)


def _taxonomy_judge(**options):
    from .judges.taxonomy import TaxonomyJudge

    return TaxonomyJudge(**options)


@hookimpl
def register_judges(register):
    register("taxonomy", _taxonomy_judge)


@hookimpl
def register_rewards(register):
    for rule in (rules.SpeciaRL, rules.Exact, rules.Correct, rules.Graded, rules.Format):
        register(rule.name, rule)
