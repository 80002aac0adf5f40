"""Group assembly (rewardkit.groups), pinned exactly: the lingering boundary, late members,
the closing order that pruning and the ``max_closed`` cap rely on, the counters and the log
lines that name groups by digest, and bad arguments - the cases `make mutate` found the suite
let change. All on GroupBuffer's own clock (``now=``): no waiting."""

import hashlib
import logging

import numpy as np
import pytest

from rewardkit.groups import AsyncGroups, GroupBuffer, ThreadGroups, digest
from rewardkit.ladders import SPECIARL

GENERIC, LESS, SPECIFIC = (SPECIARL.index(s) for s in ("generic", "less_specific", "specific"))


def best_is_one(codes, found):
    """1 for the group's best code, 0 for the others (a SpeciaRL-like group rule)."""
    codes = np.asarray(codes)
    return (codes == codes.max()).astype(float)


def held(key):
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "rewardkit.groups"]


# -- arguments -----------------------------------------------------------------------------------


def test_defaults_and_the_smallest_caps():
    buffer = GroupBuffer(2, best_is_one)
    assert (buffer.linger, buffer.max_open, buffer.max_closed) == (3000.0, 65536, 65536)
    assert buffer.keep_complete is False
    tight = GroupBuffer(1, best_is_one, max_open=1, max_closed=0)
    assert tight.join("a", GENERIC, True, now=0.0).slot.result.reward == 1.0


@pytest.mark.parametrize(
    "options",
    [{"group_size": 0}, {"max_open": 0}, {"max_closed": -1}],
    ids=["group size", "max_open", "max_closed"],
)
def test_bad_sizes(options):
    with pytest.raises(ValueError) as e:
        GroupBuffer(**{"group_size": 2, "score": best_is_one, **options})
    assert str(e.value) == "group_size and max_open must be >= 1, max_closed >= 0"


@pytest.mark.parametrize("wrapper", [ThreadGroups, AsyncGroups])
def test_a_timeout_must_be_positive(wrapper):
    for timeout in (0, -1.0):
        with pytest.raises(ValueError) as e:
            wrapper(GroupBuffer(2, best_is_one), timeout)
        assert str(e.value) == f"timeout must be > 0, got {timeout}"
    assert wrapper(GroupBuffer(2, best_is_one), 0.001).timeout == 0.001


def test_a_result_before_the_group_is_done():
    buffer = GroupBuffer(2, best_is_one)
    ticket = buffer.join("a", GENERIC, True, now=0.0)
    with pytest.raises(RuntimeError) as e:
        buffer.result(ticket)
    assert str(e.value) == "the group of this member is not done yet"


# -- late members and lingering ------------------------------------------------------------------


def test_late_members_join_until_the_group_is_full(caplog):
    caplog.set_level(logging.INFO, "rewardkit.groups")
    buffer = GroupBuffer(4, best_is_one, linger=10.0)
    first = buffer.join("p", LESS, True, now=0.0)
    buffer.close(first, now=1.0)
    assert lines(caplog) == [f"group {digest('p')}: closed by the timeout with 1 of 4 members"]
    assert first.key == held("p") and len(first.key) == 32
    second = buffer.join("p", GENERIC, True, now=2.0)
    assert second.group is first.group and second.group.rewards.tolist() == [1.0, 0.0]
    third = buffer.join("p", SPECIFIC, True, now=3.0)  # still late: the group holds 2 of 4
    assert third.group is first.group and third.group.rewards.tolist() == [0.0, 0.0, 1.0]
    assert (buffer.result(second), buffer.result(third)) == ((0.0, True, False), (1.0, True, False))
    assert buffer.stats()["late"] == 2
    assert (
        lines(caplog)[1:]
        == [f"group {digest('p')}: late member rewarded against its closed group"] * 2
    )


def test_a_closed_group_lingers_up_to_and_including_linger_seconds():
    buffer = GroupBuffer(3, best_is_one, linger=10.0)
    buffer.close(buffer.join("p", LESS, True, now=0.0), now=5.0)
    assert buffer.join("p", GENERIC, True, now=15.0).slot.result is not None  # late, at once
    buffer.close(buffer.join("q", LESS, True, now=0.0), now=5.0)
    assert buffer.join("q", GENERIC, True, now=15.001).slot.result is None  # a new group


# -- the closing order: pruning and the cap ------------------------------------------------------


