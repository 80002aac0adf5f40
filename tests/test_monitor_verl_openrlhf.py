"""The monitor through verl's and OpenRLHF's real reward paths: verl's BatchRewardManager over
compute_score_batch (whole groups per call), verl 0.9's reward-loop manager and OpenRLHF's
SingleTurnAgentExecutor (one sample per call, watched as groups complete).

The training judge has a hole: its taxonomy takes "doggo" for a synonym of "samoyed", so it
pays "doggo" Specific; the audit judge reads the honest taxonomy and calls it wrong."""

import asyncio
import json
import random

import pytest

import rewardkit as rk
from rewardkit.errors import RewardHackingAlarm
from rewardkit.monitor import disable, read_run
from rewardkit.monitor.watch import LOGGED
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS
from .test_openrlhf import rollout
from .test_verl import data_proto

G = 4
ANSWERS = ["doggo", "doggo", "spitz", "samoyed"]  # graded: 1, 1, 0.75, 1 to the training judge


@pytest.fixture(autouse=True)
def _monitors_unregistered():
    yield
    disable()  # the monitors a test opened leave no plugin registered for the tests after it


@pytest.fixture
def specs(tmp_path):
    taxonomy = json.loads(ANIMALS.read_text())
    taxonomy["synonyms"]["samoyed"] = [*taxonomy["synonyms"].get("samoyed", []), "doggo"]
    hole = tmp_path / "hole.json"
    hole.write_text(json.dumps(taxonomy))
    audit = tmp_path / "audit_spec.json"
    rk.RewardSpec(judge="taxonomy", judge_options={"taxonomy": str(ANIMALS)}).save(audit)
    return hole, audit


def test_verl_batch_manager_logs_the_audit_and_the_filter_pays_the_audit_reward(tmp_path, specs):
    from verl.workers.reward_manager import batch

    from rewardkit.adapters.verl import compute_score_batch

    hole, audit = specs
    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", "doggo", *taxonomy.names])
    responses = [f"<answer> {a} </answer>" for a in ANSWERS * 8]  # 8 groups of 4
    data = data_proto(tokenizer, ["classify samoyed"] * 32, responses, ["samoyed"] * 32, G)
    options = dict(
        taxonomy=str(hole), rule="graded", group_size=G, audit_spec=str(audit), audit_rate=1.0,
        alarm_policy="filter", monitor_dir=str(tmp_path / "run"),
    )  # fmt: skip
    manager = batch.BatchRewardManager(tokenizer, 0, compute_score_batch, **options)
    monitor = _verl_monitor(options)
    first = manager(data, return_dict=True)
    monitor.audit.join()  # step 1's audits are back before step 2: the alarm fires there
    second = manager(data, return_dict=True)
    third = manager(data, return_dict=True)  # the filter's first step
    assert first["reward_tensor"].sum(1).tolist() == [1.0, 1.0, 0.75, 1.0] * 8
    assert second["reward_tensor"].sum(1).tolist() == [1.0, 1.0, 0.75, 1.0] * 8
    # The audit judge pays "doggo" nothing: the filter pays it that from the alarm's next step.
    assert third["reward_tensor"].sum(1).tolist() == [0.0, 0.0, 0.75, 1.0] * 8
    info = first["reward_extra_info"]
    assert set(info) >= set(LOGGED) and info["monitor/steps"] == [1.0] * 32
    assert info["audit/sampled"] == [32.0] * 32  # every group drawn at rate 1
    alarm = {k: v[0] for k, v in second["reward_extra_info"].items() if k in LOGGED}
    assert alarm["monitor/alarms"] >= 1 and alarm["window/gap"] == 0.5  # (1 + 1 + 0 + 0) / 4
    assert alarm["window/rows"] == 32.0
    assert third["reward_extra_info"]["audit/filtered"] == [0.5] * 32
    assert [(a.name, a.step) for a in monitor.fired][:1] == [("gap", 2)]
    monitor.close()
    run = read_run(tmp_path / "run")
    assert len(run["steps"]) == 3 and len(run["audits"]) == 96
    assert {a["prediction"] for a in run["audits"] if a["flagged"]} == {"doggo"}


def _verl_monitor(options):
    from rewardkit.adapters.verl import _monitored

    return _monitored(json.dumps(options, sort_keys=True, default=str))


