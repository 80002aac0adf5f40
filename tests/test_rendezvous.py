"""The rendezvous and the records it hands back, pinned exactly: the group size a reward
carries, the group stores open_rendezvous opens (and what it refuses), results awaited and
blocking alike, a static rule answered without a group, each SampleResult rendering
(OpenRLHF, verl, the JSON API); and the verdict-store protocol open_store opens."""

import asyncio
import math
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.groups import AsyncGroups, ThreadGroups
from rewardkit.judges.cache import VerdictCache, VerdictStore, open_store
from rewardkit.records import Member, SampleResult
from rewardkit.redis_groups import RedisGroups
from rewardkit.rendezvous import (
    RayGroups,
    Rendezvous,
    group_size_of,
    json_reply,
    open_rendezvous,
    openrlhf_reply,
)

from .conftest import ANIMALS

HANG = 30  # s: guards a group that never completes (a deadlock), not a time limit
DOG, SAMOYED, NONE = "<answer>dog</answer>", "<answer>samoyed</answer>", "no answer"


def reward(rule="speciarl", **spec):
    if spec:
        return rk.LadderReward.from_spec(
            rk.RewardSpec(judge="taxonomy", rule=rule, judge_options={"taxonomy": str(ANIMALS)},
                          **spec)
        )  # fmt: skip
    return rk.LadderReward("taxonomy", rule, taxonomy=str(ANIMALS))


def judged(r, completions):
    return r.judge_completions(completions, ["samoyed"] * len(completions))


# -- the group size ------------------------------------------------------------------------------


def test_the_group_size_is_given_or_the_specs_or_one_for_a_static_rule():
    assert group_size_of(reward(), 3) == 3
    assert group_size_of(reward(group_size=5)) == 5
    assert group_size_of(reward(group_size=5), 2) == 2  # the caller's wins
    assert group_size_of(reward("exact")) == 1
    with pytest.raises(ValueError) as e:
        group_size_of(reward())
    assert str(e.value) == "rule 'speciarl' is group-relative: give group_size"
    with pytest.raises(ValueError) as e:
        group_size_of(reward(), 0)
    assert str(e.value) == "group_size must be >= 1, got 0"


# -- the stores ----------------------------------------------------------------------------------


def test_open_rendezvous_opens_each_store_with_its_settings():
    r = reward()
    threads = open_rendezvous(r, 3, "threads", timeout=2.0)
    assert type(threads.groups) is ThreadGroups and threads.groups.timeout == 2.0
    buffer = threads.groups.buffer
    assert (buffer.group_size, buffer.linger, buffer.keep_complete) == (3, 20.0, False)
    tasks = open_rendezvous(r, 4, keep_complete=True, max_open=7)
    assert type(tasks.groups) is AsyncGroups and tasks.groups.timeout == 120.0
    assert (tasks.groups.buffer.keep_complete, tasks.groups.buffer.max_open) == (True, 7)
    shared = open_rendezvous(r, 2, "redis://127.0.0.1:1/0", timeout=5.0, lease=2.0)
    assert type(shared.groups) is RedisGroups
    assert (shared.groups.group_size, shared.groups.timeout, shared.groups.lease) == (2, 5.0, 2.0)
    ray = open_rendezvous(r, 2, "ray:run-1", timeout=9.0, ttl=60)
    assert type(ray.groups) is RayGroups and ray.groups.handle is None  # no actor before a call
    assert (ray.groups.name, ray.groups.timeout, ray.groups.ttl) == ("run-1", 9.0, 60.0)
    assert (ray.groups.ladder, ray.groups.rule) == (r.ladder, r.rule)
    assert ray.stats() == {}


def test_open_rendezvous_refuses_what_it_cannot_open():
    r = reward()
    for where in ("memory", "ray:", "http://host"):
        with pytest.raises(ValueError) as e:
            open_rendezvous(r, 2, where)
        assert str(e.value) == (
            f"a rendezvous is 'threads', 'asyncio', a redis:// URL or 'ray:<name>', got {where!r}"
        )
    with pytest.raises(TypeError) as e:
        open_rendezvous(r, 2, "threads", lease=1.0)
    assert str(e.value) == "in-process groups take no option 'lease'"
    with pytest.raises(ValueError) as e:
        open_rendezvous(r, 2, "asyncio", timeout=0)
    assert str(e.value) == "timeout must be > 0, got 0"


# -- results -------------------------------------------------------------------------------------


def test_a_group_rule_waits_for_the_group_awaited_or_blocking():
    r = reward()
    batch = judged(r, [DOG, SAMOYED, NONE])
    keys = [("p", "samoyed")] * 3
    tasks = open_rendezvous(r, 3, timeout=HANG)
    awaited = asyncio.run(tasks.results(batch, keys))
    blocking = open_rendezvous(r, 3, "threads", timeout=HANG).results_blocking(batch, keys)
    want = [float(x) for x in r.rewards(batch, 3)]
    for results in (awaited, blocking):
        assert [x.reward for x in results] == want
        assert [x.group for x in results] == [Member(w, False, False) for w in want]
        assert [x.outcome for x in results] == ["generic", "specific", "no_answer"]
        assert [x.correct for x in results] == [True, True, False]
        assert [x.found for x in results] == [True, True, False]
    assert tasks.grouped and tasks.stats()["completed"] == 1


