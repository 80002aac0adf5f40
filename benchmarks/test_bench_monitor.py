"""The monitor's cost per step against the reward path it watches, and the audit's extra judge
calls per 1,000 completions.

A step: 512 completions (64 groups of 8) of the taxonomy world's answers - the reward path is
judging them with the taxonomy judge and the speciarl rule; the monitor adds the per-batch
monitors, the audit's sampling (2%, the default) and queueing, the windows and the alarms.
"""

import copy

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.monitor import Audit, Monitor
from rewardkit.monitor import monitors as m

ANIMALS = "examples/data/animals.json"
N, G = 512, 8
NAMES = ["samoyed", "spitz", "dog", "cat", "warbler", "bird", "animal", "Thought process:", "xyz"]


@pytest.fixture(scope="module")
def step_batch():
    rng = np.random.default_rng(0)
    answers = [f"<answer>{NAMES[i]}</answer>" for i in rng.integers(0, len(NAMES), N)]
    labels = [lab for lab in rng.choice(["samoyed", "spitz", "cat"], N // G) for _ in range(G)]
    return answers, labels


def reward_path(reward, answers, labels):
    judged = reward.judge_completions(answers, labels)
    return judged, reward.rewards(judged, G)


def test_reward_path(benchmark, step_batch, record):
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    benchmark(reward_path, reward, *step_batch)
    record("reward path (512 completions)", items=N)


def test_monitor_step(benchmark, step_batch, record):
    m.disable()  # the monitor computes the per-batch monitors itself
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    monitor = Monitor(reward, audit=Audit(rk.TaxonomyJudge(ANIMALS), rate=0.02))
    judged, rewards = reward_path(reward, *step_batch)
    labels = step_batch[1]
    steps = iter(range(1, 10**9))
    # A new batch object each step: the monitors' memo of the last batch must not help.
    benchmark(lambda: monitor.step(next(steps), copy.copy(judged), labels, rewards, G))
    monitor.close()
    m.disable()
    record("monitor step (512 completions)", items=N, baseline="reward path (512 completions)")


def test_audit_calls_per_1000_completions(benchmark, step_batch, record):
    """At the default 2% rate the audit judge sees about 20 completions per 1,000 (whole
    groups, so it varies by step); counted over 200 steps."""
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    audit = Audit(rk.TaxonomyJudge(ANIMALS), rate=0.02, background=False)
    audit.bind(reward.rule, reward.ladder)
    judged, rewards = reward_path(reward, *step_batch)

    def run():
        for step in range(200):
            audit.submit(audit.sample(step, judged, step_batch[1], rewards, G))

    benchmark.pedantic(run, rounds=1, iterations=1)
    per_1000 = audit.counts["judged"] / (200 * N) * 1000
    assert 10 < per_1000 < 30  # 2% of 1,000, in whole groups of 8
    record(f"audit: {per_1000:.1f} judged per 1,000 completions", items=200 * N)
