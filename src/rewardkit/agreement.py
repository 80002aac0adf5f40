"""How far two judges agree on one ladder, and what their disagreements do to the rewards.

Before spending GPU hours on an LLM-judged reward, compare the candidate judge (B) with a
better one or with human labels (A) on a labelled sample: raw agreement, Cohen's kappa and its
linearly and quadratically weighted forms (the ladder is ordinal: "generic" for "less specific"
is a smaller miss than "wrong"), the confusion matrix in ladder order, per-rung precision and
recall of B against A, and the share of disagreements where B is *higher* - a judge that
flatters is worse for RL than one that is strict. With groups, it counts the rewards a rule
would give differently if B replaced A, and the groups whose reference (best) rung changes.

>>> from rewardkit.ladders import SPECIARL
>>> a = ["specific", "generic", "wrong", "less_specific"]
>>> b = ["specific", "less_specific", "wrong", "less_specific"]
>>> report = agreement(a, b, SPECIARL)
>>> report.raw, report.b_higher
(0.75, 1.0)
>>> round(report.kappa, 3)
0.667
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .ladders import MISSING, Ladder

__all__ = ["Agreement", "agreement", "cohen_kappa"]


@dataclass
class Agreement:
    """The report of :func:`agreement`; ``to_dict()`` gives it as JSON-ready data.

    ``n`` counts rows where both judges gave a verdict (the rest are each judge's
    ``unscored``); statistics that are undefined are ``None`` with the reason in ``notes``.
    ``confusion[i][j]``: rows A put on rung i and B on rung j, in ladder order.
    """

    ladder: str
    names: tuple[str, str]
    rows: int
    n: int
    unscored: dict[str, int]
    raw: float | None
    kappa: float | None
    kappa_linear: float | None
    kappa_quadratic: float | None
    rungs: list[str]
    confusion: list[list[int]]
    per_rung: dict[str, dict[str, float | int | None]]
    disagreements: int
    b_higher: float | None
    rewards: dict[str, Any] | None = None
    cost: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["names"] = list(self.names)
        return out

    def markdown(self) -> str:
        """A short Markdown report: the figures, then the confusion matrix."""
        a, b = self.names

        def num(x: Any) -> str:
            return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

        lines = [
            f"# Judge agreement: {b} against {a} ({self.ladder} ladder)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| rows | {self.rows} |",
            f"| rows with both verdicts | {self.n} |",
            f"| unscored ({a} / {b}) | {self.unscored[a]} / {self.unscored[b]} |",
            f"| raw agreement | {num(self.raw)} |",
            f"| Cohen's kappa | {num(self.kappa)} |",
            f"| kappa, linear weights | {num(self.kappa_linear)} |",
            f"| kappa, quadratic weights | {num(self.kappa_quadratic)} |",
            f"| disagreements where {b} is higher | {num(self.b_higher)} |",
        ]
        if self.rewards:
            r = self.rewards
            lines += [
                f"| rewards changed ({r['rule']}, groups of {r['group_size']}) "
                f"| {r['changed']} of {r['completions']} |",
                f"| groups whose reference rung changed | {r['groups_changed']} of {r['groups']} |",
            ]
        for name, cost in self.cost.items():
            parts = ", ".join(f"{k} {num(v)}" for k, v in cost.items())
            lines.append(f"| cost of {name} | {parts} |")
        lines += ["", f"Confusion (rows: {a}, columns: {b}):", ""]
        lines.append("| | " + " | ".join(self.rungs) + " |")
        lines.append("|---" * (len(self.rungs) + 1) + "|")
        for slug, row in zip(self.rungs, self.confusion):
            lines.append(f"| **{slug}** | " + " | ".join(map(str, row)) + " |")
        lines += ["", f"Per rung ({b} against {a}):", "", "| rung | precision | recall |"]
        lines.append("|---|---|---|")
        for slug, s in self.per_rung.items():
            lines.append(f"| {slug} | {num(s['precision'])} | {num(s['recall'])} |")
        if self.notes:
            lines += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def cohen_kappa(confusion: np.ndarray, weights: str | None = None) -> float | None:
    """Cohen's kappa of a square confusion matrix; ``weights`` ``None``, ``"linear"`` or
    ``"quadratic"`` (distance between rungs). ``None`` when it is undefined (chance agreement
    is already perfect: both judges used one and the same rung only, or no rows)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    k = confusion.shape[0]
    n = confusion.sum()
    if n == 0:
        return None
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j).astype(np.float64)
    elif weights == "quadratic":
        w = ((i - j) ** 2).astype(np.float64)
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    expected = np.outer(confusion.sum(1), confusion.sum(0)) / n
    chance = float((w * expected).sum())
    if chance == 0.0:
        return None
    return 1.0 - float((w * confusion).sum()) / chance


def _codes(verdicts: Sequence[str | None] | np.ndarray, ladder: Ladder, name: str) -> np.ndarray:
    if isinstance(verdicts, np.ndarray) and verdicts.dtype.kind in "iu":
        return verdicts.astype(np.int16)
    try:
        return ladder.encode(verdicts)
    except ValueError as e:
        raise ValueError(f"judge {name}: {e}") from None


