"""Redis groups against a real redis-server: the rules of rewardkit.groups across replicas (two
RedisGroups instances on one Redis), a dropped connection, a request that fails and the
trainer's retry, a closer that dies before publishing, two replicas racing to close, and Redis
refusing us (wrong address, password, database) or going away mid-run, and leases: a member
whose request failed in an outage (DEBUG SLEEP) or whose replica died is not counted.

Nothing sleeps to synchronise: tests poll Redis for the state they need, under deadlines that
only guard hangs (each says which hang)."""

import asyncio
import logging
import time

import numpy as np
import pytest

import rewardkit as rk
from rewardkit.errors import StoreUnavailable
from rewardkit.groups import digest
from rewardkit.redis_groups import RedisGroups, _Lease, _sha, redact
from rewardkit.rules import Batch

from .conftest import RedisServer

S = rk.SPECIARL
W, G, L, SP = (S.index(x) for x in ("wrong", "generic", "less_specific", "specific"))
GUARD = 30.0  # seconds; only a hang reaches it


def score(codes, found):
    batch = Batch(S, np.asarray(codes, np.int16), np.asarray(found, bool), len(codes))
    return rk.SpeciaRL().compute(batch)


def replicas(url, n=2, **options):
    options = {"timeout": 30.0, **options}
    return [RedisGroups(url, 3, score, **options) for _ in range(n)]


