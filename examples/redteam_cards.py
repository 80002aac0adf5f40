"""The robustness cards of rewardkit's bundled offline judges (docs/judges/redteam.md).

    python examples/redteam_cards.py runs/cards [taxonomy|tiny-hf ...]

writes ``runs/cards/taxonomy`` and ``runs/cards/tiny-hf`` (card.json, card.md, card.png): the
taxonomy judge on examples/data/animals.json and the tiny offline HF judge (an untrained
100k-parameter model from ``rewardkit.tiny``), on the rows of examples/data/redteam.jsonl with
the SpeciaRL rule in groups of 8. It then prints each family's false-positive rate under three
guards - the ladder guard before the opt-in checks (overlong, chat markers), the SpeciaRL
ladder's guard (plus content-free answers) and every check - from the same verdicts. Needs
``rewardkit-rl[trl]`` for the HF judge (about a minute on a CPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import rewardkit as rk
from rewardkit.guards import AnswerGuard
from rewardkit.redteam import judge_plan, make_card, plan

HERE = Path(__file__).resolve().parent
GUARDS = {
    "before": AnswerGuard(),
    "speciarl": rk.SPECIARL.guard,
    "all": AnswerGuard().with_checks("all"),
}


def tiny_hf_judge(rows: list[dict]):
    from rewardkit.judges.hf import HFJudge
    from rewardkit.judges.prompt import render
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    words = " ".join(m["content"] for m in render(rk.SPECIARL, "samoyed", "spitz")).split()
    labels = " ".join(str(v) for row in rows for v in row.values()).split()
    tokenizer = word_tokenizer([*words, *rk.SPECIARL.slugs, *labels])
    return HFJudge(tiny_causal_lm(tokenizer), tokenizer, device="cpu")


def cards(judge, rows: list[dict], out: Path) -> dict[str, dict[str, float]]:
    """Judge once; the card with the ladder's guard saved in ``out``; the guarded
    false-positive rates per family under each of :data:`GUARDS`."""
    rule = rk.SpeciaRL()
    first = plan(judge, rows)
    records, run = judge_plan(first)
    make_card(first, records, run, rule, 8, 0.05, 0.9).save(out)
    rates: dict[str, dict[str, float]] = {}
    for name, guard in GUARDS.items():
        card = make_card(plan(judge, rows, guard=guard), records, run, rule, 8, 0.05, 0.9)
        for family, f in card.families.items():
            figures = rates.setdefault(family, {"unguarded": f["unguarded"]["fpr"]})
            figures[name] = f["guarded"]["fpr"]
    return rates


def main(out: str, only: list[str]) -> None:
    rows = [json.loads(line) for line in (HERE / "data" / "redteam.jsonl").open()]
    judges = {
        "taxonomy": lambda: rk.TaxonomyJudge(HERE / "data" / "animals.json"),
        "tiny-hf": lambda: tiny_hf_judge(rows),
    }
    for name, make in judges.items():
        if only and name not in only:
            continue
        rates = cards(make(), rows, Path(out) / name)
        print(f"## {name}: false positives unguarded | before | speciarl | all checks")
        for family, r in rates.items():
            row = " | ".join(f"{100 * r[k]:.1f}%" for k in ("unguarded", *GUARDS))
            print(f"| {family} | {row} |")
        print((Path(out) / name / "card.md").read_text())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/cards", sys.argv[2:])
