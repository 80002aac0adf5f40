"""Redis groups, pinned exactly: arguments and defaults, what is read back from Redis (checked
before use), the reasons given for Redis's errors, the keys groups live under, and the counts
and log lines of partial, late, duplicate and failed members against a real redis-server - the
cases `make mutate` found the suite let change (tests/test_redis_groups.py has the races,
outages and leases)."""

import asyncio
import hashlib
import logging
import math

import numpy as np
import pytest

from rewardkit.errors import StoreUnavailable
from rewardkit.groups import Member, digest
from rewardkit.redis_groups import (
    RedisGroups,
    _cancels,
    _Lease,
    _members,
    _read,
    _reason,
    _sha,
    _text,
)

HANG = 30.0  # s: guards a wait that never ends (a lost member or result), not a time limit


def best_is_one(codes, found):
    codes = np.asarray(codes)
    return (codes == codes.max()).astype(float)


# -- arguments -----------------------------------------------------------------------------------


def test_defaults():
    groups = RedisGroups("redis://127.0.0.1:1/0", 1, best_is_one, 2.0)
    assert (groups.poll, groups.prefix, groups.close_ttl, groups.retry_for) == (
        0.01,
        "rewardkit",
        5.0,
        1.0,
    )
    assert (groups.command_timeout, groups.lease, groups.timeout) == (5.0, 5.0, 2.0)
    assert groups.ttl_ms == 52_000  # timeout + 10 x close_ttl: more than 10 x timeout
    assert RedisGroups("redis://h/0", 2, best_is_one, 100.0).ttl_ms == 1_000_000  # 10 x timeout
    assert groups.stats() == {
        "open": 0,
        "completed": 0,
        "partial": 0,
        "late": 0,
        "duplicate": 0,
        "abandoned": 0,
        "undelivered": 0,
        "takeover": 0,
    }


@pytest.mark.parametrize(
    "group_size, options",
    [
        (0, {}),
        (2, {"timeout": 0}),
        (2, {"close_ttl": 0}),
        (2, {"command_timeout": 0}),
        (2, {"lease": -1.0}),
    ],
    ids=["group size", "timeout", "close_ttl", "command_timeout", "lease"],
)
def test_bad_arguments(group_size, options):
    options = {"timeout": 1.0, **options}
    timeout = options.pop("timeout")
    with pytest.raises(ValueError) as e:
        RedisGroups("redis://h/0", group_size, best_is_one, timeout, **options)
    assert str(e.value) == "group_size >= 1 and positive times are required"


# -- what is read back from Redis ----------------------------------------------------------------


def test_members_are_read_and_checked():
    flat = [b"3", b"[2, true]", b"5", b"[-32768, false]", b"7", b"[32767, true]"]
    assert _members(flat) == ([3, 5, 7], [2, -32768, 32767], [True, False, True])
    assert _members([]) == ([], [], [])


@pytest.mark.parametrize(
    "raw",
    [b"[32768, true]", b"[-32769, true]", b"[1, 1]", b"[1.0, true]", b"[true, true]", b"{", b"7"],
)
def test_a_malformed_member_is_refused(raw):
    with pytest.raises(StoreUnavailable) as e:
        _members([b"0", raw])
    assert str(e.value) == "Redis groups: malformed group member read from Redis"


def test_a_result_is_read_and_checked():
    raw = '{"slots": [0, 2, 5], "rewards": [1.0, null, 0], "partial": true}'
    member = _read(raw, 2)
    assert math.isnan(member.reward) and (member.partial, member.flat) == (True, False)
    assert _read(raw, 0) == Member(1.0, True, False)
    assert _read('{"slots": [4, 1], "rewards": [1, 0], "partial": false}', 1) == Member(
        0.0, False, False
    )


@pytest.mark.parametrize(
    "raw, slot",
    [
        ('{"slots": [0, 1], "rewards": [1.0], "partial": false}', 0),  # lengths differ
        ('{"slots": [0], "rewards": [1.0], "partial": 1}', 0),  # partial not a flag
        ('{"slots": [0], "rewards": ["1"], "partial": false}', 0),  # a reward not a number
        ('{"slots": [0], "rewards": [1.0], "partial": false}', 3),  # not its slot
        ('{"slots": [0], "rewards": [1.0]}', 0),
        ("[0]", 0),
        ("{", 0),
    ],
)
def test_a_malformed_result_is_refused(raw, slot):
    with pytest.raises(StoreUnavailable) as e:
        _read(raw, slot)
    assert str(e.value) == "Redis groups: malformed group result read from Redis"


