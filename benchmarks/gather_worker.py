"""Under torchrun: the cost of TRLReward's cross-process gather against its local work.

Each of 2 processes holds 24 completions: with G = 8 groups are whole on each process (no
collective); with G = 16 the middle group straddles the two and the reward gathers.
Writes OUT/rank<r>.json.
"""

import json
import os
import sys
import time

import torch.distributed as dist

import rewardkit as rk
from rewardkit.adapters.trl import TRLReward, _all_gather, _prompt_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAXONOMY = os.path.join(ROOT, "examples", "data", "animals.json")


def main(out: str, rounds: int = 200) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY)
    n = 24
    answers = ["dog", "spitz", "samoyed", "cat", "animal", "none", "warbler", "bird"]
    completions = [f"<think>...</think><answer>{answers[i % 8]}</answer>" for i in range(n)]
    labels = ["samoyed"] * n
    prompts = ["Classify the image."] * n
    whole = TRLReward(reward, num_generations=8)  # 24 % 8 == 0: whole groups, no gather
    gathered = TRLReward(reward, num_generations=16)  # 24 % 16 != 0: gathers
    keys = [_prompt_key(p, y) for p, y in zip(prompts, labels)]
    judged = reward.judge_completions(completions, labels)

    def timed(fn):
        dist.barrier()
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        return (time.perf_counter() - start) / rounds

    result = {
        "whole_groups_call_s": timed(lambda: whole(prompts, completions, label=labels)),
        "split_groups_call_s": timed(lambda: gathered(prompts, completions, label=labels)),
        "gather_only_s": timed(lambda: _all_gather((judged.codes, judged.found, keys), world)),
    }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    os._exit(0)  # results are written; skip interpreter shutdown (see tests/trl_worker.py)
