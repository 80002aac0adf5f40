"""Per-batch monitors of a training reward, each a registered metric (``register_metrics``).

Each monitor reads one batch - its :class:`~rewardkit.records.Judged`, rewards and group size -
and returns ``{key: value}``; every adapter logs it as ``<name>/<key>``. They are stateless:
the moving windows, the drift from the first steps and the alarms are
:class:`rewardkit.monitor.Monitor`'s. :data:`PLUGIN` registers them (:func:`enable`).

- ``mix``: the verdict mix, each rung's share of the batch, and ``no_answer``, ``unscored``;
- ``length``: answer length in characters (``chars``), in tokens where known (``tokens``);
- ``failures``: ``off_ladder`` (the judge replied, but with no verdict) and ``judge_failure``
  (the call failed) as shares of the answers found;
- ``guard``: ``refused`` (the ladder's answer guard refused the answer) and ``flagged`` (the
  guard with every opt-in check on would refuse it), shares of the batch;
- ``attacks``: ``matched``, the share of answers matching a registered attack family (the
  red-team catalogue: its content-free answers, or the guard check meant to stop a family),
  and ``<family>`` for each family matched;
- ``collapse``: ``distinct``, the mean share of distinct answers in a group (1 = all differ).

>>> import numpy as np
>>> from rewardkit.records import Batch
>>> from rewardkit.ladders import SPECIARL
>>> from rewardkit.records import Judged
>>> judged = Judged(SPECIARL, ["cat", "cat", "dog", ":"], np.ones(4, bool),
...                 SPECIARL.encode(["wrong", "wrong", "generic", "specific"]))
>>> collapse(judged, np.zeros(4), 2)
{'distinct': 0.75}
>>> attacks(judged, np.zeros(4), 2)["matched"]
0.25
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from ..guards import AnswerGuard
from ..hookspecs import hookimpl
from ..ladders import MISSING, Ladder
from ..records import Judged
from ..replies import skeleton

__all__ = ["MONITORS", "PLUGIN", "enable", "mix", "length", "failures", "guard", "attacks"]

REFUSED = "no valid answer"
OFF_LADDER = "off ladder"

# The strict guard's reasons, by the check (an attack family's ``guards``) that gives them.
_REASONS = (
    ("content-free", "content_free"),
    ("verdict syntax", "verdict_syntax"),
    ("rung name", "rung_names"),
    ("chat-control", "chat_markers"),
    ("answer over", "overlong"),
)


def mix(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """Each rung's share of the batch, and ``no_answer`` and ``unscored`` shares."""
    n = len(judged.codes)
    if not n:
        return {}
    codes = np.where(judged.found, judged.codes, MISSING)
    counts = np.bincount(codes[codes != MISSING], minlength=len(judged.ladder))
    out = {slug: float(c) / n for slug, c in zip(judged.ladder.slugs, counts.tolist())}
    out["no_answer"] = float(np.count_nonzero(~judged.found)) / n
    out["unscored"] = float(np.count_nonzero((judged.codes == MISSING) & judged.found)) / n
    return out


def _answers(judged: Judged) -> list[str]:
    """Each completion's answer, or its text where no answer was extracted (refused ones)."""
    texts = judged.texts or ()
    return [
        a if a is not None else (texts[i] if i < len(texts) else "")
        for i, a in enumerate(judged.answers)
    ]