def test_keys_and_texts():
    assert _sha("p") == hashlib.sha256(b'"p"').hexdigest()
    assert _sha(["p", 1]) == hashlib.sha256(b'["p", 1]').hexdigest()
    assert _sha(("p", b"x")) == _sha(["p", "b'x'"])  # a tuple as a list, bytes as text
    assert (_text(b"close"), _text("close"), _text(3)) == ("close", "close", "3")


def test_cancellations_requested_of_the_current_task_are_counted():
    async def main():
        seen, started = [], asyncio.Event()

        async def member():
            seen.append(_cancels())
            started.set()
            try:
                await asyncio.sleep(HANG)  # cancelled long before
            except asyncio.CancelledError:
                seen.append(_cancels())
                raise

        task = asyncio.ensure_future(member())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(main()) == [0, 1]


# -- Redis's errors, in words --------------------------------------------------------------------


def _error(kind, text, cause=None):
    error = kind(text)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error, reason",
    [
        (
            _error(Exception, "WRONGPASS invalid username-password pair"),
            "authentication failed (wrong or missing password): WRONGPASS invalid "
            "username-password pair",
        ),
        (
            _error(Exception, "AUTH <password> called without any password configured"),
            "authentication failed (wrong or missing password): AUTH <password> called without "
            "any password configured",
        ),
        (
            _error(Exception, "DB index is out of range"),
            "database index out of range: DB index is out of range",
        ),
        (
            _error(OSError, "gone", ConnectionRefusedError()),
            "connection refused: gone",
        ),
        (
            _error(OSError, "Error 111 connecting to 127.0.0.1:1. Connection refused."),
            "connection refused: Error 111 connecting to 127.0.0.1:1. Connection refused.",
        ),
        (
            _error(TimeoutError, "Timeout reading from socket"),
            "TimeoutError: Timeout reading from socket",
        ),
    ],
    ids=[
        "wrong password",
        "auth in capitals",
        "database",
        "refused (cause)",
        "refused (text)",
        "other",
    ],
)
def test_reasons(error, reason):
    assert _reason(error) == reason


def test_the_refusal_is_found_in_the_context_too():
    try:
        try:
            raise ConnectionRefusedError
        except ConnectionRefusedError:
            raise OSError("gone")  # noqa: B904 - the context is what is tested
    except OSError as error:
        assert _reason(error) == "connection refused: gone"


# -- counts and log lines against a real redis-server --------------------------------------------


def messages(caplog):
    return [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "rewardkit.redis_groups"
    ]


def test_partial_late_and_duplicate_members_are_counted_and_logged(redis_server, caplog):
    caplog.set_level(logging.INFO, "rewardkit.redis_groups")

    async def main():
        groups = RedisGroups(redis_server.url, 3, best_is_one, 0.3, close_ttl=1.0)
        try:
            # Alone, the first member waits out the timeout and closes its group partial.
            first = await asyncio.wait_for(groups.reward("k", 2, True, member="a"), HANG)
            again = await asyncio.wait_for(groups.reward("k", 2, True, member="a"), HANG)
            other = await asyncio.wait_for(groups.reward("k", 5, True, member="a"), HANG)
            late = await asyncio.wait_for(groups.reward("k", 4, True, member="b"), HANG)
            return first, again, other, late, groups.stats()
        finally:
            await groups.aclose()

    first, again, other, late, stats = asyncio.run(main())
    assert first == again == other == Member(1.0, True, True)
    assert late == Member(1.0, True, False)  # against the closed group: 4 beats 2
    assert (stats["partial"], stats["duplicate"], stats["late"], stats["completed"]) == (1, 2, 1, 0)
    k, a = digest("k"), digest("a")
    assert messages(caplog) == [
        ("WARNING", f"group {k}: timed out with 1 of 3 members"),
        ("INFO", f"group {k}: member {a} retried, same slot"),
        ("INFO", f"group {k}: member {a} retried with ANOTHER verdict (kept), same slot"),
        ("INFO", f"group {k}: late member rewarded against its closed group"),
    ]


