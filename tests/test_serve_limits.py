"""rewardkit serve's bounds on one request, against real server processes on 127.0.0.1 and a
real redis-server: at most --max-pairs pairs or completions (413 naming the limit, before
anything is judged), and no member outliving its request - when one member of a multi-sample
OpenRLHF request fails, the others leave their groups before the error is answered."""

import pytest

from rewardkit.redis_groups import _sha

from .test_serve import Server

DOG, SAMOYED = "<answer>dog</answer>", "<answer>samoyed</answer>"


def judge_body(n):
    return {"pairs": [{"label": "samoyed", "prediction": f"dog {i}"} for i in range(n)]}


def reward_body(n):
    return {"completions": [DOG] * n, "labels": ["samoyed"] * n, "group_size": n}


def openrlhf_body(n, prompt="q"):
    return {"query": [f"{prompt} {DOG}"] * n, "prompts": [prompt] * n, "labels": ["samoyed"] * n}


@pytest.fixture(scope="module")
def server():
    s = Server("-g", "2")  # --max-pairs at its default, 4096
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.mark.parametrize(
    "path,field,body",
    [
        ("/v1/judge", "pairs", judge_body),
        ("/v1/reward", "completions", reward_body),
        ("/", "query", openrlhf_body),  # 4096: 2,048 whole groups of the server's 2
    ],
)
def test_more_than_max_pairs_is_a_413_naming_the_limit(server, path, field, body):
    status, out = server.post(path, body(4097))
    assert (status, out) == (
        413,
        {
            "error": f"field '{field}' has 4097 items, over the limit of 4096 per request "
            "(--max-pairs)"
        },
    )
    status, out = server.post(path, body(4096))
    assert status == 200 and len(out.get("verdicts") or out["rewards"]) == 4096


def test_a_failed_member_takes_its_requests_other_members_out_of_their_groups(redis_server):
    """The finding: members were gathered without cancelling siblings, so when one failed (503)
    the others stayed in their groups, and the trainer's retry completed a group with the
    orphan. Here q1's group holds a malformed member (its closer fails: 503); q2's member must
    be out of its group by the time the 503 is answered, and q2's retry and sibling make a
    whole group, rewarded as one process would."""
    import redis

    admin = redis.Redis.from_url(redis_server.url)
    bad = f"rewardkit:g:{_sha(('q1', 'samoyed'))}:0"
    planted = {"n": 1, "live": 1, "s:0": "not a member", "t:r:x": 0, "w:0": 1, "l:0": 2**50}
    admin.hset(bad, mapping=planted)
    q2 = f"rewardkit:g:{_sha(('q2', 'samoyed'))}:0"
    s = Server("-g", "2", "--timeout", "60", "--groups", redis_server.url)
    try:
        body = {
            "query": [f"q1 {DOG}", f"q2 {DOG}"],
            "prompts": ["q1", "q2"],
            "labels": ["samoyed"] * 2,
        }
        status, out = s.post("/", body)
        assert (status, out) == (
            503,
            {"error": "store unavailable: Redis groups: malformed group member read from Redis"},
        )
        assert int(admin.hget(q2, "live") or 0) == 0  # q2's member left with its request
        retry = {"query": [f"q2 {DOG}", f"q2 {SAMOYED}"], "prompts": ["q2"] * 2}
        try:  # the client's 30 s against the group's 60 s timeout
            status, out = s.post("/", {**retry, "labels": ["samoyed"] * 2})
        except OSError:
            pytest.fail("hang: the retry's sibling waits for a group an orphan completed")
    finally:
        s.stop()
        admin.close()
    assert status == 200 and out["rewards"] == [0.0, 1.0]
    assert out["extra_logs"]["partial_group"] == [0.0, 0.0]
