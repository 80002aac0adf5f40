"""The monitor through the trainers' real reward paths: TRL's reward function (its log, its
completions table, the stop policy at the next step), and the own loop on a tiny model."""

import json
from types import SimpleNamespace

import pytest

import rewardkit as rk
from rewardkit.adapters.trl import TRLReward
from rewardkit.errors import RewardHackingAlarm
from rewardkit.monitor import Alarms, Audit, Monitor, disable, read_run

from .conftest import ANIMALS
from .test_monitor import AUDIT, TableJudge

G = 4


@pytest.fixture(autouse=True)
def _monitors_unregistered():
    yield
    disable()  # the monitors a test opened leave no plugin registered for the tests after it


def trl_call(fn, completions, labels, step):
    metrics, table = {}, {}
    out = fn(
        ["classify"] * len(completions),
        completions,
        label=labels,
        trainer_state=SimpleNamespace(global_step=step),
        log_metric=metrics.__setitem__,
        log_extra=table.__setitem__,
    )
    return out, metrics, table


def hacked_trl(tmp_path, policy):
    reward = rk.LadderReward(TableJudge({("bird", "h"): "specific"}), "graded", tag=None)
    audit = Audit(TableJudge(AUDIT), rate=0.5, seed=3, background=False)
    monitor = Monitor(reward, audit=audit, alarms=Alarms(policy=policy, min_rows=8), window=2)
    args = SimpleNamespace(num_generations=G, output_dir=str(tmp_path))
    return TRLReward(reward, args, name="r", monitor=monitor), monitor


def test_trl_logs_audit_figures_and_the_audit_verdict_of_each_completion(tmp_path):
    fn, monitor = hacked_trl(tmp_path, "warn")
    out, metrics, table = trl_call(fn, ["h"] * 16, ["bird"] * 16, step=0)
    assert out == [1.0] * 16  # the training judge's rewards: warn changes nothing
    groups = monitor.audit.sample(1, *_batch(fn, 16), G).groups  # what seed 3 draws at step 1
    rows = {g * G + i for g in groups for i in range(G)}
    assert table["audit_verdict"] == ["generic" if i in rows else "" for i in range(16)]
    assert table["verdict"] == ["specific"] * 16
    assert metrics["r/audit/rows"] == len(rows) and metrics["r/audit/gap"] == 0.5
    assert metrics["r/collapse/distinct"] == 0.25 and metrics["r/reward/train"] == 1.0
    assert [a.name for a in monitor.fired] == ["gap", "kappa"]
    run = read_run(tmp_path)
    assert len(run["audits"]) == len(rows) and run["steps"][0]["step"] == 1


def _batch(fn, n):
    judged = fn.reward.judge_completions(["h"] * n, ["bird"] * n)
    return judged, ["bird"] * n, fn.reward.rewards(judged, G)


def test_trl_stop_policy_raises_when_the_next_step_starts(tmp_path):
    fn, monitor = hacked_trl(tmp_path, "stop")
    trl_call(fn, ["h"] * 16, ["bird"] * 16, step=0)  # the alarm fires; this step completes
    with pytest.raises(RewardHackingAlarm, match="step 1: gap 0.500 above 0.1"):
        trl_call(fn, ["h"] * 16, ["bird"] * 16, step=1)


def test_trl_filter_policy_pays_the_audit_reward_from_the_next_step(tmp_path):
    fn, monitor = hacked_trl(tmp_path, "filter")
    first, _, _ = trl_call(fn, ["h"] * 16, ["bird"] * 16, step=0)
    second, metrics, _ = trl_call(fn, ["h"] * 16, ["bird"] * 16, step=1)
    assert first == [1.0] * 16 and second == [0.5] * 16
    assert metrics["r/audit/filtered"] == 1.0


def test_own_loop_writes_the_monitor_records_beside_the_reward_spec(tmp_path):
    from rewardkit.loop import GRPOLoop, LoopConfig
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    model = tiny_causal_lm(tokenizer, seed=0)
    reward = rk.LadderReward("taxonomy", "graded", taxonomy=str(ANIMALS), tag=None)
    audit = Audit(rk.TaxonomyJudge(taxonomy), rate=1.0, background=False)
    monitor = Monitor(reward, audit=audit, alarms=Alarms(policy="stop"))
    data = [{"prompt": f"classify {x}", "label": x} for x in ["samoyed", "spitz", "dog", "cat"]]
    config = LoopConfig(
        num_generations=4, prompts_per_step=4, max_steps=3, max_new_tokens=1,
        output_dir=str(tmp_path), progress=False,
    )  # fmt: skip
    history = GRPOLoop(model, tokenizer, reward, data, config, monitor=monitor).train()
    # The audit judge is the training judge: they agree on every row, no alarm stops the run.
    assert len(history) == 3 and monitor.fired == []
    assert [h["window/gap"] for h in history] == [0.0, 0.0, 0.0]
    run = read_run(tmp_path)
    assert (tmp_path / "reward_spec.json").exists() and len(run["steps"]) == 3
    audited = run["audits"]
    assert audited and all(a["train_verdict"] == a["audit_verdict"] for a in audited)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # the config, then 3 steps
    last = json.loads(lines[-1])
    assert last["audit/sampled"] == monitor.audit.counts["rows"] and "mix/generic" in last