async def until(check, hang: str, limit: float = GUARD):
    """Poll ``check()`` (sync or async) until true; fail naming the hang after ``limit``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.01)
    pytest.fail(f"hang: {hang}")


def group_key(key, gen=0, prefix="rewardkit"):
    return f"{prefix}:g:{_sha(key)}:{gen}"


async def live(admin, key, gen=0):
    return int(await admin.hget(group_key(key, gen), "live") or 0)


async def published(admin, key, gen=0):
    import json

    raw = await admin.hget(group_key(key, gen), "result")
    return None if raw is None else json.loads(raw)


async def closing(*groups):
    for g in groups:
        await g.aclose()


def admin_client(url):
    import redis.asyncio as aioredis

    return aioredis.from_url(url)


def test_timeout_late_member_and_a_reused_key(redis_server):
    async def main():
        a, b = replicas(redis_server.url, timeout=1.5)  # joins come well within it
        first = await asyncio.gather(a.reward("p", G, True), b.reward("p", W, True))
        late = await b.reward("p", SP, True, member="x")  # after the close: rewarded at once
        again = await a.reward("p", SP, True, member="x")  # its retry: the same slot, same number
        complete = await asyncio.gather(*(a.reward("q", SP, True) for _ in range(3)))
        reused = await asyncio.gather(*(b.reward("q", W, True) for _ in range(3)))
        await closing(a, b)
        return first, late, again, complete, reused, a.stats(), b.stats()

    first, late, again, complete, reused, sa, sb = asyncio.run(main())
    assert [(m.reward, m.partial) for m in first] == [(1.0, True), (0.0, True)]
    assert (late.reward, late.partial) == (1.0, True) and again == late
    assert [m.reward for m in complete] == [1.0] * 3 and not any(m.partial for m in complete)
    # The same key again (the next epoch's prompt): a new group, not late members of the old one.
    assert [m.reward for m in reused] == [0.0] * 3 and all(m.flat for m in reused)
    assert sa["partial"] + sb["partial"] == 1 and sa["completed"] + sb["completed"] == 2
    assert (sb["late"], sa["late"], sa["duplicate"]) == (1, 1, 1)


def test_two_replicas_racing_to_close_one_closer(redis_server):
    keys = [f"k{i}" for i in range(10)]

    async def main():
        a, b = replicas(redis_server.url, timeout=1.5)  # joins come well within it
        # Each group: one member on each replica, joined together, so both time out together.
        pairs = await asyncio.gather(
            *(asyncio.gather(a.reward(k, G, True), b.reward(k, W, True)) for k in keys)
        )
        admin = admin_client(redis_server.url)
        results = [await published(admin, k) for k in keys]
        await admin.aclose()
        await closing(a, b)
        return pairs, results, a.stats(), b.stats()

    pairs, results, sa, sb = asyncio.run(main())
    assert [(x.reward, y.reward, x.partial, y.partial) for x, y in pairs] == [
        (1.0, 0.0, True, True)
    ] * 10
    assert sa["partial"] + sb["partial"] == 10  # exactly one closer per group
    assert sa["takeover"] + sb["takeover"] == 0
    # One result per group, both members in it (which replica's member took slot 0 varies).
    assert [(r["slots"], sorted(r["rewards"]), r["partial"]) for r in results] == [
        ([0, 1], [0.0, 1.0], True)
    ] * 10


@pytest.mark.parametrize("how", ["completing member", "timed-out member"])
def test_a_dead_closer_is_taken_over(redis_server, how, caplog):
    """The replica that closed the group (its last member, or the first to time out) dies
    before publishing: the close lock expires and a waiting member publishes instead."""
    caplog.set_level(logging.WARNING, "rewardkit.redis_groups")

    async def main():
        a, b = replicas(redis_server.url, close_ttl=1.0)  # timeout 30 s: never reached
        waiting = [asyncio.ensure_future(g.reward("p", c, True)) for g, c in ((a, G), (b, SP))]
        admin = admin_client(redis_server.url)
        await until(lambda: _is(live(admin, "p"), 2), "two members joining")
        if how == "completing member":
            dead = RedisGroups(redis_server.url, 3, score, 30.0, close_ttl=1.0)
            args = ["r:dead", "dead", f"[{L}, true]", 3, 60_000, 1000]
            status = await dead._script("join", [f"rewardkit:g:{_sha('p')}"], args, _Lease())
            assert status[2] == b"complete"
            await dead.aclose()  # ... and never publishes
        else:
            group = group_key("p")
            await admin.hset(group, mapping={"cut": 2, "partial": 1})
            await admin.set(group + ":lock", "dead", px=1000)
        start = time.monotonic()
        got = await asyncio.wait_for(asyncio.gather(*waiting), GUARD)  # hang: never taken over
        elapsed = time.monotonic() - start
        await admin.aclose()
        await closing(a, b)
        return got, elapsed, a.stats()["takeover"] + b.stats()["takeover"]

    got, elapsed, takeovers = asyncio.run(main())
    if how == "completing member":  # generic, specific, less specific: the specific wins
        assert [(m.reward, m.partial) for m in got] == [(0.0, False), (1.0, False)]
    else:
        assert [(m.reward, m.partial) for m in got] == [(0.0, True), (1.0, True)]
    assert takeovers == 1 and elapsed < GUARD / 2
    said = [r.getMessage() for r in caplog.records if r.name == "rewardkit.redis_groups"]
    assert said == [f"group {digest('p')}: closer gone before publishing; taken over"]


async def _is(value, expected):
    return (await value) == expected


def test_a_killed_connection_mid_group_is_survived(redis_server):
    async def main():
        a, b = replicas(redis_server.url)
        admin = admin_client(redis_server.url)
        waiting = [asyncio.ensure_future(a.reward("p", c, True)) for c in (SP, G)]
        await until(lambda: _is(live(admin, "p"), 2), "two members joining")
        before = (await admin.info("stats"))["total_connections_received"]
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        last = await b.reward("p", L, True)
        got = await asyncio.wait_for(asyncio.gather(*waiting), GUARD)  # hang: lost its group
        after = (await admin.info("stats"))["total_connections_received"]
        result = await published(admin, "p")
        await admin.aclose()
        await closing(a, b)
        return [*got, last], killed, after - before, result, a.stats()

    got, killed, reconnects, result, sa = asyncio.run(main())
    assert killed >= 1 and reconnects >= 2  # a's connection dropped; a and b (re)connected
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False), (0.0, False)]
    assert result["slots"] == [0, 1, 2] and sa["abandoned"] == 0


def test_failed_members_leave_and_the_trainers_retry_is_paid_once(redis_server):
    """The finding: a dropped connection fails the waiting members (retry_for=0: no reconnect
    attempt), the trainer retries them on another replica. Each member is rewarded once, in one
    group, as one process would: a spitz for a samoyed gets 0.0, not a group of its own."""

    async def main():
        (a,) = replicas(redis_server.url, 1, retry_for=0.0)
        (b,) = replicas(redis_server.url, 1)
        admin = admin_client(redis_server.url)
        first = [asyncio.ensure_future(a.reward("p", c, True)) for c in (SP, G)]
        await until(lambda: _is(live(admin, "p"), 2), "two members joining")
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        failed = await asyncio.wait_for(asyncio.gather(*first, return_exceptions=True), GUARD)
        await until(lambda: _is(live(admin, "p"), 0), "failed members removed")
        retried = [asyncio.ensure_future(b.reward("p", c, True)) for c in (SP, G)]
        await until(lambda: _is(live(admin, "p"), 2), "retries joining")
        spitz = await b.reward("p", L, True)
        got = await asyncio.wait_for(asyncio.gather(*retried), GUARD)  # hang: old group paid them
        result = await published(admin, "p")
        await admin.aclose()
        await closing(a, b)
        return failed, [*got, spitz], result, a.stats(), b.stats()

    failed, got, result, sa, sb = asyncio.run(main())
    assert [type(e) for e in failed] == [StoreUnavailable, StoreUnavailable]
    assert sa["abandoned"] == 2 and sa["undelivered"] == 0
    assert [(m.reward, m.partial) for m in got] == [(1.0, False), (0.0, False), (0.0, False)]
    assert result["slots"] == [2, 3, 4]  # slots 0 and 1 (the failed members) are not counted
    assert sb["completed"] == 1 and sb["partial"] == sa["partial"] == 0


@pytest.fixture
def debug_redis(tmp_path):
    server = RedisServer(tmp_path, "--enable-debug-command", "yes").start()
    yield server
    server.stop()


def test_an_outage_longer_than_retry_for_leaves_no_ghost(debug_redis):
    """The finding: Redis stalls (DEBUG SLEEP) longer than a replica retries, so A's request
    fails and cannot remove its member. Before the fix the ghost stayed: the trainer's retry of
    A completed a group with it and the true sibling B was paid alone after the timeout. Now A
    answers its error only once its lease has run out, and the ghost is never counted."""

    async def main():
        a = RedisGroups(debug_redis.url, 2, score, 8.0, command_timeout=0.5, lease=1.0)
        admin, sleeper = admin_client(debug_redis.url), admin_client(debug_redis.url)
        first = asyncio.ensure_future(a.reward("p", SP, True))
        await until(lambda: _is(live(admin, "p"), 1), "A joining")
        stall = asyncio.ensure_future(sleeper.execute_command("DEBUG", "SLEEP", 3))
        failed = await asyncio.wait_for(asyncio.gather(first, return_exceptions=True), GUARD)
        await asyncio.wait_for(stall, GUARD)  # hang: DEBUG SLEEP never returned
        start = time.monotonic()
        got = await asyncio.wait_for(  # hang: B waiting out its timeout
            asyncio.gather(a.reward("p", SP, True), a.reward("p", W, True)), GUARD
        )
        elapsed = time.monotonic() - start
        result = await published(admin, "p")
        await closing(admin, sleeper, a)
        return failed, got, elapsed, result, a.stats()

    failed, got, elapsed, result, stats = asyncio.run(main())
    assert [type(e) for e in failed] == [StoreUnavailable]
    # The retry of A and B make the group, as one process would: neither waits out the timeout.
    assert [tuple(m) for m in got] == [(1.0, False, False), (0.0, False, False)]
    assert result["slots"] == [1, 2] and elapsed < 4.0  # the ghost (slot 0) is not counted
    assert stats["completed"] == 1 and stats["partial"] == 0


def test_a_dead_replicas_member_is_dropped_once_its_lease_runs_out(redis_server):
    """A replica dies with a member in a group (nobody removes it). Once its lease has run out
    the member is not counted: not by the member completing the group, not by the timeout."""

    async def ghost(key):  # a join from a replica that then dies: never polls, never leaves
        dead = RedisGroups(redis_server.url, 2, score, 30.0, lease=0.3)
        args = [f"r:{key}", f"n:{key}", f"[{SP}, true]", 2, 60_000, 1000]
        await dead._script("join", [f"rewardkit:g:{_sha(key)}"], args, _Lease())
        await dead.aclose()

    async def lease_over(admin, key):
        seconds, micros = await admin.time()
        held = int(await admin.hget(group_key(key), "l:0"))
        return seconds * 1000 + micros // 1000 > held

    async def main():
        a = RedisGroups(redis_server.url, 2, score, 30.0)
        b = RedisGroups(redis_server.url, 2, score, 1.0)  # times out: closes a group of one
        admin = admin_client(redis_server.url)
        for key in ("p", "q"):
            await ghost(key)
            await until(lambda key=key: lease_over(admin, key), f"the lease of {key} running out")
        pair = await asyncio.wait_for(  # hang: the ghost completed the group with one of them
            asyncio.gather(a.reward("p", W, True), a.reward("p", G, True)), GUARD
        )
        alone = await asyncio.wait_for(b.reward("q", W, True), GUARD)
        results = [await published(admin, k) for k in ("p", "q")]
        await closing(admin, a, b)
        return pair, alone, results

    pair, alone, results = asyncio.run(main())
    # Without the ghost's "specific", the generic is the best of its group, the wrong alone flat.
    assert [(m.reward, m.partial) for m in pair] == [(0.0, False), (1.0, False)]
    assert (alone.reward, alone.partial, alone.flat) == (0.0, True, True)
    assert [r["slots"] for r in results] == [[1, 2], [1]]


def test_a_retried_identity_is_the_same_member(redis_server):
    async def main():
        a, b = replicas(redis_server.url)
        admin = admin_client(redis_server.url)
        original = asyncio.ensure_future(a.reward("p", L, True, member="0"))
        await until(lambda: _is(live(admin, "p"), 1), "the first member joining")
        await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        retry = asyncio.ensure_future(b.reward("p", L, True, member="0"))  # original still waits
        await until(lambda: b.stats()["duplicate"] == 1, "the retry joining")
        alone = await live(admin, "p")
        rest = [b.reward("p", SP, True, member="1"), a.reward("p", G, True, member="2")]
        got = await asyncio.wait_for(asyncio.gather(original, retry, *rest), GUARD)
        later = await a.reward("p", L, True, member="0")  # after the group: answered at once
        result = await published(admin, "p")
        # The generation counter outlives its groups: a reset would send a new member into one.
        lives = [await admin.pttl(k) for k in (group_key("p")[: -len(":0")], group_key("p"))]
        await admin.aclose()
        await closing(a, b)
        return alone, got, later, result, lives, a.stats(), b.stats()

    alone, got, later, result, lives, sa, sb = asyncio.run(main())
    assert lives[0] >= lives[1] > 0
    assert alone == 1  # the retry did not count as a second member
    assert [(m.reward, m.partial) for m in got] == [(0.0, False)] * 2 + [(1.0, False), (0.0, False)]
    assert later == got[0] and result["slots"] == [0, 1, 2]
    assert (sa["duplicate"], sb["duplicate"], sa["completed"] + sb["completed"]) == (1, 1, 1)


def test_a_cancelled_member_leaves_no_trace(redis_server):
    async def main():
        (a,) = replicas(redis_server.url, 1, timeout=1.0)
        admin = admin_client(redis_server.url)
        gone = asyncio.ensure_future(a.reward("p", SP, True))
        await until(lambda: _is(live(admin, "p"), 1), "the member joining")
        gone.cancel()  # the client went away
        await asyncio.gather(gone, return_exceptions=True)
        fields = await admin.hkeys(group_key("p"))
        rest = await asyncio.gather(a.reward("p", G, True), a.reward("p", W, True))
        await admin.aclose()
        await a.aclose()
        return fields, rest, a.stats()

    fields, rest, stats = asyncio.run(main())
    assert not [f for f in fields if f.startswith((b"s:", b"t:", b"w:", b"c:"))]
    # Without the cancelled "specific", the generic is the best of the (timed-out) pair: 1.0.
    assert [(m.reward, m.partial) for m in rest] == [(1.0, True), (0.0, True)]
    assert stats["abandoned"] == 1 and stats["partial"] == 1


@pytest.fixture
def locked_redis(tmp_path):
    server = RedisServer(tmp_path, "--requirepass", "sekrit-pw", "--databases", "4").start()
    yield server
    server.stop()


def test_check_names_the_problem_and_never_the_password(locked_redis, closed_port):
    port = locked_redis.port

    async def check(url):
        groups = RedisGroups(url, 3, score, 1.0)
        try:
            await groups.check()
        except StoreUnavailable as e:
            return str(e)
        finally:
            await groups.aclose()
        return "ok"

    async def main():
        return [
            await check(f"redis://:sekrit-pw@127.0.0.1:{port}/0"),
            await check(f"redis://:wrong-pw@127.0.0.1:{port}/0"),
            await check(f"redis://127.0.0.1:{port}/0"),
            await check(f"redis://:sekrit-pw@127.0.0.1:{port}/9"),
            await check(f"redis://127.0.0.1:{closed_port}/0"),
        ]

    ok, wrong, missing, database, refused = asyncio.run(main())
    assert ok == "ok"
    assert "authentication failed" in wrong and "redis://:***@127.0.0.1" in wrong
    assert "authentication failed" in missing
    assert "database index out of range" in database
    assert "connection refused" in refused
    assert not any("wrong-pw" in m or "sekrit-pw" in m for m in (wrong, database))


def test_redis_gone_mid_run_raises_store_unavailable(locked_redis, caplog):
    url = f"redis://:sekrit-pw@127.0.0.1:{locked_redis.port}/0"

    async def main():
        groups = RedisGroups(url, 3, score, 30.0, lease=1.0)  # its error waits out the lease
        await groups.check()
        waiting = asyncio.ensure_future(groups.reward("p", SP, True))
        admin = admin_client(url)
        await until(lambda: _is(live(admin, "p"), 1), "the member joining")
        await admin.aclose()
        locked_redis.stop()
        try:
            await asyncio.wait_for(waiting, GUARD)  # hang: a wait not bounded by Redis errors
        except StoreUnavailable as e:
            return str(e)
        finally:
            await groups.aclose()

    message = asyncio.run(main())
    assert "connection refused" in message and "redis://:***@127.0.0.1" in message
    assert "sekrit-pw" not in message and "sekrit-pw" not in caplog.text


def test_redact():
    assert redact("redis://u:pw@h:1/0") == "redis://u:***@h:1/0"
    assert redact("rediss://:p%40w@h/2") == "rediss://:***@h/2"
    assert redact("redis://h:6379/0?password=x&db=1") == "redis://h:6379/0?password=***&db=1"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