def test_a_key_that_completes_again_moves_to_the_end_of_the_closing_order():
    """Keys recur (OpenRLHF asks a prompt again next epoch). Groups are forgotten oldest
    first, in closing order: a key completed again is as new as its last group."""
    buffer = GroupBuffer(1, best_is_one, linger=10.0)
    buffer.join("k", GENERIC, True, now=0.0, member="m")
    buffer.join("l", GENERIC, True, now=3.0, member="n")
    buffer.join("k", GENERIC, True, now=10.0, member="m2")
    buffer.prune(15.0)  # forgets what closed before 5.0: l, then k's group of 10.0 stops it
    assert list(buffer.recent) == [held("k")]
    again = buffer.join("l", LESS, True, now=15.0, member="n")
    assert buffer.stats()["duplicate"] == 0 and again.slot.code == LESS  # a new member


def test_the_cap_on_closed_groups_drops_the_oldest_of_either_kind():
    buffer = GroupBuffer(2, best_is_one, max_closed=2)
    done = [buffer.join("r", c, True, now=1.0, member=c) for c in (GENERIC, LESS)]  # recent
    assert done[1].group.done and list(buffer.recent) == [held("r")]
    buffer.close(buffer.join("c", LESS, True, now=0.0), now=5.0)  # closed at 5.0
    assert (list(buffer.closed), list(buffer.recent), buffer.stats()["pruned"]) == (
        [held("c")],
        [held("r")],
        0,
    )
    buffer.close(buffer.join("d", LESS, True, now=0.0), now=6.0)  # one too many: r goes
    assert (list(buffer.closed), list(buffer.recent)) == ([held("c"), held("d")], [])
    buffer.close(buffer.join("e", LESS, True, now=0.0), now=7.0)  # then c
    assert list(buffer.closed) == [held("d"), held("e")]
    assert buffer.stats()["pruned"] == 2


def test_recent_groups_alone_are_capped_too():
    buffer = GroupBuffer(1, best_is_one, max_closed=1)
    for key in ("a", "b"):
        buffer.join(key, GENERIC, True, now=0.0, member="m")
    assert list(buffer.recent) == [held("b")] and buffer.stats()["pruned"] == 1


# -- retries, failed requests and their log lines ------------------------------------------------


def test_a_retried_identity_is_logged_with_or_without_another_verdict(caplog):
    caplog.set_level(logging.INFO, "rewardkit.groups")
    buffer = GroupBuffer(3, best_is_one)
    buffer.join("p", GENERIC, True, now=0.0, member="m")
    buffer.join("p", GENERIC, True, now=0.1, member="m")
    buffer.join("p", SPECIFIC, True, now=0.2, member="m")
    m = held("m")[:12]
    assert lines(caplog) == [
        f"group {digest('p')}: member {m} retried, same slot",
        f"group {digest('p')}: member {m} retried with ANOTHER verdict (kept), same slot",
    ]
    assert buffer.stats()["duplicate"] == 2


def test_failed_requests_are_counted_and_logged(caplog):
    caplog.set_level(logging.INFO, "rewardkit.groups")
    buffer = GroupBuffer(2, best_is_one)
    for key in ("a", "b"):
        assert buffer.release(buffer.join(key, GENERIC, True, now=0.0)) is True
    tickets = [buffer.join(key, GENERIC, True, now=0.0) for key in ("c", "c", "d", "d")]
    assert [buffer.release(t) for t in tickets[::2]] == [False, False]  # rewarded already
    stats = buffer.stats()
    assert (stats["abandoned"], stats["undelivered"], stats["open"]) == (2, 2, 0)
    assert lines(caplog) == [
        f"group {digest('a')}: a member's request failed; member removed",
        f"group {digest('b')}: a member's request failed; member removed",
        f"group {digest('c')}: a rewarded member's request failed",
        f"group {digest('d')}: a rewarded member's request failed",
    ]


class ClockStops(Exception):
    pass


def test_a_thread_whose_wait_fails_leaves_its_group():
    calls = []

    def clock():
        calls.append(None)
        if len(calls) > 1:  # the time-out's close asks the clock again
            raise ClockStops
        return 0.0

    buffer = GroupBuffer(2, best_is_one)
    groups = ThreadGroups(buffer, 0.01, clock=clock)  # its group never completes
    with pytest.raises(ClockStops):
        groups.reward("p", GENERIC, True)
    assert buffer.stats()["abandoned"] == 1 and buffer.open == {}