def test_a_group_completed_is_counted_once(redis_server, caplog):
    caplog.set_level(logging.INFO, "rewardkit.redis_groups")

    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG, prefix="mine")
        try:
            out = await asyncio.wait_for(
                asyncio.gather(groups.reward("k", 1, True), groups.reward("k", 3, True)), HANG
            )
            import redis.asyncio as aioredis

            admin = aioredis.from_url(redis_server.url)
            keys = sorted(k.decode() for k in await admin.keys("*"))
            await admin.aclose()
            return out, groups.stats(), keys
        finally:
            await groups.aclose()

    out, stats, keys = asyncio.run(main())
    assert out == [Member(0.0, False, False), Member(1.0, False, False)]
    assert stats["completed"] == 1 and messages(caplog) == []
    assert f"mine:g:{_sha('k')}:0" in keys and all(k.startswith("mine:") for k in keys)


def test_failed_requests_are_counted_and_logged(redis_server, caplog):
    caplog.set_level(logging.INFO, "rewardkit.redis_groups")

    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        try:
            waiting = asyncio.ensure_future(groups.reward("k", 1, True))

            async def joined():
                while groups._client is None or not await groups._client.keys("*:g:*"):
                    await asyncio.sleep(0.01)  # polling Redis, which cannot signal

            await asyncio.wait_for(joined(), HANG)  # hang: the member never reaches Redis
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await groups.aclose()  # waits for the removal
            return groups.stats()
        finally:
            await groups.aclose()

    stats = asyncio.run(main())
    assert stats["abandoned"] == 1
    assert messages(caplog) == [
        ("WARNING", f"group {digest('k')}: a member's request failed; member removed")
    ]


def test_each_completed_group_is_counted(redis_server):
    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        try:
            for key in ("k", "q"):
                pair = asyncio.gather(groups.reward(key, 1, True), groups.reward(key, 3, True))
                await asyncio.wait_for(pair, HANG)
            return groups.stats()
        finally:
            await groups.aclose()

    assert asyncio.run(main())["completed"] == 2


def test_a_removal_done_leaves_nothing_behind(redis_server):
    """The replica keeps a removal in progress (``aclose`` waits for it), not one done."""

    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        waiting = asyncio.ensure_future(groups.reward("k", 1, True))
        await asyncio.wait_for(joined(groups), HANG)  # hang: the member never reaches Redis
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await groups.aclose()
        return groups._leaving, groups.stats()["abandoned"]

    assert asyncio.run(main()) == (set(), 1)


async def joined(groups):
    while groups._client is None or not await groups._client.keys("*:g:*"):
        await asyncio.sleep(0.01)  # polling Redis, which cannot signal


# -- the clock and the lease ---------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def monotonic(self) -> float:
        return self.now


def test_redis_time_is_mapped_again_every_5_s_with_the_round_trip_as_error(monkeypatch):
    import rewardkit.redis_groups as module

    clock = FakeClock(100.0)
    monkeypatch.setattr(module, "time", clock)  # this module's clock only, not asyncio's
    calls = []

    async def redis_time():  # Redis's TIME: seconds and microseconds
        calls.append(clock.now)
        return 1_700_000_000, 999_999

    async def main():
        groups = RedisGroups("redis://127.0.0.1:1/0", 2, best_is_one, 1.0)
        groups._redis().time = redis_time  # never connects: TIME is the only command
        seen = []
        for now in (100.0, 104.99, 105.0, 109.99, 110.5):
            clock.now = now
            await groups._sync()
            seen.append(groups._clock)
        await groups.aclose()
        return seen

    seen = asyncio.run(main())
    assert calls == [100.0, 105.0, 110.5]  # again once 5 s have passed since the last
    assert seen[0] == (1_700_000_000 + 0.999999 - 100.0, 0.01, 100.0)
    assert seen[1] == seen[0] and seen[3] == seen[2]
    assert seen[2] == (1_700_000_000 + 0.999999 - 105.0, 0.01, 105.0)


