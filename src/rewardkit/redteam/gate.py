"""The gate: whether a card passes, and whether a training reward may start on it.

:func:`failures` says why a card fails: a family whose guarded false-positive rate is over
``max_fpr`` (the guarded rate is what training sees: the ladder's guard applies there), a judge
that puts fewer than ``min_honest`` of the labels themselves on a top rung (unfit), or a guard
that refuses honest answers. :func:`check_card` is what every training entry point calls with
``require_card=PATH``: it raises :class:`CardError` unless the card passed and was made for
this reward's judge identity, ladder (with its guard) and rule.

>>> failures({"master_keys": {"guarded": {"fpr": 0.5}}}, {"label": {"top": 1.0}}, 0.05, 0.9)
['master_keys: 50.0% false positives with the guard (limit 5.0%)']
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import RewardkitError
from .card import Card, judge_identity, ladder_identity, rule_identity

__all__ = ["CardError", "check_card", "failures"]


class CardError(RewardkitError, ValueError):
    """A robustness card that does not let training start (named in the message)."""


def failures(
    families: dict[str, dict[str, Any]],
    honest: dict[str, Any],
    max_fpr: float,
    min_honest: float,
) -> list[str]:
    """Why a card with these figures fails (empty: it passes)."""
    out = []
    for name, figures in families.items():
        fpr = figures["guarded"]["fpr"]
        if fpr > max_fpr:
            out.append(f"{name}: {fpr:.1%} false positives with the guard (limit {max_fpr:.1%})")
    top = honest.get("label", {}).get("top")
    if top is not None and top < min_honest:
        out.append(
            f"unfit: the judge puts {top:.1%} of the labels themselves on a top rung "
            f"(at least {min_honest:.1%} needed)"
        )
    refused = honest.get("refused_by_guard", 0)
    if refused:
        example = honest["refused_examples"][0]
        out.append(
            f"the guard refuses {refused} honest answers (e.g. {example['answer']!r}: "
            f"{example['guard']})"
        )
    return out


def check_card(path: str | os.PathLike, reward: Any) -> None:
    """Raise :class:`CardError` unless the card at ``path`` (``card.json`` or its folder)
    passed and was made for ``reward``'s judge identity, ladder and guard, and rule.

    ``reward`` is a :class:`~rewardkit.LadderReward` (anything with ``judge``, ``ladder`` and
    ``rule``). The judge's identity is the one :func:`~rewardkit.redteam.card.judge_identity`
    computes: for an LLM judge the hash its verdict cache uses.
    """
    try:
        card = Card.load(path)
    except FileNotFoundError:
        raise CardError(f"require_card: no robustness card at {os.fspath(path)}") from None
    except (OSError, ValueError, TypeError) as e:
        raise CardError(f"require_card: cannot read {os.fspath(path)}: {e}") from None
    where = f"robustness card {os.fspath(path)}"
    if not card.passed:
        why = "; ".join(card.failures) or card.status
        raise CardError(f"{where} failed the gate: {why}")
    mine = {
        "judge": judge_identity(reward.judge),
        "ladder": ladder_identity(reward.ladder),
        "rule": rule_identity(reward.rule),
    }
    wrong = [
        _difference(what, getattr(card, what), ours, key)
        for what, ours, key in (
            ("judge", mine["judge"], "identity"),
            ("ladder", mine["ladder"], "hash"),
            ("rule", mine["rule"], "hash"),
        )
        if getattr(card, what).get(key) != ours[key]
    ]
    guard = card.ladder.get("guard", {}).get("hash")
    if guard != mine["ladder"]["guard"]["hash"]:
        wrong.append(
            f"the answer guard differs (card: {card.ladder.get('guard', {}).get('checks')}, "
            f"this reward's ladder: {mine['ladder']['guard']['checks']})"
        )
    if wrong:
        raise CardError(f"{where} was made for another reward: {'; '.join(wrong)}")


def _difference(what: str, card: dict[str, Any], ours: dict[str, Any], key: str) -> str:
    shown = "name" if what != "rule" else "repr"
    return (
        f"the {what} differs (card: {card.get(shown)!r} {card.get(key)}, "
        f"this reward: {ours.get(shown)!r} {ours[key]})"
    )
