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
from rewardkit.redis_groups import RedisGroups, _cancels, _members, _read, _reason, _sha, _text

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
