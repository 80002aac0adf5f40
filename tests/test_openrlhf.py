"""The OpenRLHF reward file, driven by OpenRLHF's own SingleTurnAgentExecutor.

vLLM cannot run here, so a small stand-in engine returns scripted completions through the
``generate`` call the executor makes; everything from tokenising the prompt to loading the
reward file and calling ``reward_func`` in threads is OpenRLHF's own code.
"""

import asyncio
import random
import time
from types import SimpleNamespace

import openrlhf.utils.agent as agent  # noqa: E402
import pytest

import rewardkit as rk  # noqa: E402
from rewardkit.adapters.openrlhf import RendezvousReward, write_reward_file  # noqa: E402
from rewardkit.tiny import word_tokenizer  # noqa: E402

from .conftest import ANIMALS  # noqa: E402

ANSWERS = ["dog", "spitz", "samoyed", "cat", "animal", "I don't know", None]


class Engine:
    """Answers each generate() with a scripted completion after a random delay."""

    def __init__(self, tokenizer, script, fail=()):
        self.tokenizer, self.script, self.fail = tokenizer, script, set(fail)
        self.rng = random.Random(0)

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        prompt = self.tokenizer.decode(prompt_token_ids)
        answer = self.script[prompt].pop()
        await asyncio.sleep(self.rng.random() * 0.05)
        if answer == "FAIL":
            raise RuntimeError("generation failed")
        text = "no tags here" if answer is None else f" <answer> {answer} </answer> <|im_end|>"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        out = SimpleNamespace(token_ids=ids, text=text, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


def rollout(reward_file, prompts, labels, script, group):
    """What OpenRLHF's engine does: N samples per prompt, every prompt in flight at once."""
    taxonomy = rk.Taxonomy.load(ANIMALS)
    words = {w for p in prompts for w in p.split()}
    tokenizer = word_tokenizer(
        ["no", "tags", "here", "I", "don't", "know", *words, *taxonomy.names]
    )

    async def main():
        remote = reward_file if isinstance(reward_file, list) else str(reward_file)
        executor = agent.SingleTurnAgentExecutor(remote_rm_url=remote)  # in the loop
        engine = Engine(tokenizer, script)
        params = SimpleNamespace(max_tokens=16, logprobs=None)

        async def responses(prompt, label):
            tasks = [
                executor.execute(prompt, label, params, 64, tokenizer, engine) for _ in range(group)
            ]
            return await asyncio.gather(*tasks, return_exceptions=True)

        return await asyncio.gather(*(responses(p, y) for p, y in zip(prompts, labels)))

    return asyncio.run(main())


def make_script(prompts, group, seed=0, fail=None):
    rng = random.Random(seed)
    script = {p: [rng.choice(ANSWERS) for _ in range(group)] for p in prompts}
    if fail:
        script[fail][0] = "FAIL"
    return script


def test_rewards_equal_offline_group_rewards_with_many_samples_in_flight(tmp_path):
    group, n_prompts = 4, 16  # 64 samples at once, far more than the default thread pool
    path = write_reward_file(
        tmp_path / "reward.py",
        group_size=group,
        timeout=30,
        judge_options={"taxonomy": str(ANIMALS)},
    )
    labels = [random.Random(i).choice(["samoyed", "spitz", "dog"]) for i in range(n_prompts)]
    prompts = [f"classify {i} {y}" for i, y in enumerate(labels)]
    script = make_script(prompts, group)
    expected_answers = {p: list(reversed(a)) for p, a in script.items()}  # pop() order
    start = time.monotonic()
    results = rollout(path, prompts, labels, script, group)
    assert time.monotonic() - start < 20  # no sample waited for a timeout

    offline = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    for prompt, label, outputs in zip(prompts, labels, results):
        answers = expected_answers[prompt]
        completions = [f"<answer>{a}</answer>" if a is not None else "none" for a in answers]
        want = offline(completions, [label] * group, group_size=group)
        # The engine hands out answers in task order and outputs come back in task order,
        # so output i carries answers[i].
        got = [float(o["reward"][0]) for o in outputs]
        assert got == want, (prompt, answers)
        flat = float(len({w for w in want if w == w}) <= 1)  # one reward for all: no signal
        for o in outputs:
            assert float(o["extra_logs"]["partial_group"][0]) == 0.0
            assert float(o["extra_logs"]["zero_variance_group"][0]) == flat
            assert 0.0 <= float(o["scores"][0]) <= 1.0


def test_a_sibling_that_never_arrives_ends_in_the_fallback(tmp_path):
    group = 4
    path = write_reward_file(
        tmp_path / "reward.py",
        group_size=group,
        timeout=1.0,
        judge_options={"taxonomy": str(ANIMALS)},
    )
    prompts, labels = ["classify a samoyed"], ["samoyed"]
    script = {prompts[0]: ["FAIL", "spitz", "dog", "cat"]}  # pop(): cat, dog, spitz, then FAIL
    start = time.monotonic()
    (outputs,) = rollout(path, prompts, labels, script, group)
    elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed  # waited about one timeout, no hang
    failed = [o for o in outputs if isinstance(o, Exception)]
    done = [o for o in outputs if not isinstance(o, Exception)]
    assert len(failed) == 1 and len(done) == 3
    # The three present siblings are rewarded as a group: spitz (less specific) is the best.
    rewards = sorted(float(o["reward"][0]) for o in done)
    assert rewards == [0.0, 0.0, 1.0]
    assert all(float(o["extra_logs"]["partial_group"][0]) == 1.0 for o in done)


def test_late_sibling_is_rewarded_at_once_against_the_closed_group():
    reward = RendezvousReward(
        rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS), 3, timeout=0.2
    )
    first = reward(["p <answer>dog</answer>"], ["p"], ["samoyed"])  # waits, then closes alone
    assert float(first["rewards"][0]) == 1.0 and float(first["extra_logs"]["partial_group"][0])
    start = time.monotonic()
    late = reward(["p <answer>spitz</answer>"], ["p"], ["samoyed"])
    assert time.monotonic() - start < 0.1  # no second wait
    assert float(late["rewards"][0]) == 1.0  # best of {dog, spitz}