def length(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """Mean answer length in characters, and in tokens where the trainer gave them."""
    if not len(judged.codes):
        return {}
    out = {"chars": float(np.mean([len(a) for a in _answers(judged)]))}
    if judged.lengths is not None and len(judged.lengths):
        out["tokens"] = float(np.mean(judged.lengths))
    return out


def failures(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """Off-ladder replies and failed judge calls, as shares of the answers found."""
    found = int(np.count_nonzero(judged.found))
    if not found or not judged.records:
        return {}
    off = fail = 0
    for flag, code, record in zip(judged.found.tolist(), judged.codes.tolist(), judged.records):
        if flag and code == MISSING:
            error = record.error or ""
            if error.startswith(OFF_LADDER) or (not error and record.reply is not None):
                off += 1
            else:
                fail += 1
    return {"off_ladder": off / found, "judge_failure": fail / found}


@lru_cache(maxsize=16)
def _strict(ladder: Ladder) -> AnswerGuard:
    labels = [label for r in ladder.rungs for label in (r.slug, r.name)]
    return ladder.guard.with_checks("all").for_labels(labels)


_LAST: list = [None, None]  # the last batch checked and its checks (guard and attacks share)


def _checks(judged: Judged) -> list[str | None]:
    """Per completion: the guard check refusing it (the ladder's or the strict one), or None."""
    if _LAST[0] is judged:
        return _LAST[1]
    _LAST[0], _LAST[1] = judged, _checks_of(judged)
    return _LAST[1]


def _checks_of(judged: Judged) -> list[str | None]:
    strict = _strict(judged.ladder)
    seen: dict[str, str | None] = {}
    out = []
    errors = [r.error for r in judged.records] if judged.records else [None] * len(judged.codes)
    for answer, error in zip(_answers(judged), errors):
        if error and error.startswith(REFUSED):
            why: str | None = error
        else:
            if answer not in seen:
                seen[answer] = strict.check(answer) if answer else None
            why = seen[answer]
        out.append(None if why is None else next((c for k, c in _REASONS if k in why), "other"))
    return out


def guard(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """Answers the ladder's guard refused, and those the guard with every check would."""
    n = len(judged.codes)
    if not n:
        return {}
    refused = sum(bool(r.error and r.error.startswith(REFUSED)) for r in judged.records)
    flagged = sum(c is not None for c in _checks(judged))
    return {"refused": refused / n, "flagged": flagged / n}


@lru_cache(maxsize=1)
def _catalogue() -> tuple[frozenset[str], dict[str, tuple[str, ...]], dict[str, str]]:
    """The registered families' content-free answers (as a person reads them, by family) and
    the guard checks meant to stop each family."""
    from ..ladders import SPECIARL
    from ..plugins import attacks as registered
    from ..redteam.attacks import Target

    target = Target("\x00label", "\x00wrong", SPECIARL)
    texts: dict[str, str] = {}
    stops: dict[str, tuple[str, ...]] = {}
    for name, family in registered().items():
        stops[name] = tuple(family.guards)
        for attack in family.attacks(target):
            if attack.base is None and "\x00" not in attack.prediction:
                texts.setdefault(_key(attack.prediction), name)
    return frozenset(texts), stops, texts


def _key(text: str) -> str:
    return skeleton(text).casefold().strip()


def attacks(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """Answers matching a registered attack family: one of its content-free answers, or
    refused by a guard check meant to stop it; ``matched`` and a share per family."""
    n = len(judged.codes)
    if not n:
        return {}
    _, stops, texts = _catalogue()
    by_check: dict[str, list[str]] = {}
    for name, checks in stops.items():
        for check in checks:
            by_check.setdefault(check, []).append(name)
    counts: dict[str, int] = {}
    matched = 0
    seen: dict[str, str | None] = {}
    for answer, why in zip(_answers(judged), _checks(judged)):
        names = set(by_check.get(why, ())) if why is not None else set()
        if answer not in seen:
            seen[answer] = texts.get(_key(answer)) if len(answer) <= 200 else None
        family = seen[answer]
        if family is not None:
            names.add(family)
        matched += bool(names)
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return {"matched": matched / n, **{k: v / n for k, v in sorted(counts.items())}}


def collapse(judged: Judged, rewards: Any, group_size: int) -> dict[str, float]:
    """The mean share of distinct answers in a group (no answer counts as one answer)."""
    n = len(judged.codes)
    if not n or group_size < 1 or n % group_size:
        return {}
    answers = [None if not f else a for a, f in zip(judged.answers, judged.found.tolist())]
    shares = [len(set(answers[i : i + group_size])) / group_size for i in range(0, n, group_size)]
    return {"distinct": float(np.mean(shares))}


#: The monitors by the name they are registered (and logged) under.
MONITORS: dict[str, Callable[[Judged, Any, int], dict[str, float]]] = {
    "mix": mix,
    "length": length,
    "failures": failures,
    "guard": guard,
    "attacks": attacks,
    "collapse": collapse,
}


class _Plugin:
    """Registers :data:`MONITORS` through the ``register_metrics`` hook."""

    @hookimpl
    def register_metrics(self, register: Callable) -> None:
        for name, metric in MONITORS.items():
            register(name, metric)


PLUGIN = _Plugin()
PLUGIN_NAME = "rewardkit.monitor"


_USERS = [0]  # monitors that enabled the plugin and have not released it


def enable() -> None:
    """Register the monitors (once): every adapter then logs them with its metrics. Each call
    holds them registered until a matching :func:`release`."""
    from ..plugins import pm

    _USERS[0] += 1
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(PLUGIN, name=PLUGIN_NAME)


def release() -> None:
    """Give back one :func:`enable`; the last one unregisters the monitors."""
    _USERS[0] = max(0, _USERS[0] - 1)
    if not _USERS[0]:
        disable()


def disable() -> None:
    """Unregister the monitors now."""
    from ..plugins import pm

    _USERS[0] = 0
    if pm.get_plugin(PLUGIN_NAME) is not None:
        pm.unregister(name=PLUGIN_NAME)
