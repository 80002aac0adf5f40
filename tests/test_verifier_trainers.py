"""The math and code ladders through rewardkit's own GRPO loop and a real TRL GRPOTrainer, on a
tiny offline policy: what the policy wrote is judged on the ladder (math-verify in its workers,
programs in the bubblewrap sandbox), the trainer gets the rule's rewards, and token lengths reach
a length rule (``unit="tokens"`` refuses a batch without them)."""

import functools
import json
import os

import numpy as np
import pytest

pytest.importorskip("math_verify", reason="the math extra (pip install 'rewardkit-rl[math]')")
pytest.importorskip("trl", reason="the trl extra")
if not os.access("/usr/bin/bwrap", os.X_OK):
    pytest.fail("bubblewrap is not installed: apt-get install bubblewrap (.ci/run does)")

import rewardkit as rk  # noqa: E402
from rewardkit.loop import GRPOLoop, LoopConfig  # noqa: E402
from rewardkit.tiny import tiny_causal_lm, word_tokenizer  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # tiny models are built here: nothing to fetch


MATH_ROWS = [{"prompt": "add 2 3", "label": "5"}, {"prompt": "add 4 3", "label": "7"}]
# The untrained policy samples its whole vocabulary (64 ids): fill it with answers to judge.
MATH_WORDS = ["add", *map(str, range(60))]


def _tests(*cases: tuple[str, str]) -> str:
    return json.dumps([{"input": i, "output": o} for i, o in cases])


CODE_ROWS = [
    {"prompt": "sum", "label": _tests(("2 3", "5"), ("1 1", "2"))},
    {"prompt": "product", "label": _tests(("2 3", "6"), ("1 5", "5"))},
]
# One token each (the tokenizer splits on spaces): a full solution for each task, a program
# that passes one test of each, a wrong one, a crash and a syntax error.
PROGRAMS = {
    "print(sum(map(int,input().split())))": {"sum": "passes_all", "product": "wrong_output"},
    "a,b=map(int,input().split());print(a*b)": {"sum": "wrong_output", "product": "passes_all"},
    "print(5)": {"sum": "passes_some", "product": "passes_some"},
    "print(0)": {"sum": "wrong_output", "product": "wrong_output"},
    "print(1/0)": {"sum": "runtime_error_or_timeout", "product": "runtime_error_or_timeout"},
    "print(": {"sum": "syntax_error", "product": "syntax_error"},
}
CONSTANTS = [f"print({k})" for k in range(56)]  # right on the tests whose output is k
CODE_WORDS = [*PROGRAMS, *CONSTANTS]
LENGTH = rk.SoftOverlong(l_max=4, l_cache=2, unit="tokens")


class Recording(rk.LadderReward):
    """A LadderReward that keeps what each call judged (with its labels) and returned."""

    def judge_completions(self, completions, labels, questions=None, *, lengths=None):
        judged = super().judge_completions(completions, labels, questions, lengths=lengths)
        self.calls = [*getattr(self, "calls", []), {"judged": judged, "labels": list(labels)}]
        return judged

    def rewards(self, judged, group_size=1):
        out = super().rewards(judged, group_size)
        assert self.calls[-1]["judged"] is judged
        self.calls[-1].update(rewards=out, group_size=group_size)
        return out


def check_math(text, label, verdict):
    """Exact where the answer is known: the label itself is correct, another digit wrong."""
    if text.strip() == label:
        assert verdict == "correct", text
    elif text.strip().isdigit():
        assert verdict == "wrong", text


TASKS = {row["label"]: row["prompt"] for row in CODE_ROWS}


def check_code(text, label, verdict):
    program = text.strip()
    if program in PROGRAMS:
        assert verdict == PROGRAMS[program][TASKS[label]], text
    elif program in CONSTANTS:  # right on one test at most: both tasks' outputs differ
        outputs = [test["output"] for test in json.loads(label)]
        assert verdict == ("passes_some" if program[6:-1] in outputs else "wrong_output"), text