def test_a_call_with_a_whole_group_does_not_wait_on_itself():
    reward = RendezvousReward(
        rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS), 3, timeout=30
    )
    answers = ["dog", "spitz", "samoyed"]
    start = time.monotonic()
    out = reward([f"p <answer>{a}</answer>" for a in answers], ["p"] * 3, ["samoyed"] * 3)
    assert time.monotonic() - start < 15  # before: the first sample waited out the timeout
    assert out["rewards"].tolist() == [0.0, 0.0, 1.0]
    assert out["extra_logs"]["partial_group"].tolist() == [0.0] * 3
    assert reward.groups.buffer.stats()["completed"] == 1


def test_static_rules_do_not_wait_and_unscored_is_counted(tmp_path):
    class Failing(rk.TaxonomyJudge):
        def judge_unique(self, pairs):
            return [None for _ in pairs]

    judge = Failing(ANIMALS)
    reward = RendezvousReward(rk.LadderReward(judge, "exact"), 8, timeout=30, unscored=0.0)
    start = time.monotonic()
    out = reward(["q <answer>dog</answer>"], ["q"], ["samoyed"])
    assert time.monotonic() - start < 1
    assert float(out["rewards"][0]) == 0.0 and float(out["extra_logs"]["unscored"][0]) == 1.0


def test_reward_file_is_checked_when_written(tmp_path):
    with pytest.raises(rk.TaxonomyError, match="cannot read taxonomy file"):
        write_reward_file(
            tmp_path / "r.py",
            group_size=4,
            judge_options={"taxonomy": str(tmp_path / "missing.json")},
        )
    with pytest.raises(LookupError, match="unknown rule"):
        write_reward_file(
            tmp_path / "r.py", group_size=4, rule="nope", judge_options={"taxonomy": str(ANIMALS)}
        )


def test_the_command_writes_a_reward_file_with_an_llm_judge(tmp_path):
    import os
    import subprocess
    import sys

    from .judge_server import JudgeServer

    group = 4
    labels = ["samoyed", "spitz", "dog", "samoyed"]
    prompts = [f"classify {i} {y}" for i, y in enumerate(labels)]
    script = make_script(prompts, group, seed=1)
    expected_answers = {p: list(reversed(a)) for p, a in script.items()}
    cache = tmp_path / "verdicts.sqlite"
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        exe = os.path.join(os.path.dirname(sys.executable), "rewardkit")
        cmd = [exe, "openrlhf-reward", "-o", str(tmp_path / "reward.py"), "-g", str(group)]
        cmd += ["--judge", "openai", "--model", "m", "--api-base", server.url]
        cmd += ["--cache", str(cache), "--judge-option", "api_key_env=null"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        results = rollout(tmp_path / "reward.py", prompts, labels, script, group)
        assert server.requests  # the judge was asked over HTTP
    offline = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    for prompt, label, outputs in zip(prompts, labels, results):
        answers = expected_answers[prompt]
        completions = [f"<answer>{a}</answer>" if a is not None else "none" for a in answers]
        assert [float(o["reward"][0]) for o in outputs] == offline(
            completions, [label] * group, group_size=group
        )
    from rewardkit.judges.cache import VerdictCache

    assert cache.exists() and len(VerdictCache(str(cache))) > 0