def test_a_renewal_reaches_one_lease_past_sending_and_its_end_is_kept(monkeypatch):
    import rewardkit.redis_groups as module

    clock = FakeClock(106.0)
    monkeypatch.setattr(module, "time", clock)
    groups = RedisGroups("redis://h/0", 2, best_is_one, 1.0, lease=5.0)
    groups._clock = (1_000.0, 0.25, 105.0)  # Redis's clock 1,000 s ahead, 0.25 s error
    lease = _Lease()
    assert groups._renew(lease) == int((106.0 + 1_000.0 + 5.0) * 1000)
    assert lease.ends == 106.0 + 5.0 + 0.25  # surely run out in Redis's clock by then
    clock.now = 50.0  # an earlier renewal never shortens the wait
    groups._renew(lease)
    assert lease.ends == 106.0 + 5.0 + 0.25


# -- what each failure says, and what is published -----------------------------------------------


def test_the_failed_command_is_named(closed_port, tmp_path):
    """ping and script load at ``check``; TIME when mapping the clock (each as Redis names it)."""
    from .conftest import RedisServer

    async def failure(url, call):
        groups = RedisGroups(url, 2, best_is_one, HANG, retry_for=0.1, lease=0.5)
        try:
            await call(groups)
        except StoreUnavailable as e:
            return str(e)
        finally:
            await groups.aclose()

    refused = f"redis://127.0.0.1:{closed_port}/0"
    text = asyncio.run(failure(refused, lambda g: g.check()))
    assert text.startswith(f"Redis groups at {refused}: ping: connection refused: ")
    renamed = ("--rename-command", "SCRIPT", "script-off", "--rename-command", "TIME", "time-off")
    server = RedisServer(tmp_path, *renamed).start()
    try:
        text = asyncio.run(failure(server.url, lambda g: g.check()))
        assert text.startswith(f"Redis groups at {server.url}: script load: ResponseError: ")
        assert "unknown command 'SCRIPT'" in text
        text = asyncio.run(failure(server.url, lambda g: g.reward("k", 1, True)))
        assert text.startswith(f"Redis groups at {server.url}: time: ResponseError: ")
        assert "unknown command 'TIME'" in text
    finally:
        server.stop()


def test_a_member_that_cannot_leave_waits_out_its_lease_and_says_so(tmp_path, caplog):
    """Scripts refused (EVALSHA renamed away): the join fails, the removal cannot run, and the
    request answers its error only once the lease it may have set has surely run out."""
    import time

    from .conftest import RedisServer

    caplog.set_level(logging.INFO, "rewardkit.redis_groups")
    server = RedisServer(tmp_path, "--rename-command", "EVALSHA", "evalsha-off").start()

    async def main():
        groups = RedisGroups(server.url, 2, best_is_one, HANG, retry_for=0.05, lease=1.5)
        start = time.monotonic()
        try:
            await groups.reward("k", 1, True)
        except StoreUnavailable as e:
            return str(e), time.monotonic() - start
        finally:
            await groups.aclose()

    try:
        text, waited = asyncio.run(main())
    finally:
        server.stop()
    assert text.startswith(f"Redis groups at {server.url}: join: ResponseError: ")
    assert waited >= 1.5  # the lease sent with the join: 1.5 s past sending it, at least
    ((level, line),) = messages(caplog)
    assert level == "WARNING"
    prefix = f"group {digest('k')}: member not removed, lease run out: Redis groups at "
    assert line.startswith(f"{prefix}{server.url}: leave: ResponseError: ")


def test_publishing_into_a_group_that_is_gone_says_so(redis_server):
    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        try:
            member = b"[1, true]"
            await groups._answer("k", "rewardkit:g:gone:0", 0, "n", "closer", [b"0", 0, member])
        except StoreUnavailable as e:
            return str(e)
        finally:
            await groups.aclose()

    text = asyncio.run(main())
    assert text == f"Redis groups at {redis_server.url}: group state lost (expired or flushed)"


def test_an_unscored_member_is_published_as_null(redis_server):
    """NaN from the rule is stored as JSON null (NaN is no JSON: another reader would fail)."""
    import json

    def first_unscored(codes, found):
        return np.array([math.nan, *[1.0] * (len(codes) - 1)])

    async def main():
        groups = RedisGroups(redis_server.url, 2, first_unscored, HANG)
        try:
            pair = asyncio.gather(groups.reward("k", 1, True), groups.reward("k", 3, True))
            got = await asyncio.wait_for(pair, HANG)
            raw = await groups._client.hget(f"rewardkit:g:{_sha('k')}:0", "result")
            return got, raw
        finally:
            await groups.aclose()

    got, raw = asyncio.run(main())

    def strict(constant):
        raise ValueError(f"{constant} in a published result")

    assert json.loads(raw, parse_constant=strict)["rewards"] == [None, 1.0]
    rewards = sorted(got, key=lambda m: not math.isnan(m.reward))  # the first to join: NaN
    assert math.isnan(rewards[0].reward) and rewards[1].reward == 1.0