def agreement(
    a: Sequence[str | None] | np.ndarray,
    b: Sequence[str | None] | np.ndarray,
    ladder: Ladder,
    *,
    names: tuple[str, str] = ("a", "b"),
    group_size: int | None = None,
    rule: Any = None,
    found: Sequence[bool] | None = None,
) -> Agreement:
    """Compare judge ``b`` with judge ``a`` on the same rows (verdict slugs, ``None`` where a
    judge gave none, or rung codes).

    With ``group_size`` (consecutive rows form a group) and ``rule`` (a
    :class:`~rewardkit.rules.RewardRule` or a registered name), the report counts rewards that
    would change if ``b`` replaced ``a``; ``found`` are the answer-found flags (default: all).
    """
    ca, cb = _codes(a, ladder, names[0]), _codes(b, ladder, names[1])
    if len(ca) != len(cb):
        raise ValueError(f"{len(ca)} verdicts from {names[0]} but {len(cb)} from {names[1]}")
    k = len(ladder)
    both = (ca != MISSING) & (cb != MISSING)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (ca[both], cb[both]), 1)
    n = int(both.sum())
    notes: list[str] = []
    kappas = [cohen_kappa(confusion, w) for w in (None, "linear", "quadratic")]
    if n and kappas[0] is None:
        notes.append("kappa is undefined: both judges put every row on one and the same rung")
    if not n:
        notes.append("no row has a verdict from both judges")
    diag = np.diag(confusion)
    per_rung: dict[str, dict[str, float | int | None]] = {}
    for r, slug in enumerate(ladder.slugs):
        col, row = int(confusion[:, r].sum()), int(confusion[r, :].sum())
        per_rung[slug] = {
            "precision": float(diag[r] / col) if col else None,
            "recall": float(diag[r] / row) if row else None,
            f"n_{names[0]}": row,
            f"n_{names[1]}": col,
        }
    disagreements = n - int(diag.sum())
    higher = int(np.triu(confusion, 1).sum())  # B's rung above A's
    report = Agreement(
        ladder=ladder.name,
        names=(names[0], names[1]),
        rows=len(ca),
        n=n,
        unscored={names[0]: int((ca == MISSING).sum()), names[1]: int((cb == MISSING).sum())},
        raw=float(diag.sum() / n) if n else None,
        kappa=kappas[0],
        kappa_linear=kappas[1],
        kappa_quadratic=kappas[2],
        rungs=list(ladder.slugs),
        confusion=confusion.tolist(),
        per_rung=per_rung,
        disagreements=disagreements,
        b_higher=higher / disagreements if disagreements else None,
        notes=notes,
    )
    if group_size is not None:
        report.rewards = _reward_effects(ca, cb, ladder, names, group_size, rule, found)
    return report


def _reward_effects(
    ca: np.ndarray,
    cb: np.ndarray,
    ladder: Ladder,
    names: tuple[str, str],
    group_size: int,
    rule: Any,
    found: Sequence[bool] | None,
) -> dict[str, Any]:
    """What replacing judge ``a`` by ``b`` changes in the rewards of ``rule`` (see
    :func:`agreement`)."""
    from .metrics import group_best
    from .rules import Batch

    if group_size < 1 or len(ca) % group_size:
        raise ValueError(f"{len(ca)} rows do not split into groups of {group_size}")
    flags = np.ones(len(ca), bool) if found is None else np.asarray(found, dtype=bool)
    if len(flags) != len(ca):
        raise ValueError(f"{len(flags)} answer-found flags for {len(ca)} rows")
    if rule is None:
        rule = "speciarl"
    if isinstance(rule, str):
        from .plugins import get_rule

        rule = get_rule(rule)
    ra = rule.compute(Batch(ladder, ca, flags, group_size))
    rb = rule.compute(Batch(ladder, cb, flags, group_size))
    same = (ra == rb) | (np.isnan(ra) & np.isnan(rb))
    ga, gb = group_best(ca, group_size, ladder), group_best(cb, group_size, ladder)
    return {
        "rule": rule.name,
        "group_size": group_size,
        "completions": len(ca),
        "changed": int((~same).sum()),
        "groups": len(ga),
        "groups_changed": int((ga != gb).sum()),
        "mean_reward": {
            names[0]: float(np.nanmean(ra)) if np.isfinite(ra).any() else None,
            names[1]: float(np.nanmean(rb)) if np.isfinite(rb).any() else None,
        },
    }


def save_heatmap(report: Agreement, path: str) -> None:
    """The confusion matrix as a PNG heatmap (needs matplotlib, ``rewardkit-rl[demo]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(report.confusion)
    k = len(report.rungs)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2, 1.0 * k + 1.5))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(k), report.rungs, rotation=35, ha="right")
    ax.set_yticks(range(k), report.rungs)
    ax.set_xlabel(report.names[1])
    ax.set_ylabel(report.names[0])
    top = confusion.max() if confusion.size else 0
    for i in range(k):
        for j in range(k):
            colour = "white" if top and confusion[i, j] > top / 2 else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", color=colour)
    kappa = "n/a" if report.kappa_quadratic is None else f"{report.kappa_quadratic:.3f}"
    ax.set_title(f"{report.names[1]} vs {report.names[0]}: quadratic kappa {kappa}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
