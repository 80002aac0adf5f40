"""verl reward functions: compute_score (one sample, static rules) and compute_score_batch
(whole groups, for verl's batch reward manager).

    python examples/verl_reward.py

In a verl config (releases before 0.9; for verl 0.9 see docs/trainers/verl.md,
RewardkitRewardManager):
    custom_reward_function.path=<site-packages>/rewardkit/adapters/verl.py
    custom_reward_function.name=compute_score_batch
    reward_model.reward_manager=batch
    +custom_reward_function.reward_kwargs.group_size=<actor_rollout_ref.rollout.n>
    +custom_reward_function.reward_kwargs.taxonomy=/path/taxonomy.json
"""

import os

from rewardkit.adapters.verl import compute_score, compute_score_batch

TAXONOMY = os.path.join(os.path.dirname(__file__), "data", "animals.json")


def main() -> None:
    one = compute_score(
        "animals", "<answer>Spitz</answer>", "samoyed", {}, rule="graded", taxonomy=TAXONOMY
    )
    print("compute_score, graded reward:", one)
    responses = [
        "<answer>dog</answer>",
        "<answer>spitz</answer>",
        "<answer>cat</answer>",
        "no answer",
    ]
    batch = compute_score_batch(
        ["animals"] * 4,
        responses,
        ["samoyed"] * 4,
        None,
        group_size=4,
        rule="speciarl",
        taxonomy=TAXONOMY,
    )
    for response, result in zip(responses, batch):
        print(
            f"compute_score_batch, speciarl reward: {response:>24} -> {result['score']:+.1f} "
            f"({result['verdict']})"
        )


if __name__ == "__main__":
    main()