def test_a_retried_identity_is_the_same_member():
    r = reward()
    rendezvous = open_rendezvous(r, 2, timeout=HANG)

    async def run():
        first = asyncio.ensure_future(rendezvous.results(judged(r, [DOG]), ["k"], ["a"]))
        again = asyncio.ensure_future(rendezvous.results(judged(r, [DOG]), ["k"], ["a"]))
        last = await rendezvous.results(judged(r, [SAMOYED]), ["k"], ["b"])
        return await first, await again, last

    (first,), (again,), (last,) = asyncio.run(asyncio.wait_for(run(), HANG))
    assert (first.reward, again.reward, last.reward) == (0.0, 0.0, 1.0)
    assert rendezvous.stats()["duplicate"] == 1 and rendezvous.stats()["completed"] == 1


def test_a_static_rule_or_groups_of_one_need_no_group():
    static = open_rendezvous(reward("graded"), 4, timeout=HANG)
    one = open_rendezvous(reward(), 1, "threads", timeout=HANG)
    assert (static.grouped, one.grouped) == (False, False)
    batch = judged(static.reward, [DOG, SAMOYED])
    results = asyncio.run(static.results(batch, ["k", "k"]))
    assert [(x.reward, x.group) for x in results] == [(0.5, None), (1.0, None)]
    assert static.stats()["open"] == 0  # nobody joined a group
    single = one.results_blocking(judged(one.reward, [DOG]), ["k"])
    assert [(x.reward, x.group) for x in single] == [(1.0, None)]  # generic is the best of one


def test_score_is_the_rule_over_one_group():
    r = reward()
    rendezvous = Rendezvous(r, 2)
    generic, specific = (r.ladder.index(x) for x in ("generic", "specific"))
    assert rendezvous.score([generic, specific], [True, True]).tolist() == [0.0, 1.0]


# -- renderings ----------------------------------------------------------------------------------

SCORED = SampleResult(0.25, "generic", True, True, Member(0.25, True, False), "generic")
UNSCORED = SampleResult(
    math.nan, "judge_error", False, True, Member(math.nan, False, True), error="timeout"
)
STATIC = SampleResult(1.5, "specific", True, True, verdict="specific")


def test_verl_rendering():
    assert SCORED.to_verl(-1.0) == {
        "score": 0.25, "verdict": "generic", "correct": 1.0, "no_answer": 0.0, "unscored": 0.0,
        "partial_group": 1.0, "zero_variance_group": 0.0,
    }  # fmt: skip
    assert UNSCORED.to_verl(-1.0) == {
        "score": -1.0, "verdict": "judge_error", "correct": 0.0, "no_answer": 0.0,
        "unscored": 1.0, "partial_group": 0.0, "zero_variance_group": 1.0,
    }  # fmt: skip
    assert list(STATIC.to_verl(0.0)) == ["score", "verdict", "correct", "no_answer", "unscored"]


def test_openrlhf_rendering():
    assert openrlhf_reply([SCORED, UNSCORED], 0.5, grouped=True) == {
        "rewards": [0.25, 0.5],
        "scores": [0.25, 0.5],
        "extra_logs": {
            "correct": [1.0, 0.0],
            "no_answer": [0.0, 0.0],
            "unscored": [0.0, 1.0],
            "partial_group": [1.0, 0.0],
            "zero_variance_group": [0.0, 1.0],
        },
    }
    static = openrlhf_reply([STATIC], -2.0, grouped=False)
    assert static["rewards"] == [1.5] and static["scores"] == [1.0]  # scores clipped to [0, 1]
    assert static["extra_logs"]["partial_group"] == [0.0]
    assert "zero_variance_group" not in static["extra_logs"]
    assert openrlhf_reply([], 0.0, grouped=True)["extra_logs"]["zero_variance_group"] == []


def test_json_rendering():
    assert json_reply([SCORED, UNSCORED, STATIC]) == {
        "rewards": [0.25, None, 1.5],
        "verdicts": ["generic", None, "specific"],
        "errors": [None, "timeout", None],
    }
    assert json_reply([]) == {"rewards": [], "verdicts": [], "errors": []}


def test_results_of_a_judged_batch():
    r = reward("graded")
    batch = judged(r, [DOG, NONE])
    results = SampleResult.all(batch, [0.5, math.nan])
    assert [(x.reward == x.reward, x.outcome, x.correct, x.found) for x in results] == [
        (True, "generic", True, True),
        (False, "no_answer", False, False),
    ]
    assert [(x.verdict, x.error) for x in results] == [("generic", None), (None, "no answer")]
    groups = [Member(2.0, False, True), Member(3.0, True, True)]
    assert [x.reward for x in SampleResult.all(batch, None, groups)] == [2.0, 3.0]


# -- verdict stores ------------------------------------------------------------------------------


def test_open_store_opens_a_file_a_url_or_keeps_a_store(tmp_path, redis_server):
    assert open_store(None) is None
    memory = VerdictCache(":memory:")
    assert open_store(memory) is memory
    path = tmp_path / "verdicts.sqlite"
    for where in (path, str(path)):
        store = open_store(where)
        assert type(store) is VerdictCache and store.path == str(path) and store.url == ""
    shared = open_store(redis_server.url)
    assert type(shared).__name__ == "RedisCache" and shared.url == redis_server.url
    with pytest.raises(TypeError) as e:
        open_store(3)
    assert str(e.value) == "a verdict cache is a file path, a redis:// URL or a VerdictStore, got 3"
    assert isinstance(open_store(Path(tmp_path / "b.sqlite")), VerdictStore)


def test_a_store_that_shares_no_work_judges_every_pair_itself():
    store = VerdictCache(":memory:")

    async def run():
        async with store.session() as same:
            claimed = await store.claim("j", [("a", "b"), ("c", "d")])
            waited = await store.await_verdicts("j", [["a", "b"]])
            await store.release("j", [("a", "b")])
            return same, claimed, waited

    same, claimed, waited = asyncio.run(run())
    assert same is store and claimed == [True, True] and waited == ({}, [("a", "b")])
    assert store.check() is None