def test_serve_audits_v1_reward_and_shows_audit_counters_on_metrics():
    import asyncio

    import aiohttp
    from aiohttp import web

    from rewardkit.serve import RewardServer

    reward = rk.LadderReward(TableJudge({("bird", "h"): "specific"}), "graded", tag=None)
    audit = Audit(TableJudge(AUDIT), rate=1.0, background=False)
    monitor = Monitor(reward, audit=audit, alarms=Alarms(policy="filter", min_rows=8))
    server = RewardServer(reward, group_size=G, monitor=monitor)

    async def main():
        runner = web.AppRunner(server.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        body = {"completions": ["h"] * 8, "labels": ["bird"] * 8}
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                replies = []
                for _ in range(2):
                    async with http.post("/v1/reward", json=body) as r:
                        replies.append((await r.json())["rewards"])
                async with http.get("/metrics") as r:
                    page = await r.text()
        finally:
            await runner.cleanup()
        return replies, page

    replies, page = asyncio.run(main())
    assert replies == [[1.0] * 8, [0.5] * 8]  # the alarm at request 1, the filter from 2 on
    lines = page.splitlines()
    assert 'rewardkit_audit_total{count="judged"} 16' in lines
    assert 'rewardkit_audit_total{count="flagged"} 16' in lines
    assert 'rewardkit_monitor_alarms_total{alarm="gap"} 1' in lines
    assert 'rewardkit_monitor_window{figure="gap"} 0.5' in lines
    assert "rewardkit_requests_total" in page  # the server's own page comes first


def test_rewardkit_serve_audit_spec_audits_and_shows_it_on_metrics(tmp_path):
    from .test_serve import Server

    spec = tmp_path / "audit_spec.json"
    rk.RewardSpec(judge="taxonomy", judge_options={"taxonomy": str(ANIMALS)}).save(spec)
    server = Server("-g", "2", "--audit-spec", str(spec), "--audit-rate", "1")
    try:
        body = {"completions": ["<answer>dog</answer>"] * 2, "labels": ["samoyed"] * 2}
        status, reply = server.post("/v1/reward", body)
        assert status == 200 and reply["verdicts"] == ["generic", "generic"]
        page = server.get("/metrics").splitlines()
    finally:
        assert server.stop() == 0
    assert 'rewardkit_audit_total{count="rows"} 2' in page  # both rows drawn at rate 1
    assert 'rewardkit_monitor_alarms_total{alarm="gap"} 0' in page


class PaysEverything(rk.TaxonomyJudge):
    """A training judge with the widest hole: every answer is Specific."""

    def judge_unique(self, pairs):
        return ["specific"] * len(pairs)


def test_own_loop_stop_policy_ends_the_run_after_the_step_is_written(tmp_path):
    from rewardkit.loop import GRPOLoop, LoopConfig
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    taxonomy = rk.Taxonomy.load(ANIMALS)
    tokenizer = word_tokenizer(["classify", *taxonomy.names])
    model = tiny_causal_lm(tokenizer, seed=0)
    reward = rk.LadderReward(PaysEverything(taxonomy), "graded", tag=None)
    audit = Audit(rk.TaxonomyJudge(taxonomy), rate=1.0, background=False)
    monitor = Monitor(reward, audit=audit, alarms=Alarms(policy="stop", min_rows=8))
    data = [{"prompt": f"classify {x}", "label": x} for x in ["samoyed", "spitz", "dog", "cat"]]
    config = LoopConfig(
        num_generations=4, prompts_per_step=4, max_steps=5, max_new_tokens=1,
        output_dir=str(tmp_path), progress=False,
    )  # fmt: skip
    loop = GRPOLoop(model, tokenizer, reward, data, config, monitor=monitor)
    # Most one-token completions of the untrained model hold no answer: the audited rows with
    # both verdicts reach min_rows at step 3.
    with pytest.raises(RewardHackingAlarm, match="step 3: gap 0.255 above 0.1 over 13 audited"):
        loop.train()
    assert loop.step_index == 3  # stopped at the step boundary of the alarm
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[3])["step"] == 3  # the step was written first
    steps = read_run(tmp_path)["steps"]
    assert [[a["name"] for a in s["alarms"]] for s in steps] == [[], [], ["gap", "kappa"]]
