"""verl's reward-loop manager, pinned exactly: its options and their defaults, static rules and
groups of one (no waiting), ``unscored``, what a sample's text and group are, and the Ray path's
calls - the cases `make mutate` found the suite let change. (tests/test_verl.py drives the
manager as verl does; tests/test_verl_ray.py inside Ray.)"""

import asyncio
import sys

import numpy as np
import pytest
import torch

import rewardkit as rk
from rewardkit.groups import Member
from rewardkit.tiny import word_tokenizer

from .conftest import ANIMALS

verl_manager = pytest.importorskip("rewardkit.adapters.verl_manager")
OmegaConf = pytest.importorskip("omegaconf").OmegaConf

#: The first 16 hex digits of sha256("<answer> dog </answer>"): a sample's identity digest.
DOG = "caafac132b1bb935"
HANG = 60  # s: guards a sample that waits for siblings forever (a deadlock), not a time limit


def tokenizer():
    return word_tokenizer(["classify", *rk.Taxonomy.load(ANIMALS).names])


def config(n=4, trainer=None, **options):
    data = {
        "reward": {"reward_kwargs": {"taxonomy": str(ANIMALS), **options}},
        "actor_rollout_ref": {"rollout": {"n": n}},
    }
    if trainer is not None:
        data["trainer"] = trainer
    return OmegaConf.create(data)


def manager(n=4, trainer=None, **options):
    tok = tokenizer()
    return verl_manager.RewardkitRewardManager(config(n, trainer, **options), tok)


def samples(tok, responses, truths, uids=None, priority=None, masked=None):
    """A DataProto in verl's layout; ``masked`` text follows each response outside its
    attention mask (what verl's padding region may hold)."""
    from verl import DataProto

    prompt = tok(["classify"] * len(responses), return_tensors="pt", add_special_tokens=False)
    rows = [tok(r, add_special_tokens=False)["input_ids"] for r in responses]
    tails = [tok(masked, add_special_tokens=False)["input_ids"] if masked else [] for _ in rows]
    width = max(len(r) + len(t) for r, t in zip(rows, tails))
    pad = tok.pad_token_id
    ids = torch.tensor([r + t + [pad] * (width - len(r) - len(t)) for r, t in zip(rows, tails)])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    non_tensors = {
        "data_source": np.array(["animals"] * len(rows), dtype=object),
        "reward_model": np.array([{"ground_truth": t} for t in truths], dtype=object),
    }
    if uids is not None:
        non_tensors["uid"] = np.array(uids, dtype=object)
    if priority is not None:
        non_tensors["priority"] = np.array(priority, dtype=np.int64)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt["input_ids"],
            "responses": ids,
            "input_ids": torch.cat([prompt["input_ids"], ids], 1),
            "attention_mask": torch.cat([prompt["attention_mask"], mask], 1),
        },
        non_tensors=non_tensors,
    )


def score(m, data, indices=None):
    """Each sample's run_single, all on one event loop as verl's reward loop runs them."""
    indices = range(len(data)) if indices is None else indices

    async def batch():
        calls = [m.run_single(data[i : i + 1]) for i in indices]
        return await asyncio.wait_for(asyncio.gather(*calls), HANG)

    return asyncio.run(batch())


def summary(out):
    return [
        (o["reward_score"], o["reward_extra_info"]["partial_group"],
         o["reward_extra_info"]["zero_variance_group"])
        for o in out
    ]  # fmt: skip


# -- options -------------------------------------------------------------------------------------


def test_defaults():
    m = manager()
    assert (m.group_size, m.timeout, m.unscored) == (4, 300.0, 0.0)
    assert (m.backend, m.actor_name, m.actor_ttl, m.member_column) == (
        "local", "rewardkit-groups", 3600.0, "priority",
    )  # fmt: skip
    assert m._actor is None and m.compute_score is None
    buffer = m.groups.buffer
    assert (buffer.group_size, buffer.linger, buffer.keep_complete) == (4, 3000.0, True)
    assert m.groups.timeout == 300.0


def test_the_base_class_gets_the_config_tokenizer_and_compute_score():
    tok, cfg = tokenizer(), config()
    m = verl_manager.RewardkitRewardManager(cfg, tok, compute_score=len)
    assert (m.config, m.tokenizer, m.compute_score) == (cfg, tok, len)


def test_options():
    m = manager(2, timeout=2.0, unscored=-0.5, group_actor="mine", group_ttl=60, group_member="row")
    assert (m.timeout, m.unscored, m.actor_name, m.actor_ttl, m.member_column) == (
        2.0, -0.5, "mine", 60.0, "row",
    )  # fmt: skip
    assert (m.groups.buffer.linger, m.groups.timeout) == (20.0, 2.0)
    for off in ("none", "", None):
        assert manager(group_member=off).member_column is None


