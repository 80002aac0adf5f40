"""A run's monitor records as a Markdown summary and a PNG (``rewardkit monitor RUN_DIR``).

The figure (needs matplotlib, ``pip install 'rewardkit-rl[demo]'``) has four panels over the
training steps: the mean reward of the audited completions under the training judge and
under the audit judge (per step they were sampled in) with the alarms fired; the window's
kappa and flattery share; the verdict mix; the answer length.

>>> run = {"settings": {}, "steps": [{"step": 1, "reward/train": 0.5, "alarms": []}],
...        "audits": [{"step": 1, "train_reward": 1.0, "audit_reward": 0.5,
...                    "train_verdict": "specific", "audit_verdict": "generic",
...                    "flagged": True}]}
>>> per_step(run["audits"])
{1: {'rows': 1, 'train_reward': 1.0, 'audit_reward': 0.5, 'flagged': 1.0}}
>>> print(summary(run).splitlines()[0])
# Reward monitor: 1 steps
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["per_step", "summary", "plot"]


def per_step(audits: Sequence[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Audited completions by the step they were sampled in: count, both judges' mean
    rewards (rows where both are known) and the flagged share."""
    by: dict[int, list[dict[str, Any]]] = {}
    for row in audits:
        by.setdefault(int(row["step"]), []).append(row)
    out = {}
    for step in sorted(by):
        rows = by[step]
        paid = [
            r
            for r in rows
            if r.get("train_reward") is not None and r.get("audit_reward") is not None
        ]
        figures: dict[str, float] = {"rows": len(rows)}
        if paid:
            figures["train_reward"] = sum(r["train_reward"] for r in paid) / len(paid)
            figures["audit_reward"] = sum(r["audit_reward"] for r in paid) / len(paid)
        figures["flagged"] = sum(bool(r.get("flagged")) for r in rows) / len(rows)
        out[step] = figures
    return out


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def summary(run: dict[str, Any]) -> str:
    """Markdown: the settings, the alarms fired, and the last step's window figures."""
    steps, audits, settings = run["steps"], run["audits"], run.get("settings") or {}
    lines = [f"# Reward monitor: {len(steps)} steps", ""]
    if settings:
        audit = settings.get("audit")
        lines.append(
            f"Training judge `{settings.get('judge')}`, rule `{settings.get('rule')}`, ladder "
            f"`{settings.get('ladder')}`; "
            + (
                f"audit judge `{audit['judge']}` on {audit['rate']:.0%} of the groups"
                if audit
                else "no audit judge"
            )
            + f"; window {settings.get('window')} steps; alarms {settings.get('alarms')}."
        )
        lines.append("")
    alarms = [a for s in steps for a in s.get("alarms", [])]
    lines += ["## Alarms", ""]
    if alarms:
        lines += ["| step | alarm | value | threshold | evidence |", "|---|---|---|---|---|"]
        for a in alarms:
            ev = a.get("evidence") or {}
            shown = ", ".join(
                f"{e['prediction']!r} for {e['label']!r}: "
                f"{e['train_verdict']} vs {e['audit_verdict']}"
                for e in ev.get("examples", [])
            ) or ", ".join(f"{k} {v}" for k, v in ev.items())
            lines.append(
                f"| {a['step']} | {a['name']} | {_num(a['value'])} | {a['threshold']} | {shown} |"
            )
    else:
        lines.append("No alarm fired.")
    if steps:
        last = steps[-1]
        lines += ["", f"## Last step ({last.get('step')}): the window", ""]
        lines += ["| figure | value |", "|---|---|"]
        for key in sorted(k for k in last if k.startswith(("window/", "reward/"))):
            lines.append(f"| {key} | {_num(last[key])} |")
    if audits:
        flagged = sum(bool(r.get("flagged")) for r in audits)
        failed = sum(
            r.get("audit_error") is not None and r.get("audit_verdict") is None for r in audits
        )
        lines += [
            "",
            f"{len(audits)} completions audited, {flagged} flagged (training verdict above the "
            f"audit verdict), {failed} without an audit verdict.",
        ]
    return "\n".join(lines) + "\n"


def _mix_keys(steps: Sequence[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    """The ``mix/`` keys in ladder order (the settings' ladder, when registered)."""
    keys = {k for s in steps for k in s if k.startswith("mix/")}
    order: list[str] = []
    try:
        from ..plugins import get_ladder

        order = [f"mix/{slug}" for slug in get_ladder(settings.get("ladder", "")).slugs]
    except LookupError:
        pass
    return [k for k in order if k in keys] + sorted(keys - set(order))


def plot(run: dict[str, Any], path: str, title: str | None = None) -> None:
    """Draw the run's monitor figures to ``path`` (PNG); ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, audited = run["steps"], per_step(run["audits"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    ax = axes[0][0]
    xs = sorted(audited)
    for key, label in (("train_reward", "training judge"), ("audit_reward", "audit judge")):
        ax.plot(xs, [audited[x].get(key) for x in xs], marker=".", label=label)
    ax.set_title("reward of the audited completions")
    ax = axes[0][1]
    xs = [s["step"] for s in steps]
    for key in ("window/kappa", "window/flattery", "window/gap"):
        ax.plot(xs, [s.get(key) for s in steps], label=key.split("/")[1])
    ax.set_title("audit agreement (window)")
    ax = axes[1][0]
    mix = _mix_keys(steps, run.get("settings") or {})
    if mix:
        ax.stackplot(xs, [[s.get(k, 0.0) for s in steps] for k in mix], labels=[m[4:] for m in mix])
        ax.set_ylim(0, 1)
    ax.set_title("verdict mix (training judge)")
    ax = axes[1][1]
    ax.plot(xs, [s.get("length/chars") for s in steps], label="answer chars")
    if any("length/tokens" in s for s in steps):
        ax.plot(xs, [s.get("length/tokens") for s in steps], label="completion tokens")
    ax.set_title("answer length")
    twin = ax.twinx()
    twin.plot(xs, [s.get("collapse/distinct") for s in steps], color="green", ls=":")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("distinct answers per group (dotted)")
    for ax in axes.flat:
        for s in steps:
            for a in s.get("alarms", []):
                ax.axvline(a["step"], color="red", lw=0.8, ls="--")
        ax.set_xlabel("step")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title or "rewardkit monitor (red: alarms)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
