"""The Redis verdict cache against a real redis-server: one judge call per distinct pair across
worker processes, honest identity, a lease whose holder died, and Redis going away mid-run."""

import asyncio
import json
import subprocess
import sys
import time

import redis

import rewardkit as rk
from rewardkit.judges.openai_compat import openai_judge
from rewardkit.judges.redis_cache import RedisCache

from .conftest import ANIMALS
from .judge_server import JudgeServer

WORKER = """
import json, random, sys
from rewardkit.judges.openai_compat import openai_judge
url, cache, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
pairs = [tuple(p) for p in json.loads(sys.stdin.read())]
random.Random(seed).shuffle(pairs)
judge = openai_judge("m", url, api_key_env=None, cache=cache, concurrency=8)
print(json.dumps(dict(zip(map(json.dumps, pairs), judge.judge(pairs)))))
"""

PREDICTIONS = ["dog", "spitz", "cat", "animal", "husky", "wolf", "samoyed", "I don't know"]


def test_four_processes_judge_each_distinct_pair_once(redis_server):
    pairs = [(t, f"{p} {i}") for t in ("samoyed", "spitz") for p in PREDICTIONS for i in range(5)]
    with JudgeServer(rk.TaxonomyJudge(ANIMALS), delay=0.02) as server:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, server.url, redis_server.url, str(seed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(4)
        ]
        outs = [p.communicate(json.dumps(pairs), timeout=120)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs)
        calls = len(server.requests)
    assert calls == len(set(pairs))  # 80 distinct pairs, 320 judgements, 80 calls
    results = [json.loads(o) for o in outs]
    assert all(r == results[0] for r in results)  # every process got the same verdicts
    reference = rk.TaxonomyJudge(ANIMALS)
    assert results[0] == {json.dumps(list(p)): reference.verdict(*p) for p in pairs}


def test_judges_share_nothing_across_identities(redis_server):
    lenient, strict = JudgeServer(rk.TaxonomyJudge(ANIMALS)), JudgeServer(rk.TaxonomyJudge(ANIMALS))
    strict.replies["dog"] = "wrong"
    with lenient, strict:
        a = openai_judge("judge", lenient.url, api_key_env=None, cache=redis_server.url)
        b = openai_judge("judge", strict.url, api_key_env=None, cache=redis_server.url)
        assert a.judge([("samoyed", "dog")]) == ["generic"]
        assert b.judge([("samoyed", "dog")]) == ["wrong"]
        again = openai_judge("judge", lenient.url, api_key_env=None, cache=redis_server.url)
        assert again.judge([("samoyed", "dog")]) == ["generic"]
        assert len(lenient.requests) == 1 and again.stats.cache_hits == 1


def test_a_lease_whose_holder_died_is_taken_over(redis_server):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        cache = RedisCache(redis_server.url, lease=30.0)
        judge = openai_judge("m", server.url, api_key_env=None, cache=cache)
        key = judge.key("samoyed", "dog")
        # Another process claimed the pair and died: its lease runs out in 0.8 s, no verdict.
        r = redis.Redis.from_url(redis_server.url)
        r.set(cache._key(judge.identity, key, "lease"), b"1", px=800)
        start = time.monotonic()
        assert judge.judge([("samoyed", "dog"), ("samoyed", "spitz")]) == [
            "generic",
            "less_specific",
        ]
        assert time.monotonic() - start >= 0.7  # it waited for the lease, then judged
        assert len(server.requests) == 2


def test_redis_going_away_and_coming_back(redis_server):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        cache = RedisCache(redis_server.url, retry_after=0.2)
        judge = openai_judge("m", server.url, api_key_env=None, cache=cache)
        assert judge.judge([("samoyed", "dog")]) == ["generic"]
        redis_server.stop()
        # Down: every pair is judged, nothing lost, no wrong verdict; the outage is logged once.
        assert judge.judge([("samoyed", "dog"), ("samoyed", "cat")]) == ["generic", "wrong"]
        assert cache.outages == 1 and len(server.requests) == 3
        redis_server.start()  # the same port, empty (no persistence)
        time.sleep(0.3)
        assert judge.judge([("samoyed", "spitz")]) == ["less_specific"]
        fresh = openai_judge("m", server.url, api_key_env=None, cache=redis_server.url)
        assert fresh.judge([("samoyed", "spitz")]) == ["less_specific"]
        assert fresh.stats.cache_hits == 1  # written after Redis came back


def test_concurrent_batches_on_one_loop_share_the_client(redis_server):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS), delay=0.01) as server:
        judge = openai_judge("m", server.url, api_key_env=None, cache=redis_server.url)

        async def many():
            return await asyncio.gather(
                *(judge.ajudge([("samoyed", f"dog {b}"), ("samoyed", "dog")]) for b in range(8))
            )

        for verdicts in asyncio.run(many()):
            assert verdicts[1] == "generic"
        assert judge.cache.outages == 0


def test_a_ttl_in_the_url_expires_verdicts(redis_server):
    cache = RedisCache(redis_server.url + "?ttl=60")
    assert cache.ttl == 60.0 and cache.url == redis_server.url

    async def put():
        async with cache.session():
            await cache.aput("j", [("samoyed", "dog", "generic")])

    asyncio.run(put())
    r = redis.Redis.from_url(redis_server.url)
    assert 0 < r.ttl(cache._key("j", ("samoyed", "dog"))) <= 60