@pytest.mark.parametrize(
    "trainer, name",
    [
        ({"project_name": "p", "experiment_name": "e"}, "rewardkit-groups-p-e"),
        ({"project_name": "p"}, "rewardkit-groups-p"),
        ({"experiment_name": "e"}, "rewardkit-groups-e"),
        ({"project_name": None, "experiment_name": ""}, "rewardkit-groups"),
        ({}, "rewardkit-groups"),
    ],
)
def test_the_group_actor_is_named_after_the_run(trainer, name):
    assert manager(trainer=trainer).actor_name == name
    assert verl_manager._run_name(config(trainer=trainer)) == name


def test_configs_without_the_expected_parts():
    assert verl_manager._run_name(object()) == "rewardkit-groups"
    assert verl_manager._options(object()) == {}
    assert verl_manager._options(OmegaConf.create({"reward": {}})) == {}


def test_the_group_backend(monkeypatch):
    assert verl_manager._in_ray() is False  # ray is installed, not started
    monkeypatch.setitem(sys.modules, "ray", None)  # not installed
    assert verl_manager._in_ray() is False
    monkeypatch.setattr(verl_manager, "_in_ray", lambda: True)
    assert manager().backend == "ray"
    assert manager(group_backend="local").backend == "local"
    with pytest.raises(ValueError) as e:
        manager(group_backend="redis")
    assert str(e.value) == "group_backend must be ray or local, got 'redis'"


# -- what a sample is ----------------------------------------------------------------------------


def test_a_static_rule_and_a_group_of_one_never_wait_for_siblings():
    # One sample of a group of 4: with a group rule it would wait 300 s for its siblings.
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>"], ["samoyed"], uids=["u"])
    assert summary(score(manager(rule="correct"), data)) == [(1.0, 0.0, 1.0)]
    assert summary(score(manager(1), data)) == [(1.0, 0.0, 1.0)]  # speciarl, n = 1


def test_unscored_samples_get_the_unscored_option():
    tok = tokenizer()
    data = samples(tok, ["no answer here"], ["samoyed"], uids=["u"])
    m = manager(1, rule_options={"no_answer": None}, unscored=0.25)
    (out,) = score(m, data)
    assert out["reward_score"] == 0.25
    assert out["reward_extra_info"]["unscored"] == 1.0
    (default,) = score(manager(1, rule_options={"no_answer": None}), data)
    assert default["reward_score"] == 0.0


def test_the_response_is_what_the_attention_mask_covers_without_special_tokens():
    tok = tokenizer()
    data = samples(
        tok, ["<answer> dog </answer> <|im_end|>"], ["samoyed"], uids=["u"],
        masked="<answer> samoyed </answer>",
    )  # fmt: skip
    (out,) = score(manager(1), data)
    assert out["reward_score"] == 1.0  # speciarl, one of one: generic is the best
    assert out["reward_extra_info"]["verdict"] == "generic"  # dog, not the masked samoyed


def test_run_single_scores_the_last_sample_it_is_given():
    tok = tokenizer()
    data = samples(tok, ["<answer> cat </answer>", "<answer> dog </answer>"], ["samoyed"] * 2)
    m = manager(1)

    async def both():
        return await m.run_single(data)

    assert asyncio.run(both())["reward_extra_info"]["verdict"] == "generic"


def test_samples_without_a_uid_are_groups_of_their_own():
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>", "<answer> samoyed </answer>"], ["samoyed"] * 2)
    # Each waits out the (short) timeout alone and is rewarded as a partial group of one.
    assert summary(score(manager(2, timeout=0.5), data)) == [(1.0, 1.0, 1.0), (1.0, 1.0, 1.0)]


