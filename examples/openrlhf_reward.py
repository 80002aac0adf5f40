"""Write an OpenRLHF reward file and call it the way OpenRLHF does: one sample per call, the
samples of a group in concurrent threads.

    python examples/openrlhf_reward.py
    # then, in an OpenRLHF run:  --reward.remote_url runs/openrlhf/reward.py --data.label_key label
"""

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor

from rewardkit.adapters.openrlhf import write_reward_file

TAXONOMY = os.path.join(os.path.dirname(__file__), "data", "animals.json")


def main() -> None:
    os.makedirs("runs/openrlhf", exist_ok=True)
    path = write_reward_file(
        "runs/openrlhf/reward.py",
        group_size=4,
        rule="speciarl",
        judge_options={"taxonomy": TAXONOMY},
        timeout=30,
    )
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    prompt = "<|im_start|>user Classify the image.<|im_end|><|im_start|>assistant "
    answers = ["dog", "spitz", "cat", "I don't know"]
    queries = [f"{prompt}<think>...</think><answer>{a}</answer><|im_end|>" for a in answers]
    with ThreadPoolExecutor(4) as pool:  # the four siblings arrive concurrently
        results = list(pool.map(lambda q: module.reward_func([q], [prompt], ["samoyed"]), queries))
    for answer, result in zip(answers, results):
        print(
            f"{answer:>14}: reward {float(result['rewards'][0]):+.1f}  "
            f"score {float(result['scores'][0]):.1f}"
        )
    print(f"reward file: {path}")


if __name__ == "__main__":
    main()
