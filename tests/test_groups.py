"""One set of group-assembly scenarios, driven through both wrappers of the one GroupBuffer:
threads (OpenRLHF) and asyncio tasks (verl's reward loop). The rewards must be identical.
Then the rules that keep a member from being paid twice: retried identities, failed requests;
and the bounds on what the buffer holds (digests of keys, capped open and closed groups)."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.groups import AsyncGroups, GroupBuffer, GroupsFull, ThreadGroups, _held
from rewardkit.rules import Batch

S = rk.SPECIARL
W, A, G, L, SP = (S.index(x) for x in ("wrong", "abstain", "generic", "less_specific", "specific"))
TIMEOUT = 0.3


def speciarl(codes, found):
    batch = Batch(S, np.asarray(codes, np.int16), np.asarray(found, bool), len(codes))
    return rk.SpeciaRL().compute(batch)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def drive(kind, waves, group_size=3, linger=100.0, clock=None):
    """Run waves of members (each wave concurrently, waves one after another); returns
    [(reward, partial, seconds waited)] per member in order."""
    clock = clock or Clock()
    buffer = GroupBuffer(group_size, speciarl, linger=linger)
    out = []
    if kind == "thread":
        groups = ThreadGroups(buffer, TIMEOUT, clock)

        def one(member):
            start = time.monotonic()
            reward, partial, _ = groups.reward(*member)
            return reward, partial, time.monotonic() - start

        size = max(len(w) for w in waves if not callable(w))
        with ThreadPoolExecutor(size) as pool:  # a waiting member holds its thread
            for wave in waves:
                if callable(wave):
                    wave(clock)
                    continue
                out += list(pool.map(one, wave))
    else:
        groups = AsyncGroups(buffer, TIMEOUT, clock)

        async def one(member):
            start = time.monotonic()
            reward, partial, _ = await groups.reward(*member)
            return reward, partial, time.monotonic() - start

        async def main():
            results = []
            for wave in waves:
                if callable(wave):
                    wave(clock)
                    continue
                results += await asyncio.gather(*(one(m) for m in wave))
            return results

        out = asyncio.run(main())
    return out, buffer


def advance(seconds):
    def step(clock):
        clock.now += seconds

    return step


SCENARIOS = {
    "complete": (
        [[("p", G, True), ("p", L, True), ("p", W, True)]],
        [(0.0, False), (1.0, False), (0.0, False)],
    ),
    "two groups interleaved": (
        [
            [
                ("p", G, True),
                ("q", SP, True),
                ("p", G, True),
                ("q", L, True),
                ("p", A, True),
                ("q", SP, False),
            ]
        ],
        [(1.0, False), (1.0, False), (1.0, False), (0.0, False), (0.0, False), (-1.0, False)],
    ),
    "timeout then a late member": (
        [[("p", G, True), ("p", W, True)], [("p", SP, True)]],
        # Two members time out as a partial group (generic is the best: 1, wrong: 0); the late
        # specific is rewarded at once against all three: 1.
        [(1.0, True), (0.0, True), (1.0, True)],
    ),
    "a late member after pruning starts a new group": (
        [[("p", G, True)], advance(1000.0), [("p", SP, True)]],
        [(1.0, True), (1.0, True)],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_scenarios(kind, name):
    waves, expected = SCENARIOS[name]
    got, buffer = drive(kind, waves, linger=100.0)
    assert [(r, p) for r, p, _ in got] == expected
    waited = [s for _, _, s in got]
    if name == "complete" or name == "two groups interleaved":
        assert max(waited) < TIMEOUT / 2  # nobody waited for a timeout
    if name == "timeout then a late member":
        assert min(waited[:2]) >= TIMEOUT * 0.9 and waited[2] < TIMEOUT / 2  # no second wait
        assert buffer.stats() == {
            "open": 0,
            "closed_partial": 0,
            "completed": 0,
            "partial": 1,
            "late": 1,
            "duplicate": 0,
            "abandoned": 0,
            "undelivered": 0,
            "pruned": 0,
        }
    if name == "a late member after pruning starts a new group":
        assert min(waited) >= TIMEOUT * 0.9 and buffer.late == 0 and buffer.partials == 2


def test_both_wrappers_give_identical_rewards_on_a_random_stream():
    rng = np.random.default_rng(0)
    keys = [f"k{i}" for i in range(12)]
    members = [(k, int(rng.integers(-1, 6)), bool(rng.random() > 0.1)) for k in keys * 4]
    members = [members[i] for i in rng.permutation(len(members))]
    waves = [members]
    threads, _ = drive("thread", waves, group_size=4)
    tasks, _ = drive("asyncio", waves, group_size=4)
    assert [(rk.to_list([r]), p) for r, p, _ in threads] == [
        (rk.to_list([r]), p) for r, p, _ in tasks
    ]
    # ... and equal to rewarding whole groups offline.
    for key in keys:
        idx = [i for i, m in enumerate(members) if m[0] == key]
        codes = [members[i][1] for i in idx]
        found = [members[i][2] for i in idx]
        offline = speciarl(codes, found)
        # Within a group, members are rewarded in join order, which the wrapper decides; the
        # multiset of rewards is the same.
        got = sorted(np.nan_to_num(threads[i][0], nan=-9) for i in idx)
        assert got == sorted(np.nan_to_num(offline, nan=-9).tolist())
        assert not any(threads[i][1] for i in idx)


def test_a_group_of_one_and_bad_arguments():
    buffer = GroupBuffer(1, speciarl)
    ticket = buffer.join("p", SP, True, now=0.0)
    assert buffer.result(ticket) == (1.0, False, True)
    with pytest.raises(ValueError, match="group_size"):
        GroupBuffer(0, speciarl)
    with pytest.raises(ValueError, match="timeout"):
        ThreadGroups(buffer, 0)
    unfinished = GroupBuffer(2, speciarl).join("p", SP, True, now=0.0)
    with pytest.raises(RuntimeError, match="not done"):
        GroupBuffer(2, speciarl).result(unfinished)


def test_a_flat_group_is_flagged():
    buffer = GroupBuffer(3, speciarl)
    tickets = [buffer.join("p", c, True, now=0.0) for c in (G, G, W)]  # 1, 1, 0
    assert [buffer.result(t).flat for t in tickets] == [False] * 3
    tickets = [buffer.join("q", c, True, now=0.0) for c in (W, W, W)]  # 0, 0, 0
    assert [buffer.result(t).flat for t in tickets] == [True] * 3


# -- never paid twice --------------------------------------------------------------------------

GUARD = 30.0  # a hang guard only: the groups below complete without any timeout


def test_a_retried_identity_does_not_complete_the_group_early_asyncio():
    buffer = GroupBuffer(3, speciarl)
    groups = AsyncGroups(buffer, GUARD)

    async def main():
        first = asyncio.ensure_future(groups.reward("samoyed?", SP, True, member="a"))
        dog = asyncio.ensure_future(groups.reward("samoyed?", G, True, member="b"))
        retry = asyncio.ensure_future(groups.reward("samoyed?", SP, True, member="a"))
        await asyncio.sleep(0)  # all three joined (joining is synchronous)
        assert len(buffer.open[_held("samoyed?")].slots) == 2  # the retry is not a second member
        spitz = groups.reward("samoyed?", L, True, member="c")  # the true last sibling
        return await asyncio.wait_for(asyncio.gather(first, dog, retry, spitz), GUARD)

    got = asyncio.run(main())
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False)] * 2
    assert got[0] == got[2]
    assert buffer.stats()["duplicate"] == 1 and buffer.stats()["completed"] == 1


def test_a_retried_identity_does_not_complete_the_group_early_threads():
    buffer = GroupBuffer(3, speciarl)
    groups = ThreadGroups(buffer, GUARD)
    calls = [("a", SP), ("b", G), ("a", SP), ("c", L)]
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda m: groups.reward("samoyed?", m[1], True, member=m[0]), calls))
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False)] * 2
    assert buffer.stats()["duplicate"] == 1 and buffer.stats()["completed"] == 1
    assert time.monotonic() - start < GUARD / 2  # nobody waited for the timeout


def test_a_cancelled_member_leaves_no_trace():
    """The finding: a request fails, the trainer retries it (no identity: OpenRLHF). Before, the
    retry completed the group early and the true last sibling - a spitz for a samoyed - waited
    out the timeout and was rewarded alone (1.0). Now the failed member leaves its group."""
    buffer = GroupBuffer(3, speciarl)
    groups = AsyncGroups(buffer, GUARD)

    async def main():
        samoyed = asyncio.ensure_future(groups.reward("samoyed?", SP, True))
        dog = asyncio.ensure_future(groups.reward("samoyed?", G, True))
        await asyncio.sleep(0)
        dog.cancel()  # the client went away
        await asyncio.gather(dog, return_exceptions=True)
        assert buffer.open[_held("samoyed?")].codes == [SP]
        retry = asyncio.ensure_future(groups.reward("samoyed?", G, True))
        spitz = groups.reward("samoyed?", L, True)
        return await asyncio.wait_for(asyncio.gather(samoyed, retry, spitz), GUARD)

    got = asyncio.run(main())
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False), (0.0, False)]
    stats = buffer.stats()
    assert (stats["abandoned"], stats["completed"], stats["partial"], stats["open"]) == (1, 1, 0, 0)


def test_release_keeps_members_that_were_rewarded_or_still_awaited():
    buffer = GroupBuffer(2, speciarl)
    lone = buffer.join("p", SP, True, now=0.0)
    assert buffer.release(lone) and buffer.stats()["open"] == 0  # an empty group is forgotten
    first = buffer.join("q", SP, True, now=0.0, member="a")
    again = buffer.join("q", SP, True, now=0.0, member="a")
    assert not buffer.release(first)  # its retry still waits on the member
    last = buffer.join("q", W, True, now=0.0, member="b")
    assert [buffer.result(t).reward for t in (again, last)] == [1.0, 0.0]
    assert not buffer.release(again)  # rewarded: stays in its group
    assert buffer.stats()["undelivered"] == 1 and buffer.stats()["abandoned"] == 1


def test_identities_after_the_group_and_late_members_get_the_same_reward():
    clock = Clock()
    buffer = GroupBuffer(4, speciarl, linger=100.0)
    groups = AsyncGroups(buffer, 0.2, clock)

    async def main():
        pair = await asyncio.gather(groups.reward("p", G, True), groups.reward("p", W, True))
        x = await groups.reward("p", L, True, member="x")  # late: best of G, W, L
        y = await groups.reward("p", SP, True, member="y")  # late: changes the group's rewards
        x_again = await groups.reward("p", L, True, member="x")
        codes = enumerate((SP, G, W, W))
        full = await asyncio.gather(*(groups.reward("q", c, True, member=i) for i, c in codes))
        retried = await groups.reward("q", G, True, member=1)  # complete group: answered at once
        new = buffer.join("q", SP, True, clock(), member=9)  # a new identity: a new group
        return pair, x, y, x_again, full, retried, new

    pair, x, y, x_again, full, retried, new = asyncio.run(main())
    assert [m.reward for m in pair] == [1.0, 0.0] and (x.reward, y.reward) == (1.0, 1.0)
    assert x_again == x  # not recomputed against y
    assert [m.reward for m in full] == [1.0, 0.0, 0.0, 0.0] and retried == full[1]
    assert not new.group.done and buffer.stats()["duplicate"] == 2
    clock.now += 1000.0
    assert buffer.join("q", G, True, clock(), member=1).slot.result is None  # forgotten: new


def test_verl_padding_copies_keep_complete_with_and_without_identity():
    buffer = GroupBuffer(2, speciarl, keep_complete=True)
    tickets = [buffer.join("u", c, True, now=0.0, member=i) for i, c in enumerate((SP, G))]
    copy = buffer.join("u", SP, True, now=0.0, member=0)  # the same sample again: same answer
    anonymous = buffer.join("u", SP, True, now=0.0)  # no identity: late member, at once
    assert buffer.result(copy) == buffer.result(tickets[0]) == (1.0, False, False)
    assert buffer.result(anonymous) == (1.0, True, False)


def test_events_are_logged_one_line_each_without_the_key(caplog):
    buffer = GroupBuffer(3, speciarl)
    groups = AsyncGroups(buffer, 0.05)
    key = ("a secret prompt", "samoyed")

    async def main():
        gone = asyncio.ensure_future(groups.reward(key, SP, True, member="m"))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        twice = [groups.reward(key, c, True, member="n") for c in (G, G)]
        await asyncio.gather(*twice)

    with caplog.at_level("INFO", logger="rewardkit.groups"):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in line and "secret" not in line for line in lines)
    assert ["removed" in lines[0], "retried" in lines[1], "timeout" in lines[2]] == [True] * 3


def test_an_identity_reused_for_another_verdict_keeps_the_first_and_says_so(caplog):
    buffer = GroupBuffer(2, speciarl)
    first = buffer.join("p", SP, True, now=0.0, member="a")
    with caplog.at_level("INFO", logger="rewardkit.groups"):
        again = buffer.join("p", W, True, now=0.0, member="a")  # a client reusing an id
    assert again.slot is first.slot and buffer.open[_held("p")].codes == [SP]
    assert "ANOTHER verdict" in caplog.text


def test_groups_hold_a_digest_of_the_key_never_the_prompt():
    """The finding: keys held raw for the linger (10 x timeout) - 200 requests with 500 KB
    prompts, each group closed by its timeout, held 100 MB."""
    import tracemalloc

    buffer = GroupBuffer(2, speciarl, linger=1e9)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            prompt = f"{i:03d}" + "x" * 100_000
            ticket = buffer.join((prompt, "samoyed"), SP, True, now=float(i), member=prompt)
            buffer.close(ticket, now=float(i))
            del prompt, ticket
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert buffer.stats()["closed_partial"] == 200
    assert held < 1_000_000, held  # 40 MB before: every prompt, twice (key and identity)
    # The same prompt again is still its group: a retried identity is answered from its slot.
    prompt = "000" + "x" * 100_000
    again = buffer.join((prompt, "samoyed"), SP, True, now=200.0, member=prompt)
    assert buffer.result(again) == (1.0, True, True) and buffer.duplicates == 1


def test_open_and_closed_groups_are_capped():
    buffer = GroupBuffer(2, speciarl, max_open=2, max_closed=2)
    first = [buffer.join(k, SP, True, now=0.0) for k in ("a", "b")]
    with pytest.raises(GroupsFull, match=r"2 groups open, the most held \(max_open\)"):
        buffer.join("c", SP, True, now=0.0)
    assert buffer.stats()["open"] == 2  # the refused member left nothing behind
    buffer.join("a", W, True, now=0.1)  # a member of an open group still joins: "a" completes
    third = buffer.join("c", SP, True, now=0.2)  # and frees a place
    for i, ticket in enumerate((first[1], third)):  # "b" then "c" closed by their timeout
        buffer.close(ticket, now=1.0 + i)
    late = buffer.join("d", G, True, now=3.0)
    buffer.close(late, now=3.0)  # a third closed group: the oldest ("b") is forgotten
    assert list(buffer.closed) == [buffer.join("c", W, True, now=4.0).key, late.key]
    assert buffer.stats()["pruned"] == 1 and buffer.late == 1
    # "b" was forgotten: a member for it opens a new group instead of joining the old one late.
    assert not buffer.join("b", W, True, now=5.0).group.done