def test_an_extra_copy_of_a_complete_groups_member_is_rewarded_against_it():
    """verl pads a batch with copies of its first samples: a copy arriving after its group is
    complete joins that group late (rewarded at once), instead of opening a new one."""
    tok = tokenizer()
    responses = ["<answer> samoyed </answer>", "<answer> dog </answer>", "<answer> spitz </answer>"]
    data = samples(tok, responses, ["samoyed"] * 3, uids=["u"] * 3)
    m = manager(2, timeout=30.0)
    first = score(m, data, [0, 1])
    (late,) = score(m, data, [2])
    assert summary(first) == [(1.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
    assert summary([late]) == [(0.0, 1.0, 0.0)]  # spitz below the group's samoyed


def test_the_identity_is_the_priority_and_a_digest_of_the_response():
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>"], ["samoyed"], priority=[7])
    m = manager()
    assert m._identity(data[0], "<answer> dog </answer>") == f"7:{DOG}"

    class Plain:  # a column of Python ints (no .item())
        non_tensor_batch = {"priority": 7, "row": 3}

    assert m._identity(Plain(), "<answer> dog </answer>") == f"7:{DOG}"
    assert manager(group_member="row")._identity(Plain(), "x").startswith("3:")
    assert manager(group_member="none")._identity(Plain(), "x") is None


# -- inside Ray: the group actor's calls ---------------------------------------------------------


def test_the_ray_backend_makes_one_group_actor_and_calls_it(monkeypatch):
    ray_groups = pytest.importorskip("rewardkit.adapters.ray_groups")
    made, calls = [], []

    def group_actor(name, **options):
        made.append((name, options))
        return f"actor {len(made)}"

    async def remote_reward(actor, uid, code, found, ident):
        calls.append((actor, uid, code, found, ident))
        return Member(0.5, False, False)

    monkeypatch.setattr(ray_groups, "group_actor", group_actor)
    monkeypatch.setattr(ray_groups, "remote_reward", remote_reward)
    m = manager(2, group_backend="ray", group_actor="g", timeout=9.0, group_ttl=99)
    tok = tokenizer()
    data = samples(
        tok, ["<answer> dog </answer>", "no answer"], ["samoyed"] * 2, uids=["u", "u"],
        priority=[3, 4],
    )  # fmt: skip
    out = score(m, data)
    assert [o["reward_score"] for o in out] == [0.5, 0.5]
    assert made == [
        ("g", {"group_size": 2, "ladder": m.reward.ladder, "rule": m.reward.rule,
               "timeout": 9.0, "ttl": 99.0}),
    ]  # fmt: skip
    assert calls[0] == ("actor 1", "u", 2, True, f"3:{DOG}")  # generic is rung 2
    assert calls[1][:4] == ("actor 1", "u", -1, False) and calls[1][4].startswith("4:")


def test_special_tokens_inside_the_answer_are_skipped():
    # Decoded with them, the answer would hold a chat-control marker (refused: no answer).
    tok = tokenizer()
    data = samples(tok, ["<answer> dog <|im_end|> </answer>"], ["samoyed"], uids=["u"])
    (out,) = score(manager(1), data)
    assert (out["reward_score"], out["reward_extra_info"]["verdict"]) == (1.0, "generic")


def test_a_required_card_is_checked_against_the_reward_the_options_make(tmp_path):
    from rewardkit.redteam import CardError

    rows = [{"label": "samoyed"}, {"label": "american robin"}]
    card = rk.redteam(
        rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS)), rows, group_size=4
    )
    assert card.status == "pass"
    (tmp_path / "card.json").write_text(card.to_json())
    assert manager(require_card=str(tmp_path / "card.json")).group_size == 4
    with pytest.raises(CardError) as e:
        manager(require_card=str(tmp_path / "none.json"))
    assert str(e.value) == f"require_card: no robustness card at {tmp_path / 'none.json'}"
    with pytest.raises(CardError) as e:
        manager(require_card=str(tmp_path / "card.json"), rule="exact")
    assert "was made for another reward: the rule differs" in str(e.value)


def test_the_response_length_in_tokens_reaches_a_rule_that_reads_it():
    # Three tokens on DAPO's ramp from 2 to 4: -0.5 (counted in characters, 22, it would be -1).
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>"], ["samoyed"], uids=["u"])
    m = manager(1, rule="soft_overlong", rule_options={"l_max": 4, "l_cache": 2})
    (out,) = score(m, data)
    assert out["reward_score"] == -0.5


# -- the reward monitor --------------------------------------------------------------------------


@pytest.fixture
def _monitors_unregistered():
    yield
    from rewardkit.monitor import disable

    disable()  # the monitors a test opened leave no plugin registered for the tests after it


def audit_spec(tmp_path):
    path = tmp_path / "audit_spec.json"
    rk.RewardSpec(judge="taxonomy", judge_options={"taxonomy": str(ANIMALS)}).save(path)
    return str(path)


@pytest.mark.usefixtures("_monitors_unregistered")
def test_in_process_the_monitor_watches_groups_of_the_managers_size(tmp_path):
    m = manager(3, audit_spec=audit_spec(tmp_path), audit_rate=1.0)
    assert (m.watch.group_size, m.watch.groups_per_step) == (3, 8)  # monitor_groups' default
    assert m.watch.monitor.alarms.policy == "warn" and m._monitor is None
    m.watch.monitor.close()
    m = manager(3, audit_spec=audit_spec(tmp_path), monitor_groups=2)
    assert m.watch.groups_per_step == 2
    m.watch.monitor.close()
    assert manager(3).watch is None


