"""rewardkit's reward inside a real TRL GRPOTrainer: text, vision-language, and 2 processes."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import rewardkit as rk  # noqa: E402
from rewardkit.adapters.trl import GroupLayoutError, TRLReward  # noqa: E402

from .conftest import ANIMALS  # noqa: E402

WORKER = Path(__file__).with_name("trl_worker.py")
BIN = Path(sys.executable).parent


def _kill(pid, out):
    """The launcher's process group and every worker (torchrun starts each in a session of its
    own, so only its pid file names it): nothing is left holding the output pipes."""
    pids = [int(p.read_text()) for p in Path(out).glob("pid*") if p.read_text().isdigit()]
    for kill, target in [(os.killpg, pid), *((os.kill, p) for p in pids)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)


def reference(completions, labels, group):
    """The same rewards computed on one process, with no trainer."""
    return rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS, tag=None)(
        completions, labels, group_size=group
    )


def run(out, batch, group, *extra, nproc=1):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, str(WORKER)]
    else:
        cmd = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", str(nproc), str(WORKER)]
    # A session of its own, so a timeout kills torchrun's workers too (no orphans).
    proc = subprocess.Popen(
        [*cmd, str(out), str(batch), str(group), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        _kill(proc.pid, out)
        _, stderr = proc.communicate(timeout=60)
        raise AssertionError(f"timed out after 240 s:\n{stderr[-3000:]}") from None
    assert proc.returncode == 0, stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]


@pytest.mark.parametrize("vision", [False, True], ids=["text", "vision-language"])
def test_grpo_trainer_runs_with_the_reward_and_logs_metrics(tmp_path, vision):
    # Text: chosen answers (--scripted), so every step has judged answers whatever the tiny
    # random policy writes (an all-empty step logs no correctness).
    (calls,) = run(tmp_path, 4, 2, *(["--vision"] if vision else ["--scripted"]))
    assert len(calls) == 2  # one reward call per step
    for call in calls:
        assert call["rewards"] == reference(call["completions"], call["labels"], 2)
    if vision:
        assert isinstance(calls[0]["completions"][0], list)  # chat-format completions
    history = json.loads((tmp_path / "log_history.json").read_text())
    step = next(h for h in history if "reward" in h)
    keys = ("correctness", "specificity", "hm", "unscored", "no_answer", "rung/wrong")
    for key in (*keys, "grpo/zero_variance_groups", "grpo/no_answer_share"):
        assert f"speciarl_taxonomy/{key}" in step, sorted(step)
    assert "rewards/speciarl_taxonomy/mean" in step
    spec = rk.RewardSpec.load(tmp_path / "trainer" / "reward_spec.json")
    assert spec.group_size == 2 and spec.rule == "speciarl" and spec.tag is None
    rebuilt = rk.LadderReward.from_spec(spec)
    assert rebuilt(calls[0]["completions"], calls[0]["labels"], 2) == calls[0]["rewards"]


def test_grpo_trainer_runs_with_a_monitor_auditing_every_group(tmp_path):
    """The monitor through GRPOTrainer's own reward path: its figures in TRL's log history and
    the run's audit records beside reward_spec.json. The audit judge is the training judge, so
    the audit agrees row for row and no alarm fires; the rewards are untouched under warn."""
    from rewardkit.monitor import read_run

    calls = run(tmp_path, 4, 2, "--scripted", "--monitor")[0]
    assert len(calls) == 2
    for call in calls:
        assert call["rewards"] == reference(call["completions"], call["labels"], 2)
    history = json.loads((tmp_path / "log_history.json").read_text())
    steps = [h for h in history if "speciarl_taxonomy/audit/rows" in h]
    assert len(steps) == 2, history
    assert [h["speciarl_taxonomy/audit/rows"] for h in steps] == [4.0, 4.0]
    assert all(h["speciarl_taxonomy/audit/gap"] == 0.0 for h in steps)
    recorded = read_run(tmp_path / "trainer")
    assert len(recorded["audits"]) == 8  # two steps of 4 completions, every one audited
    assert [s["step"] for s in recorded["steps"]] == [1, 2]
    audits = recorded["audits"]
    assert [a["train_verdict"] for a in audits] == [a["audit_verdict"] for a in audits]
    assert not any(a["flagged"] for a in audits)
    assert [s["alarms"] for s in recorded["steps"]] == [[], []]


@pytest.mark.parametrize("batch, group", [(3, 2), (2, 4)])
def test_groups_split_across_two_processes_get_single_process_rewards(tmp_path, batch, group):
    """Chosen answers (``--scripted``): a straddling group's members rewarded on their own
    process alone would get other rewards than the whole group, so only a real gather passes."""
    ranks = run(tmp_path, batch, group, "--scripted", nproc=2)
    assert batch % group  # the local batch splits groups across the processes
    steps = len(ranks[0])
    assert steps == 2 and len(ranks[1]) == steps
    for step in range(steps):
        calls = [r[step] for r in ranks]
        assert all(len(c["rewards"]) == batch for c in calls)
        completions = [x for c in calls for x in c["completions"]]
        labels = [x for c in calls for x in c["labels"]]
        returned = [x for c in calls for x in c["rewards"]]
        assert returned == reference(completions, labels, group)
        # The split was real: a group straddles the two processes ...
        assert calls[0]["prompts"][-1] == calls[1]["prompts"][0]
        # ... and rewarding each process's part as a group of its own would differ.
        piecewise = [
            r for rank, c in enumerate(calls) for r in _piecewise(c, rank * batch, group)
        ]
        assert piecewise != returned


def _piecewise(call, first, group):
    """Rewards of one process's batch (global positions from ``first``) with each part of a
    split group rewarded as a small group of its own."""
    completions, labels = call["completions"], call["labels"]
    cuts = [i for i in range(len(completions)) if (first + i) % group == 0]
    bounds = sorted({0, *cuts, len(completions)})
    out = []
    for a, b in zip(bounds, bounds[1:]):
        out += reference(completions[a:b], labels[a:b], b - a)
    return out


# -- the adapter's own checks, in-process -------------------------------------------------


@pytest.fixture
def reward():
    return rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)


def test_group_size_comes_from_the_config(reward):
    args = SimpleNamespace(num_generations=4, num_generations_eval=2)
    r = TRLReward(reward, args)
    assert r.group_sizes == [4, 2] and r.__name__ == "speciarl_taxonomy"
    with pytest.raises(ValueError, match="GRPOConfig"):
        TRLReward(reward)


def test_eval_group_size_is_used_when_the_layout_says_so(reward):
    r = TRLReward(reward, SimpleNamespace(num_generations=4, num_generations_eval=2))
    prompts = ["a", "a", "b", "b"]
    completions = ["<answer>dog</answer>", "<answer>spitz</answer>"] * 2
    assert r(prompts, completions, label=["samoyed"] * 4) == [0.0, 1.0, 0.0, 1.0]


def test_missing_label_column_is_named(reward):
    r = TRLReward(reward, num_generations=2)
    with pytest.raises(KeyError, match="no 'label' column .*columns: answer"):
        r(["p", "p"], ["x", "y"], answer=["a", "a"], trainer_state=None)


def test_a_layout_that_is_not_grpo_is_an_error(reward):
    r = TRLReward(reward, num_generations=2)
    with pytest.raises(GroupLayoutError, match="contiguous groups of 2"):
        r(["a", "b", "a", "b"], ["x"] * 4, label=["samoyed"] * 4)


def test_metrics_and_verdicts_are_logged(reward):
    metrics, extra = {}, {}
    r = TRLReward(reward, num_generations=3)
    out = r(
        ["p"] * 3,
        ["<answer>dog</answer>", "<answer>spitz</answer>", "nothing"],
        label=["samoyed"] * 3,
        log_metric=metrics.__setitem__,
        log_extra=extra.__setitem__,
    )
    assert out == [0.0, 1.0, -1.0]
    assert extra["verdict"] == ["generic", "less_specific", "no_answer"]
    assert extra["judge_error"] == ["", "", "no answer"]
    assert metrics["speciarl_taxonomy/no_answer"] == 1.0
    assert metrics["speciarl_taxonomy/correctness"] == 1.0
    assert metrics["speciarl_taxonomy/rung/generic"] == 0.5
