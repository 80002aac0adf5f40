"""Red-team a judge before training on it: attack families, a robustness card and a gate.

``rk.redteam(judge_or_reward, rows, group_size=G)`` attacks the judge with every registered
attack family (:mod:`~rewardkit.redteam.catalogue`; plugins add theirs with
``register_attacks``) beside honest baselines, and returns a :class:`~.card.Card`: per family
the false-positive rate without and with the answer guard, the reward an attack earns in a
group of honest answers, the judge's failures, calls and cost, and whether it passed the gate
(``max_fpr`` per family with the guard; ``min_honest`` of the labels on a top rung; no honest
answer refused). Training entry points take ``require_card=PATH``
(:func:`~.gate.check_card`). The command is ``rewardkit redteam``.

>>> import rewardkit as rk
>>> judge = rk.TaxonomyJudge("examples/data/animals.json")
>>> card = rk.redteam(judge, [{"label": "samoyed"}, {"label": "american robin"}], group_size=4)
>>> card.status, card.families["master_keys"]["unguarded"]["fpr"]
('pass', 0.0)
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..guards import AnswerGuard
from .attacks import Attack, AttackFamily, Target, families
from .card import Card, _digest, judge_identity, ladder_identity, rule_identity
from .gate import CardError, check_card, failures
from .runner import Plan, Progress, RedteamError, judge_plan, plan

__all__ = [
    "Attack",
    "AttackFamily",
    "Card",
    "CardError",
    "Plan",
    "RedteamError",
    "Target",
    "check_card",
    "families",
    "judge_plan",
    "make_card",
    "plan",
    "redteam",
]


def _parts(subject: Any, rule: Any, judge_options: dict) -> tuple[Any, Any, dict[str, Any]]:
    """(judge, rule, extraction settings) from a judge, a reward or a registered name."""
    judge = subject
    from ..pipeline import LadderReward
    from ..plugins import get_judge, get_rule

    extraction: dict[str, Any] = {}
    if isinstance(subject, LadderReward):
        rule = subject.rule if rule is None else rule
        extraction = {
            "tag": subject.tag,
            "empty_is_missing": subject.empty_is_missing,
            "extraction": getattr(subject, "extraction", "strict"),
        }
        subject = subject.judge
    elif isinstance(subject, str):
        subject = get_judge(subject, **judge_options)
    if judge_options and not isinstance(judge, str):
        raise TypeError(f"judge options {sorted(judge_options)} given with a judge object")
    rule = get_rule(rule or "speciarl") if rule is None or isinstance(rule, str) else rule
    return subject, rule, extraction


def redteam(
    judge: Any,
    rows: Iterable[Mapping[str, Any]],
    *,
    rule: Any = None,
    group_size: int | None = None,
    families: Sequence[str] | None = None,
    guard: AnswerGuard | None = None,
    max_fpr: float = 0.05,
    min_honest: float = 0.9,
    max_calls: int | None = None,
    progress: Progress | None = None,
    **judge_options: Any,
) -> Card:
    """Attack ``judge`` (a :class:`~rewardkit.Judge`, a :class:`~rewardkit.LadderReward` -
    its rule and answer extraction are used - or a registered judge name with
    ``judge_options``) on ``rows`` and return the robustness card. ``rule`` (default: the
    reward's, else ``"speciarl"``) rewards each attack in a group of ``group_size`` (needed by
    group rules) with honest answers. ``guard`` measures another guard than the ladder's."""
    the_judge, the_rule, extraction = _parts(judge, rule, judge_options)
    if group_size is None:
        if the_rule.group_relative:
            raise RedteamError(f"rule {the_rule.name!r} is group-relative: give group_size")
        group_size = 1
    the_plan = plan(
        the_judge, rows, family_names=families, guard=guard, max_calls=max_calls, **extraction
    )
    records, run = judge_plan(the_plan, progress)
    return make_card(the_plan, records, run, the_rule, group_size, max_fpr, min_honest)


def make_card(
    the_plan: Plan,
    records: list,
    run: dict[str, Any],
    rule: Any,
    group_size: int,
    max_fpr: float,
    min_honest: float,
) -> Card:
    """The card of a judged plan."""
    from ..version import __version__
    from .figures import family_figures, honest_figures

    figures = family_figures(the_plan, records, rule, group_size)
    honest = honest_figures(the_plan, records)
    failed = failures(figures, honest, max_fpr, min_honest)
    for name, family in the_plan.families.items():
        figures[name] = {"source": family.source, "guards": list(family.guards), **figures[name]}
    return Card(
        judge=judge_identity(the_plan.judge),
        ladder=ladder_identity(the_plan.ladder, the_plan.guard),
        rule=rule_identity(rule),
        group_size=group_size,
        rows={
            "given": the_plan.rows_given,
            "used": the_plan.rows,
            "hash": _digest(the_plan.rows_data),
        },
        limits={"max_fpr": max_fpr, "min_honest": min_honest},
        families=figures,
        honest=honest,
        run=run,
        status="fail" if failed else "pass",
        failures=failed,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        rewardkit=__version__,
    )


class _Package(types.ModuleType):
    """``rewardkit.redteam`` is also callable: ``rk.redteam(...)`` runs :func:`redteam`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Card:
        return redteam(*args, **kwargs)


sys.modules[__name__].__class__ = _Package