def test_verl_one_sample_compute_score_refuses_the_monitor(specs):
    from rewardkit.adapters.verl import compute_score

    hole, audit = specs
    with pytest.raises(ValueError, match="audit_spec: the reward monitor audits whole groups"):
        compute_score("a", "<answer>dog</answer>", "samoyed", taxonomy=str(hole), rule="exact",
                      audit_spec=str(audit))  # fmt: skip


def verl_09_manager(tmp_path, hole, audit, policy):
    from omegaconf import OmegaConf

    from rewardkit.adapters.verl_manager import RewardkitRewardManager

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", "doggo", *taxonomy.names])
    kwargs = {
        "taxonomy": str(hole), "rule": "graded", "audit_spec": str(audit), "audit_rate": 1.0,
        "alarm_policy": policy, "monitor_dir": str(tmp_path / "run"), "monitor_groups": 2,
    }  # fmt: skip
    config = OmegaConf.create(
        {"reward": {"reward_kwargs": kwargs}, "actor_rollout_ref": {"rollout": {"n": G}}}
    )
    return tokenizer, RewardkitRewardManager(config, tokenizer)


def run_09(manager, data):
    async def batch():
        return await asyncio.gather(
            *(manager.run_single(data[i : i + 1]) for i in range(len(data)))
        )

    return asyncio.run(batch())


def test_verl_09_manager_watches_groups_by_uid_and_stops_at_the_next_call(tmp_path, specs):
    hole, audit = specs
    tokenizer, manager = verl_09_manager(tmp_path, hole, audit, "stop")
    responses = [f"<answer> {a} </answer>" for a in ANSWERS * 16]  # 16 groups, uids u0..u15
    data = data_proto(tokenizer, ["classify"] * 64, responses, ["samoyed"] * 64, G)
    order = random.Random(0).sample(range(32), 32)  # the first 8 groups' samples interleaved
    out = run_09(manager, data[order])
    assert [o["reward_score"] for o in out] == [[1.0, 1.0, 0.75, 1.0][i % G] for i in order]
    keys = [set(o["reward_extra_info"]) for o in out]
    assert all(k == keys[0] for k in keys) and keys[0] >= set(LOGGED)  # verl stacks by key
    monitor = manager.watch.monitor
    monitor.audit.join()
    assert manager.watch.steps == 4 and monitor.fired == []  # 8 whole groups, 2 a step
    with pytest.raises(RewardHackingAlarm, match="gap 0.500 above 0.1"):
        run_09(manager, data[32:])  # the alarm fires at step 5; the next call stops the run
    assert [(a.name, a.step) for a in monitor.fired][:1] == [("gap", 5)]
    run = read_run(tmp_path / "run")
    assert len(run["steps"]) == 5 and len(run["audits"]) >= 32
    assert {a["prediction"] for a in run["audits"] if a["flagged"]} == {"doggo"}


def test_verl_09_manager_refuses_the_filter_policy(tmp_path, specs):
    hole, audit = specs
    with pytest.raises(ValueError, match="alarm_policy filter needs each group's answers"):
        verl_09_manager(tmp_path, hole, audit, "filter")


def test_openrlhf_reward_file_logs_the_monitor_in_extra_logs(tmp_path, specs):
    from rewardkit.adapters.openrlhf import write_reward_file

    hole, audit = specs
    path = write_reward_file(
        tmp_path / "reward.py",
        group_size=G,
        rule="graded",
        timeout=30,
        judge_options={"taxonomy": str(hole)},
        monitor={"audit_spec": str(audit), "audit_rate": 1.0, "monitor_dir": str(tmp_path / "run"),
                 "monitor_groups": 1},
    )  # fmt: skip
    prompts = [f"classify {i} samoyed doggo" for i in range(4)]  # the words the tokenizer knows
    script = {p: list(reversed(ANSWERS)) for p in prompts}  # pop() hands out ANSWERS in order
    results = rollout(path, prompts, ["samoyed"] * 4, script, G)
    for outputs in results:
        assert [float(o["reward"][0]) for o in outputs] == [1.0, 1.0, 0.75, 1.0]
    logs = [o["extra_logs"] for outputs in results for o in outputs]
    steps = sorted(float(x["monitor/steps"][0]) for x in logs if "monitor/steps" in x)
    assert steps[-1] == 4.0  # a step per whole group; the last sample of each closes one
    assert all(float(x["monitor/left_out"][0]) == 0.0 for x in logs if "monitor/left_out" in x)
    run = read_run(tmp_path / "run")
    assert len(run["steps"]) == 4


