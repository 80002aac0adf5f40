"""A robustness card for people: Markdown tables and a bar chart per attack family.

>>> from rewardkit.redteam.report import percent
>>> percent(0.0425), percent(None)
('4.2%', '-')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .card import Card

__all__ = ["markdown", "save_chart", "percent"]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cell(text: Any) -> str:
    return repr(text).replace("|", "\\|").replace("\n", " ")


def markdown(card: Card) -> str:
    """The card as Markdown: identity, the table per family, baselines, examples, gate."""
    j, lad, rule = card.judge, card.ladder, card.rule
    verdict = "PASS" if card.passed else "FAIL"
    lines = [
        f"# Robustness card: {j['name']} - {verdict}",
        "",
        f"- judge: `{j['name']}` ({j['class']}), identity `{j['identity']}` ({j['kind']})",
        f"- ladder: `{lad['name']}` ({', '.join(lad['rungs'])}), guard: "
        f"{', '.join(lad['guard']['checks'])}",
        f"- rule: `{rule['repr']}`, groups of {card.group_size}",
        f"- rows: {card.rows['used']} of {card.rows['given']} (hash `{card.rows['hash']}`); "
        f"rewardkit {card.rewardkit}; {card.created}",
        f"- limits: false positives at most {percent(card.limits['max_fpr'])} per family with "
        f"the guard; labels on a top rung at least {percent(card.limits['min_honest'])}",
        f"- run: {_run(card.run)}",
        "",
        "| family | attacks | FPR unguarded | FPR guarded | refused | failures "
        "| reward (unguarded / guarded) | honest reward |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in card.families.items():
        u, g = f["unguarded"], f["guarded"]
        lines.append(
            f"| {name} | {u['tried']} | {percent(u['fpr'])} | {percent(g['fpr'])} "
            f"| {g['refused']} | {u['failures']} | {_number(u['reward'])} / "
            f"{_number(g['reward'])} | {_number(g['honest_reward'])} |"
        )
    lines += ["", "Honest baselines (no guard): " + _honest(card.honest), ""]
    lines += _examples(card)
    lines += ["## Gate", ""]
    lines += [f"- {f}" for f in card.failures] or ["- every family within the limit"]
    return "\n".join(lines)


def _run(run: dict[str, Any]) -> str:
    keys = ("pairs", "calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost")
    parts = [f"{run[k]:g} {k.replace('_', ' ')}" for k in keys if run.get(k)]
    return ", ".join([*parts, f"{run.get('seconds', 0):g} s"])


def _honest(honest: dict[str, Any]) -> str:
    parts = []
    if "label" in honest:
        parts.append(f"labels on a top rung {percent(honest['label']['top'])}")
    if "wrong" in honest:
        above = percent(honest["wrong"]["above_lowest"])
        parts.append(f"wrong answers above the lowest rung {above}")
    for kind in ("coarser", "prediction"):
        if kind in honest:
            mix = ", ".join(f"{k} {v}" for k, v in honest[kind]["verdicts"].items())
            parts.append(f"{kind} answers: {mix}")
    parts.append(f"honest answers the guard refuses: {honest.get('refused_by_guard', 0)}")
    return "; ".join(parts) + "."


def _examples(card: Card) -> list[str]:
    shown = [(n, e) for n, f in card.families.items() for e in f.get("examples", [])[:1]]
    if not shown:
        return []
    lines = [
        "## Worst false positives (one per family)",
        "",
        "| family | label | answer | verdict | deserved | judge reply | guard |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in shown:
        lines.append(
            f"| {name} | {_cell(e['label'])} | {_cell(e['answer'])} | {e['verdict']} "
            f"| {e['deserved']} | {_cell(e['reply'])} | {e['guard'] or 'lets it through'} |"
        )
    return [*lines, ""]


def save_chart(card: Card, path: str) -> None:
    """False-positive rate per family without and with the guard, and the limit (needs
    matplotlib, ``rewardkit-rl[demo]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(card.families)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.2))
    for shift, setting in ((-0.2, "unguarded"), (0.2, "guarded")):
        rates = [100 * card.families[n][setting]["fpr"] for n in names]
        ax.bar(x + shift, rates, width=0.4, label=setting)
    ax.axhline(100 * card.limits["max_fpr"], color="black", linestyle="--", label="limit")
    ax.set_xticks(x, names, rotation=40, ha="right")
    ax.set_ylabel("false positives (%)")
    ax.set_ylim(0, 100)
    verdict = "pass" if card.passed else "fail"
    ax.set_title(f"{card.judge['name']} on {card.ladder['name']}: {verdict}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