def check_calls(reward, check):
    """Every call: verdicts on the ladder, exact where the answer is known, the rule's rewards,
    one-token lengths. Returns the verdicts seen."""
    assert reward.calls
    seen = []
    for call in reward.calls:
        judged, rewards, size = call["judged"], call["rewards"], call["group_size"]
        assert size == 4
        batch = rk.Batch(reward.ladder, judged.codes, judged.found, size)
        # SoftOverlong is 0 for every one-token completion: the reward is SpeciaRL's.
        np.testing.assert_array_equal(rewards, rk.SpeciaRL().compute(batch))
        assert judged.lengths.tolist() == [1] * len(judged)
        for text, label, verdict in zip(judged.texts, call["labels"], judged.verdicts):
            check(text, label, verdict)
        seen += judged.verdicts
    assert len(seen) == 16
    assert len({v for v in seen if v is not None}) >= 2, seen  # rungs were reached
    return seen


def run_loop(reward, rows, words):
    tokenizer = word_tokenizer([*words, *(r["prompt"] for r in rows)])
    config = LoopConfig(
        num_generations=4, prompts_per_step=2, max_steps=2, max_new_tokens=1, progress=False
    )
    loop = GRPOLoop(tiny_causal_lm(tokenizer, seed=0), tokenizer, reward, rows, config)
    try:
        return loop.train()
    finally:
        getattr(reward.judge, "close", lambda: None)()  # the math judge's workers