# -- a member whose group closed, and a request cancelled twice ----------------------------------


class Spy(RedisGroups):
    """Redis groups that say when a poll of its group has come back."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.polled = asyncio.Event()

    async def _script(self, name, keys, args, lease=None):
        reply = await super()._script(name, keys, args, lease)
        if name == "wait":
            self.polled.set()
        return reply


def test_a_member_rewarded_before_its_request_failed_is_counted_undelivered(redis_server, caplog):
    caplog.set_level(logging.INFO, "rewardkit.redis_groups")

    async def main():
        a = Spy(redis_server.url, 2, best_is_one, HANG, poll=HANG)  # polls once, then sleeps
        b = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        try:
            first = asyncio.ensure_future(a.reward("k", 1, True))
            await asyncio.wait_for(a.polled.wait(), HANG)  # hang: the first poll never came
            await asyncio.wait_for(b.reward("k", 3, True), HANG)  # completes and publishes
            first.cancel()  # before the first member's next poll: its result undelivered
            await asyncio.gather(first, return_exceptions=True)
            await a.aclose()
            return first.cancelled(), a.stats(), b.stats()
        finally:
            await a.aclose()
            await b.aclose()

    cancelled, a_stats, b_stats = asyncio.run(main())
    assert cancelled and (a_stats["undelivered"], a_stats["abandoned"]) == (1, 0)
    assert b_stats["completed"] == 1
    assert messages(caplog) == [
        ("WARNING", f"group {digest('k')}: a rewarded (closed) member's request failed")
    ]


def test_a_request_cancelled_again_while_leaving_is_cancelled_and_still_leaves(redis_server):
    """Redis stalls (SIGSTOP) under a waiting member; its request is cancelled, and cancelled
    again while the removal is retried: the request ends cancelled, the removal goes on and
    lands once Redis is back."""
    import os
    import signal

    async def main():
        groups = RedisGroups(
            redis_server.url, 2, best_is_one, HANG, command_timeout=0.2, retry_for=0.1, lease=HANG
        )
        waiting = asyncio.ensure_future(groups.reward("k", 1, True))
        await asyncio.wait_for(joined(groups), HANG)  # hang: the member never reaches Redis
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            waiting.cancel()

            async def leaving():
                while not groups._leaving:
                    await asyncio.sleep(0.01)  # the removal has started

            await asyncio.wait_for(leaving(), HANG)  # hang: the cancelled request never left
            waiting.cancel()
            (outcome,) = await asyncio.gather(waiting, return_exceptions=True)
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        await asyncio.wait_for(groups.aclose(), HANG)  # hang: the removal never landed
        return outcome, groups.stats()["abandoned"]

    outcome, abandoned = asyncio.run(main())
    assert isinstance(outcome, asyncio.CancelledError) and abandoned == 1


def test_closing_waits_for_removals_survives_a_failed_one_and_closes_the_client(redis_server):
    """A removal still running at ``aclose`` (its request cancelled twice) is waited for; if it
    fails unexpectedly, closing goes on and the client is closed all the same."""

    class Stuck(RedisGroups):
        async def _script(self, name, keys, args, lease=None):
            if name == "leave":
                self.leaving.set()
                await self.go.wait()
                raise RuntimeError("boom")
            return await super()._script(name, keys, args, lease)

    async def main():
        groups = Stuck(redis_server.url, 2, best_is_one, HANG)
        groups.leaving, groups.go = asyncio.Event(), asyncio.Event()
        waiting = asyncio.ensure_future(groups.reward("k", 1, True))
        await asyncio.wait_for(joined(groups), HANG)  # hang: the member never reaches Redis
        waiting.cancel()
        await asyncio.wait_for(groups.leaving.wait(), HANG)  # hang: the removal never began
        waiting.cancel()
        (outcome,) = await asyncio.gather(waiting, return_exceptions=True)
        pending = set(groups._leaving)
        groups.go.set()
        await groups.aclose()
        return outcome, pending, groups._client

    outcome, pending, client = asyncio.run(main())
    assert isinstance(outcome, asyncio.CancelledError) and len(pending) == 1
    (task,) = pending
    assert isinstance(task.exception(), RuntimeError) and client is None


def test_a_stalled_redis_is_a_timeout_not_a_hang(redis_server):
    import os
    import signal

    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG, command_timeout=0.2)
        await groups.check()
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.wait_for(groups.check(), HANG)  # hang: no time limit on a command
        except StoreUnavailable as e:
            return str(e)
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
            await groups.aclose()

    assert asyncio.run(main()).startswith(f"Redis groups at {redis_server.url}: ping: Timeout")


# -- what a waiting member finds in Redis --------------------------------------------------------


class Meddled(RedisGroups):
    """Redis groups whose join is followed by ``meddle(client, group)`` before any poll."""

    meddle = None

    async def _script(self, name, keys, args, lease=None):
        reply = await super()._script(name, keys, args, lease)
        if name == "join" and _text(reply[2]) != "stale":
            await self.meddle(self._client, f"{keys[0]}:{_text(reply[0])}")
        return reply


async def _lease_gone(client, group):
    await client.hset(group, "l:0", 0)


async def _member_gone(client, group):
    await client.hdel(group, "s:0")


async def _closer_stuck(client, group):  # closed by another replica that never publishes
    await client.hset(group, mapping={"cut": 1, "partial": 1})
    await client.set(group + ":lock", "another", px=60_000)


STUCK = {"timeout": 1.0, "close_ttl": 0.7}  # gives up after 1 + 3 x 0.7 s: said as 3 s


@pytest.mark.parametrize(
    "meddle, options, error",
    [
        (_lease_gone, {}, "member removed: no poll reached Redis for 5 s"),
        (_member_gone, {}, "member not in its group (removed, or the group expired)"),
        (_closer_stuck, STUCK, "no result for group {k} 3 s after joining"),
    ],
    ids=["lease run out", "member gone", "closer stuck"],
)
def test_what_a_poll_finds_is_said(redis_server, meddle, options, error):
    import time

    async def main():
        groups = Meddled(redis_server.url, 2, best_is_one, **{"timeout": HANG, **options})
        groups.meddle = meddle
        start = time.monotonic()
        try:
            await asyncio.wait_for(groups.reward("k", 1, True), HANG)
        except StoreUnavailable as e:
            return str(e), time.monotonic() - start
        finally:
            await groups.aclose()

    text, waited = asyncio.run(main())
    assert text == f"Redis groups at {redis_server.url}: " + error.format(k=digest("k"))
    if meddle is _closer_stuck:
        assert waited >= 3.1


def test_a_join_redis_ran_after_its_lease_is_refused(redis_server):
    class Late(RedisGroups):
        def _renew(self, lease):
            return super()._renew(lease) - 60_000  # as if Redis ran it a minute late

    async def main():
        groups = Late(redis_server.url, 2, best_is_one, HANG, lease=2.5)
        try:
            await groups.reward("k", 1, True)
        except StoreUnavailable as e:
            return str(e)
        finally:
            await groups.aclose()

    text = asyncio.run(main())
    assert text == f"Redis groups at {redis_server.url}: Redis ran the join after its 2.5 s lease"


def test_member_tokens_in_redis(redis_server):
    """A member with an identity is ``t:i:<sha>``, one without ``t:r:<nonce>``: the format
    replicas of one deployment share."""

    async def main():
        groups = RedisGroups(redis_server.url, 2, best_is_one, HANG)
        try:
            pair = groups.reward("k", 1, True, member="a"), groups.reward("k", 3, True)
            await asyncio.wait_for(asyncio.gather(*pair), HANG)
            fields = await groups._client.hkeys(f"rewardkit:g:{_sha('k')}:0")
            return sorted(f.decode() for f in fields if f.startswith(b"t:"))
        finally:
            await groups.aclose()

    identity, random = asyncio.run(main())
    assert identity == "t:i:" + _sha("a")
    assert random.startswith("t:r:") and len(random) == len("t:r:") + 32