def test_group_watch_keeps_a_retried_sample_once_and_leaves_partial_groups_out():
    from rewardkit.monitor import Audit, Monitor
    from rewardkit.monitor.watch import GroupWatch

    taxonomy = rk.Taxonomy.load(ANIMALS)
    reward = rk.LadderReward(rk.TaxonomyJudge(taxonomy), "graded", tag=None)
    audit = Audit(rk.TaxonomyJudge(taxonomy), rate=1.0, background=False)
    watch = GroupWatch(Monitor(reward, audit=audit), group_size=2, groups_per_step=1)

    def add(key, answer, member, partial=False):
        judged = reward.judge_completions([answer], ["samoyed"])
        return watch.add([key], judged, ["samoyed"], [1.0], members=[member], partial=[partial])

    add("a", "dog", "m1")
    assert add("a", "dog", "m1")["monitor/steps"] == 0.0  # the same member again: kept once
    assert add("a", "spitz", "m2")["monitor/steps"] == 1.0  # whole: a step
    assert add("a", "spitz", "m2")["monitor/steps"] == 1.0  # a copy after the group was whole
    add("b", "dog", "m1")
    figures = add("b", "cat", "m2", partial=True)  # rewarded without its group: not watched
    assert figures["monitor/steps"] == 1.0 and watch.left_out == 2
    assert watch.monitor.last["audit/rows"] == 2  # the one step audited group a's two samples
    watch.monitor.close()


def test_group_watch_refuses_the_filter_policy():
    from rewardkit.monitor import Alarms, Monitor
    from rewardkit.monitor.watch import GroupWatch

    reward = rk.LadderReward("taxonomy", "graded", taxonomy=ANIMALS)
    monitor = Monitor(reward, alarms=Alarms(policy="filter"))
    with pytest.raises(ValueError, match="filter needs each group's answers"):
        GroupWatch(monitor, group_size=2)
    monitor.close()


def test_rewardkit_openrlhf_reward_writes_the_monitor_into_the_file(tmp_path, specs, capsys):
    import ast

    from rewardkit.cli import main

    hole, audit = specs
    args = ["openrlhf-reward", "-o", str(tmp_path / "r.py"), "-g", "4", "--taxonomy", str(hole)]
    watched = ["--audit-spec", str(audit), "--audit-rate", "0.5", "--alarm-policy", "stop"]
    assert main([*args, *watched, "--monitor-dir", str(tmp_path / "run")]) == 0
    line = next(x for x in (tmp_path / "r.py").read_text().splitlines() if x.startswith("SPEC ="))
    spec = json.loads(ast.literal_eval(line[len("SPEC = json.loads(") : -1]))
    assert spec["monitor"] == {
        "audit_spec": str(audit), "audit_rate": 0.5, "alarm_policy": "stop",
        "monitor_dir": str(tmp_path / "run"), "monitor_groups": 8,
    }  # fmt: skip
    assert not (tmp_path / "run").exists()  # the trainer's run writes the records, not this
    capsys.readouterr()
    assert main([*args, "--audit-spec", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"rewardkit openrlhf-reward: error: --audit-spec {tmp_path / 'missing.json'}: "
    )
    with pytest.raises(SystemExit):  # filter needs the group before it is rewarded
        main([*args, "--audit-spec", str(audit), "--alarm-policy", "filter"])


def test_a_monitor_built_from_options_writes_its_queued_audits_when_the_process_ends(
    tmp_path, specs
):
    import subprocess
    import sys

    hole, audit = specs
    code = f"""
import rewardkit as rk
from rewardkit.monitor.watch import monitor_from_options
reward = rk.LadderReward("taxonomy", "graded", taxonomy={str(hole)!r})
monitor = monitor_from_options(
    reward, {{"audit_spec": {str(audit)!r}, "audit_rate": 1.0, "monitor_dir": {str(tmp_path)!r}}}
)
judged = reward.judge_completions(["doggo"] * 4, ["samoyed"] * 4)
monitor.step(1, judged, ["samoyed"] * 4, reward.rewards(judged, 4), 4)
"""  # one step; its audit is queued for the background thread, never collected by a step
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(read_run(tmp_path)["audits"]) == 4