def run_trl(reward, rows, words, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.adapters.trl import TRLReward

    tokenizer = word_tokenizer([*words, *(r["prompt"] for r in rows)])
    args = GRPOConfig(
        output_dir=str(tmp_path),
        num_generations=4,
        per_device_train_batch_size=8,
        max_steps=2,
        max_completion_length=1,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=0,
    )
    data = Dataset.from_dict({k: [r[k] for r in rows] * 4 for k in ("prompt", "label")})
    trainer = GRPOTrainer(
        model=tiny_causal_lm(tokenizer, seed=0),
        reward_funcs=[TRLReward(reward, args)],
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
    )
    try:
        trainer.train()
    finally:
        getattr(reward.judge, "close", lambda: None)()
    return [m for m in trainer.state.log_history if "reward" in m]


def math_reward():
    return Recording("math", rk.SpeciaRL() + LENGTH, tag=None, workers=1, timeout=10)


def code_reward():
    return Recording("code", rk.SpeciaRL() + LENGTH, tag=None, workers=2, timeout=5)


def test_math_ladder_in_the_own_loop():
    reward = math_reward()
    history = run_loop(reward, MATH_ROWS, MATH_WORDS)
    assert [m["step"] for m in history] == [1, 2]
    assert history[-1]["part/soft_overlong"] == 0.0
    check_calls(reward, check_math)


def test_code_ladder_in_the_own_loop():
    reward = code_reward()
    history = run_loop(reward, CODE_ROWS, CODE_WORDS)
    assert [m["step"] for m in history] == [1, 2]
    check_calls(reward, check_code)


def test_math_ladder_in_trl(tmp_path):
    reward = math_reward()
    logs = run_trl(reward, MATH_ROWS, MATH_WORDS, tmp_path)
    assert len(logs) == 2
    check_calls(reward, check_math)
    assert logs[-1][f"{reward.name}/part/soft_overlong"] == 0.0  # TRL's log of each part


def test_code_ladder_in_trl(tmp_path):
    reward = code_reward()
    logs = run_trl(reward, CODE_ROWS, CODE_WORDS, tmp_path)
    assert len(logs) == 2
    check_calls(reward, check_code)


# -- the trainer adapters: OpenRLHF's reward file, verl's reward manager, rewardkit serve ---------

THINK = "<think> hm </think> "
# Two groups of four per ladder: rungs and formats mixed, so every rule separates them.
ADAPTER_CASES = {
    "math": (
        {"workers": 1, "form": "truth"},
        ["1/2"] * 4 + ["3"] * 4,
        [
            THINK + "<answer> 0.5 </answer>", "<answer> 0.5 </answer>", "<answer> 7 </answer>",
            "no tags", "<answer> 3 </answer>", THINK + "<answer> 3 </answer>",
            THINK + "<answer> 4 </answer>", "<answer> \\frac{6}{2} </answer>",
        ],
    ),
    "code": (
        {"workers": 2, "timeout": 5},
        [CODE_ROWS[0]["label"]] * 4 + [CODE_ROWS[1]["label"]] * 4,
        [
            THINK + "<answer> print(sum(map(int,input().split()))) </answer>",
            "<answer> print(5) </answer>", THINK + "<answer> print( </answer>", "no tags",
            "<answer> print(6) </answer>", THINK + "<answer> print(5) </answer>",
            "<answer> print(1/0) </answer>", "<answer> print(0) </answer>",
        ],
    ),
}  # fmt: skip
ADAPTER_RULES = ["exact", "speciarl", "think_answer_format"]


@functools.cache
def _offline(judge):
    """Each rule's rewards for the judge's case, judged once here."""
    _, labels, completions = ADAPTER_CASES[judge]
    reward = rk.LadderReward(judge, "exact", **ADAPTER_CASES[judge][0])
    try:
        judged = reward.judge_completions(completions, labels)
    finally:
        getattr(reward.judge, "close", lambda: None)()
    batch = rk.Batch(reward.ladder, judged.codes, judged.found, 4, judged.texts)
    return {rule: rk.get_rule(rule).compute(batch).tolist() for rule in ADAPTER_RULES}


def offline_rewards(judge, labels, completions):
    assert (labels, completions) == tuple(ADAPTER_CASES[judge][1:])
    return _offline(judge)


def openrlhf_rollout(reward_file, prompts, labels, completions, vocabulary):
    """OpenRLHF's own SingleTurnAgentExecutor, one sample per reward call, all in flight."""
    import asyncio
    from types import SimpleNamespace

    import openrlhf.utils.agent as agent

    tokenizer = word_tokenizer([*vocabulary, *(w for p in prompts for w in p.split())])
    script = {p: [] for p in prompts}
    for prompt, completion in zip(prompts, completions):
        script[prompt].append(completion)

    class Engine:
        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            text = script[tokenizer.decode(prompt_token_ids)].pop(0)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out = SimpleNamespace(token_ids=ids, text=text, finish_reason="stop", logprobs=None)
            return SimpleNamespace(outputs=[out])

    async def main():
        executor = agent.SingleTurnAgentExecutor(remote_rm_url=str(reward_file))
        params = SimpleNamespace(max_tokens=64, logprobs=None)
        engine = Engine()
        calls = [
            executor.execute(p, y, params, 64, tokenizer, engine) for p, y in zip(prompts, labels)
        ]
        return await asyncio.gather(*calls)

    return [float(out["reward"][0]) for out in asyncio.run(main())]


def vocabulary(completions):
    return sorted({w for c in completions for w in c.split()})


# Each judge meets every kind of rule and every adapter meets both judges and a group-relative
# rule; a math judge starts worker processes (seconds on busy cores), so it is not run per cell.
@pytest.mark.parametrize(
    "judge, rules", [("math", ["speciarl"]), ("code", ADAPTER_RULES)], ids=["math", "code"]
)
def test_the_ladders_through_openrlhf_reward_files(judge, rules, tmp_path):
    from rewardkit.adapters.openrlhf import write_reward_file

    options, labels, completions = ADAPTER_CASES[judge]
    prompts = [f"task {i // 4}" for i in range(8)]
    want = offline_rewards(judge, labels, completions)
    assert len({tuple(v) for v in want.values()}) == 3  # every rule rewards differently
    for rule in rules:
        path = write_reward_file(
            tmp_path / f"{rule}.py", group_size=4, judge=judge, rule=rule, judge_options=options,
            timeout=60,
        )  # fmt: skip
        got = openrlhf_rollout(path, prompts, labels, completions, vocabulary(completions))
        assert got == want[rule], rule


def verl_rollout(judge, rule, prompts, labels, completions):
    """verl 0.9's reward loop: one run_single task per sample, the groups' samples
    interleaved, all on one event loop (outside Ray: the manager's in-process groups)."""
    import asyncio

    import torch
    from omegaconf import OmegaConf
    from verl import DataProto

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    tokenizer = word_tokenizer([*vocabulary(completions), *(w for p in prompts for w in p.split())])

    def pad(texts, side):
        enc = tokenizer(
            texts, return_tensors="pt", padding=True, padding_side=side, add_special_tokens=False
        )
        return enc["input_ids"], enc["attention_mask"]

    prompt_ids, prompt_mask = pad(prompts, "left")
    response_ids, response_mask = pad(completions, "right")
    data = DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], 1),
            "attention_mask": torch.cat([prompt_mask, response_mask], 1),
        },
        non_tensors={
            "data_source": np.array([judge] * len(prompts), dtype=object),
            "reward_model": np.array([{"ground_truth": t} for t in labels], dtype=object),
            "uid": np.array([f"u{i // 4}" for i in range(len(prompts))], dtype=object),
        },
    )
    order = [5, 0, 7, 2, 1, 6, 3, 4]
    kwargs = {"judge": judge, "rule": rule, **ADAPTER_CASES[judge][0]}
    config = OmegaConf.create(
        {"reward": {"reward_kwargs": kwargs}, "actor_rollout_ref": {"rollout": {"n": 4}}}
    )
    manager = RewardkitRewardManager(config, tokenizer)

    async def batch():
        return await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in order))

    try:
        out = asyncio.run(batch())
    finally:
        getattr(manager.reward.judge, "close", lambda: None)()
    rewards = [0.0] * len(order)
    for i, o in zip(order, out):
        rewards[i] = o["reward_score"]
    return rewards


