"""A GRPOTrainer run with a rewardkit reward, for the tests (one process or under torchrun).

Each process records what its reward function saw and returned to OUT/rank<r>.json.
usage: python trl_worker.py OUT BATCH G [--vision] [--scripted] [--monitor]
With --vision the policy is a tiny Qwen2.5-VL and the prompts are chat messages with an image.
With --scripted the reward sees chosen answers instead of the policy's: the last member of each
group names its label, the others say "animal" - so a group split across processes and
rewarded piecewise gets other rewards than the whole group (the gather is tested in effect).
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import rewardkit as rk  # noqa: E402
from rewardkit.adapters.trl import TRLReward  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, tiny_vision_lm, word_tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAXONOMY = os.path.join(ROOT, "examples", "data", "animals.json")


class Recording(TRLReward):
    def __init__(self, *args, out, scripted=False, **kw):
        super().__init__(*args, **kw)
        self.out, self.calls, self.scripted = out, [], scripted

    def __call__(self, prompts, completions, **kwargs):
        if self.scripted:
            completions = scripted(completions, kwargs["label"], self.group_sizes[0])
        rewards = super().__call__(prompts, completions, **kwargs)
        self.calls.append(
            {
                "prompts": prompts,
                "completions": completions,
                "labels": kwargs["label"],
                "rewards": rewards,
            }
        )
        rank = int(os.environ.get("RANK", 0))
        with open(os.path.join(self.out, f"rank{rank}.json"), "w") as f:
            json.dump(self.calls, f, default=lambda o: type(o).__name__)
        return rewards


def scripted(completions, labels, group):
    """The label for each group's last member (global position), "animal" for the rest."""
    first = int(os.environ.get("RANK", 0)) * len(completions)
    return [
        label if (first + i) % group == group - 1 else "animal" for i, label in enumerate(labels)
    ]


def main(
    out: str, batch: int, group: int, vision: bool, script: bool = False, watch: bool = False
) -> None:
    # torchrun starts each worker in a session of its own: the test kills them by these files.
    with open(os.path.join(out, f"pid{os.environ.get('RANK', 0)}"), "w") as f:
        f.write(str(os.getpid()))
    taxonomy = rk.Taxonomy.load(TAXONOMY)
    tokenizer = word_tokenizer(["classify", *taxonomy.names], vision=vision)
    labels = ["samoyed", "spitz", "dog", "golden retriever", "warbler", "cat"] * 2
    if vision:
        from PIL import Image

        model, processing = tiny_vision_lm(tokenizer, seed=0)
        prompt = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "classify"}]}
        ]
        images = [Image.new("RGB", (32, 32), (40 * i % 255, 90, 160)) for i in range(len(labels))]
        data = Dataset.from_dict(
            {"prompt": [prompt] * len(labels), "image": images, "label": labels}
        )
    else:
        model, processing = tiny_causal_lm(tokenizer, seed=0), tokenizer
        data = Dataset.from_dict({"prompt": [f"classify {x}" for x in labels], "label": labels})
    args = GRPOConfig(
        output_dir=os.path.join(out, "trainer"),
        num_generations=group,
        per_device_train_batch_size=batch,
        max_steps=2,
        max_completion_length=2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=0,
        temperature=1.5,
    )
    ladder_reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=TAXONOMY, tag=None)
    monitor = None
    if watch:
        from rewardkit.monitor import Alarms, Audit, Monitor

        auditor = rk.get_judge("taxonomy", taxonomy=TAXONOMY)
        audit = Audit(auditor, rate=1.0, seed=0, background=False)
        monitor = Monitor(ladder_reward, audit=audit, alarms=Alarms(policy="warn"), window=2)
    reward = Recording(ladder_reward, args, out=out, scripted=script, monitor=monitor)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=data,
        processing_class=processing,
    )
    trainer.train()
    if int(os.environ.get("RANK", 0)) == 0:
        with open(os.path.join(out, "log_history.json"), "w") as f:
            json.dump(trainer.state.log_history, f)
    import torch.distributed as dist

    if dist.is_initialized():  # every rank's files are written before any rank leaves
        dist.barrier()
    # No destroy_process_group: a rank left alone in it (its peer already gone) waited in
    # gloo for ever; the process leaves with os._exit below, before gloo's threads can abort.


if __name__ == "__main__":
    main(
        sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "--vision" in sys.argv,
        "--scripted" in sys.argv, "--monitor" in sys.argv,
    )
    # Everything is written. Leave now: under torchrun a worker sometimes hung in interpreter
    # shutdown (joining a native thread) after training had finished.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
