"""A walk-through of rewardkit's three steps on a few GRPO groups, with no model at all.

Each group holds the answers a policy sampled for one image. The taxonomy judge places every
answer on the SpeciaRL ladder, each reward rule turns the verdicts into rewards, and the
metrics summarise them. Run: ``python examples/quickstart.py`` (or ``make demo``).
"""

from pathlib import Path

import rewardkit as rk

TAXONOMY = Path(__file__).parent / "data" / "animals.json"

# (ground truth, the 4 completions sampled for it)
GROUPS = [
    (
        "samoyed",
        [
            "<answer>dog</answer>",
            "<answer>spitz</answer>",
            "<think>white, fluffy</think><answer>Samoyed</answer>",
            "<answer>cat</answer>",
        ],
    ),
    (
        "golden-winged warbler",
        [
            "<answer>bird</answer>",
            "<answer>warbler</answer>",
            "<answer>warbler</answer>",
            "<answer>robin or cardinal</answer>",
        ],
    ),
    (
        "siberian husky",
        [
            "<answer>samoyed</answer>",
            "<answer>cat</answer>",
            "<answer>siamese cat</answer>",
            "no answer tag at all",
        ],
    ),
    (
        "spitz",
        [
            "<answer>I don't know</answer>",
            "<answer>samoyed</answer>",
            "<answer>dog</answer>",
            "<answer>spitz</answer>",
        ],
    ),
]
G = 4


def main() -> None:
    judge = rk.TaxonomyJudge(TAXONOMY)
    labels = [truth for truth, completions in GROUPS for _ in completions]
    completions = [c for _, group in GROUPS for c in group]

    # 1. Answers: pull the final answer out of each completion.
    answers, found = rk.extract_answers(completions)
    # 2. Verdicts: one batch call, identical pairs judged once.
    verdicts = judge.judge(list(zip(labels, answers)))
    # 3. Rewards: the same verdicts under each rule.
    rules = {name: rk.get_rule(name) for name in ("speciarl", "exact", "correct", "graded")}
    rewards = {
        name: rule(verdicts, group_size=G, answer_found=found) for name, rule in rules.items()
    }

    header = f"{'ground truth':<22} {'answer':<20} {'verdict':<14}" + "".join(
        f"{name:>9}" for name in rules
    )
    print(header)
    print("-" * len(header))
    for i, (label, answer, verdict) in enumerate(zip(labels, answers, verdicts)):
        if i and i % G == 0:
            print()
        cells = "".join(f"{_fmt(rewards[name][i]):>9}" for name in rules)
        print(f"{label:<22} {_fmt(answer):<20} {_fmt(verdict):<14}{cells}")

    print(
        f"\njudge: {judge.stats.pairs} pairs, {judge.stats.unique} judged "
        f"(duplicates de-duplicated), {judge.stats.missing} without an answer"
    )
    s = rk.score([v if f else None for v, f in zip(verdicts, found)])
    best = rk.best_of_n([v if f else None for v, f in zip(verdicts, found)], G)
    print(
        f"all answers:   correctness {s.correctness:.3f}  specificity {s.specificity:.3f}  "
        f"HM {s.hm:.3f}  ({s.unscored} unscored)"
    )
    print(
        f"best of {G}:     correctness {best.correctness:.3f}  "
        f"specificity {best.specificity:.3f}  HM {best.hm:.3f}"
    )
    print("\nspeciarl rewards the best rung each group reached; exact only exact names;")
    print("correct anything not wrong; graded every rung by its specificity score.")


def _fmt(value) -> str:
    return "-" if value is None else value if isinstance(value, str) else f"{value:g}"


if __name__ == "__main__":
    main()