@pytest.mark.parametrize(
    "judge, rules", [("math", ["exact"]), ("code", ADAPTER_RULES)], ids=["math", "code"]
)
def test_the_ladders_through_verls_reward_manager(judge, rules):
    _, labels, completions = ADAPTER_CASES[judge]
    prompts = [f"task {i // 4}" for i in range(8)]
    want = offline_rewards(judge, labels, completions)
    for rule in rules:
        assert verl_rollout(judge, rule, prompts, labels, completions) == want[rule], rule


def serve_rollout(judge, rule, prompts, labels, completions):
    """``rewardkit serve`` as OpenRLHF's remote reward model: one sample per request, all
    in flight at once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.test_serve import Server

    options = [
        a for k, v in ADAPTER_CASES[judge][0].items() for a in ("--judge-option", f"{k}={v}")
    ]
    server = Server("--judge", judge, *options, "--rule", rule, "-g", "4", "--group-timeout", "60")
    try:

        def one(i):
            body = {"query": [prompts[i] + completions[i]], "prompts": [prompts[i]],
                    "labels": [labels[i]]}  # fmt: skip
            status, out = server.post("/", body)
            assert status == 200, out
            return out["rewards"][0]

        with ThreadPoolExecutor(len(prompts)) as pool:
            return list(pool.map(one, range(len(prompts))))
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    "judge, rule", [("math", "think_answer_format"), ("code", "speciarl")], ids=["math", "code"]
)
def test_the_ladders_through_rewardkit_serve(judge, rule):
    _, labels, completions = ADAPTER_CASES[judge]
    prompts = [f"task {i // 4} " for i in range(8)]
    want = offline_rewards(judge, labels, completions)[rule]
    assert serve_rollout(judge, rule, prompts, labels, completions) == want


# -- shaping terms where a group is assembled one completion at a time ----------------------------

COMPOSITE = rk.SpeciaRL() + 0.5 * rk.ThinkAnswerFormat() + rk.SoftOverlong(l_max=48, l_cache=20)


def test_a_sum_with_shaping_terms_through_the_openrlhf_reward_and_asyncio_groups():
    """Only verdicts travel between members; each completion adds the shaping terms it earns
    alone: the rewards equal the whole rule's on the whole group, one sample per call."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from rewardkit.adapters.openrlhf import RendezvousReward
    from rewardkit.rendezvous import open_rendezvous

    _, labels, completions = ADAPTER_CASES["code"]
    reward = rk.LadderReward("code", COMPOSITE, workers=2, timeout=5)
    judged = reward.judge_completions(completions, labels)
    want = reward.rewards(judged, group_size=4).tolist()
    parts = reward.reward_parts(judged, group_size=4)
    assert len(set(parts["think_answer_format"].tolist())) == 2  # both formats are there
    assert parts["soft_overlong"].tolist() == [-1.0, 0.0, -0.85, 0.0, 0.0, -0.95, -0.05, 0.0]

    openrlhf = RendezvousReward(reward, 4, timeout=60)
    prompts = [f"task {i // 4} " for i in range(8)]

    def call(i):
        out = openrlhf([prompts[i] + completions[i]], [prompts[i]], [labels[i]])
        return float(out["rewards"][0])

    with ThreadPoolExecutor(8) as pool:  # OpenRLHF's rewards are float32
        assert list(pool.map(call, range(8))) == [float(np.float32(w)) for w in want]

    rendezvous = open_rendezvous(reward, 4, "asyncio", timeout=60)  # verl's and serve's store

    async def members():
        singles = [reward.judge_completions([c], [y]) for c, y in zip(completions, labels)]
        calls = [rendezvous.results(j, [i // 4]) for i, j in enumerate(singles)]
        return [r.reward for (r,) in await asyncio.gather(*calls)]

    # group part + own terms: the same sum, added in another order (the last bit may differ)
    assert asyncio.run(members()) == pytest.approx(want, rel=0, abs=1e-12)


def test_a_sum_with_shaping_terms_through_redis_groups(redis_server):
    """Two replicas' members meet in Redis with their verdicts only; each adds its own terms."""
    import asyncio

    from rewardkit.rendezvous import open_rendezvous

    _, labels, completions = ADAPTER_CASES["code"]
    reward = rk.LadderReward("code", COMPOSITE, workers=2, timeout=5)
    want = reward(completions, labels, group_size=4)
    replicas = [open_rendezvous(reward, 4, redis_server.url, timeout=60) for _ in range(2)]

    async def members():
        singles = [reward.judge_completions([c], [y]) for c, y in zip(completions, labels)]
        calls = [replicas[i % 2].results(j, [f"g{i // 4}"]) for i, j in enumerate(singles)]
        try:
            return [r.reward for (r,) in await asyncio.gather(*calls)]
        finally:
            for replica in replicas:
                await replica.aclose()

    assert asyncio.run(members()) == pytest.approx(want, rel=0, abs=1e-12)


def test_token_lengths_reach_the_length_term_in_verls_manager():
    import asyncio

    import torch
    from omegaconf import OmegaConf
    from verl import DataProto

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    completions = ["<answer> print(5) </answer>", "<answer> print(5) </answer> x x x x x x"]
    tokenizer = word_tokenizer(["<answer>", "</answer>", "print(5)", "x", "task"])
    enc = tokenizer(completions, return_tensors="pt", padding=True, add_special_tokens=False)
    prompt = tokenizer(["task"] * 2, return_tensors="pt", add_special_tokens=False)
    data = DataProto.from_dict(
        tensors={
            "prompts": prompt["input_ids"],
            "responses": enc["input_ids"],
            "input_ids": torch.cat([prompt["input_ids"], enc["input_ids"]], 1),
            "attention_mask": torch.cat([prompt["attention_mask"], enc["attention_mask"]], 1),
        },
        non_tensors={
            "reward_model": np.array([{"ground_truth": CODE_ROWS[0]["label"]}] * 2, dtype=object),
            "uid": np.array(["u0", "u1"], dtype=object),
        },
    )
    rule = {"rule": "soft_overlong", "rule_options": {"l_max": 6, "l_cache": 2}}
    kwargs = {"judge": "code", **rule, "workers": 1}
    config = OmegaConf.create(
        {"reward": {"reward_kwargs": kwargs}, "actor_rollout_ref": {"rollout": {"n": 1}}}
    )
    manager = RewardkitRewardManager(config, tokenizer)

    async def batch():
        return await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(2)))

    # 3 and 9 tokens (in characters: 27 and 39, both over l_max)
    assert [o["reward_score"] for o in asyncio.run(batch())] == [0.0, -1.0]


def test_a_rule_normalising_a_shaping_term_in_its_group_is_refused_at_start():
    from rewardkit.adapters.openrlhf import RendezvousReward

    rule = rk.GroupNormalised([(rk.SpeciaRL(), 1.0), (rk.ThinkAnswerFormat(), 0.5)])
    reward = rk.LadderReward("code", rule, workers=1)
    with pytest.raises(ValueError, match="reads the completions' text within a group, but here"):
        RendezvousReward(reward, 4)
    RendezvousReward(reward, 1)  # groups of one need no assembly: the whole rule applies