@pytest.mark.usefixtures("_monitors_unregistered")
def test_in_process_a_sample_reaches_the_watch_with_its_group_and_identity(tmp_path):
    m = manager(2, rule="graded", audit_spec=audit_spec(tmp_path), audit_rate=1.0,
                monitor_groups=1)  # fmt: skip
    seen = []
    add = m.watch.add

    def watched(uids, judged, truths, rewards, members, partial):
        seen.append((uids, judged.answers, truths, rewards, members, partial))
        return add(uids, judged, truths, rewards, members=members, partial=partial)

    m.watch.add = watched
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>"] * 2, ["samoyed"] * 2, uids=["u", "u"],
                   priority=[3, 4])  # fmt: skip
    out = score(m, data, [0])
    assert seen == [(["u"], ["dog"], ["samoyed"], [out[0]["reward_score"]], [f"3:{DOG}"], [False])]
    assert out[0]["reward_extra_info"]["monitor/steps"] == 0.0  # the group is not whole yet
    out = score(m, data, [1])
    assert out[0]["reward_extra_info"]["monitor/steps"] == 1.0
    m.watch.monitor.close()


@pytest.mark.usefixtures("_monitors_unregistered")
def test_under_ray_the_watch_is_the_monitor_actors_name_and_arguments(tmp_path):
    import hashlib
    import json

    spec = audit_spec(tmp_path)
    m = manager(2, group_backend="ray", group_actor="g", audit_spec=spec, audit_rate=0.5,
                alarm_policy="stop", monitor_groups=3)  # fmt: skip
    options = {"audit_spec": spec, "audit_rate": 0.5, "alarm_policy": "stop", "monitor_groups": 3}
    given = {"taxonomy": str(ANIMALS), "group_backend": "ray", "group_actor": "g", **options}
    reward_spec, _ = rk.RewardSpec.from_options(given, own=verl_manager._OWN)
    name, *rest = m.watch
    args = (reward_spec.to_dict(), options, 2, 3)
    assert tuple(rest) == args
    tag = hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()
    assert name == f"g-monitor-{tag[:12]}"
    assert m._monitor is None  # made on the first sample, not before
    assert manager(2, group_backend="ray").watch is None  # no audit_spec: no monitor


def test_under_ray_monitor_options_are_checked_in_the_worker(tmp_path):
    with pytest.raises(ValueError, match="audit_rate given without audit_spec"):
        manager(2, group_backend="ray", audit_rate=0.5)
    with pytest.raises(ValueError, match="alarm_policy filter needs each group's answers"):
        manager(2, group_backend="ray", audit_spec=audit_spec(tmp_path), alarm_policy="filter")
    with pytest.raises(rk.SpecError, match="cannot read reward spec .*missing.json"):
        manager(2, group_backend="ray", audit_spec=str(tmp_path / "missing.json"))


@pytest.mark.usefixtures("_monitors_unregistered")
def test_under_ray_samples_reach_one_monitor_actor(monkeypatch, tmp_path):
    ray_groups = pytest.importorskip("rewardkit.adapters.ray_groups")
    ray_monitor = pytest.importorskip("rewardkit.adapters.ray_monitor")
    made, calls = [], []

    async def remote_reward(actor, uid, code, found, ident):
        return Member(0.5, uid == "p", False)

    def monitor_actor(*args):
        made.append(args)
        return f"monitor {len(made)}"

    async def remote_watch(handle, *args):
        calls.append((handle, *args))
        return {"monitor/steps": float(len(calls))}

    monkeypatch.setattr(ray_groups, "group_actor", lambda name, **options: "groups")
    monkeypatch.setattr(ray_groups, "remote_reward", remote_reward)
    monkeypatch.setattr(ray_monitor, "monitor_actor", monitor_actor)
    monkeypatch.setattr(ray_monitor, "remote_watch", remote_watch)
    m = manager(2, group_backend="ray", group_actor="g", audit_spec=audit_spec(tmp_path))
    tok = tokenizer()
    data = samples(tok, ["<answer> dog </answer>"] * 3, ["samoyed", "samoyed", "cat"],
                   uids=["u", "p", "u"], priority=[3, 4, 5])  # fmt: skip
    out = score(m, data)
    assert made == [m.watch] and m._monitor == "monitor 1"
    assert [o["reward_extra_info"]["monitor/steps"] for o in out] == [1.0, 2.0, 3.0]
    assert [o["reward_score"] for o in out] == [0.5, 0.5, 0.5]
    assert [c[:2] for c in calls] == [("monitor 1", "u"), ("monitor 1", "p"), ("monitor 1", "u")]
    assert [c[2].answers for c in calls] == [["dog"]] * 3
    assert [c[3:] for c in calls] == [
        ("samoyed", 0.5, f"3:{DOG}", False),
        ("samoyed", 0.5, f"4:{DOG}", True),
        ("cat", 0.5, f"5:{DOG}", False),
    ]
