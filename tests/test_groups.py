"""One set of group-assembly scenarios, driven through both wrappers of the one GroupBuffer:
threads (OpenRLHF) and asyncio tasks (verl's reward loop). The rewards must be identical."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.groups import AsyncGroups, GroupBuffer, ThreadGroups
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
