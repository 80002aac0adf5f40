"""The Redis verdict cache against a real redis-server: one judge call per distinct pair across
worker processes, honest identity, a lease whose holder died, and Redis going away mid-run."""

import asyncio
import json
import logging
import subprocess
import sys
import time

import pytest
import redis

import rewardkit as rk
from rewardkit.errors import StoreUnavailable
from rewardkit.judges.cache import CacheError, CacheUnavailable
from rewardkit.judges.openai_compat import openai_judge
from rewardkit.judges.redis_cache import RedisCache, redact_url

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
        cache = RedisCache(redis_server.url, retry_after=0.0)  # tried again at every step
        judge = openai_judge("m", server.url, api_key_env=None, cache=cache)
        assert judge.judge([("samoyed", "dog")]) == ["generic"]
        redis_server.stop()
        # Down: every pair is judged, nothing lost, no wrong verdict; the outage is logged once.
        assert judge.judge([("samoyed", "dog"), ("samoyed", "cat")]) == ["generic", "wrong"]
        assert cache.outages == 1 and len(server.requests) == 3
        redis_server.start()  # the same port, empty (no persistence)
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


# -- checked at start, survived mid-run, junk read back as a miss --------------------------------


class PasswordRedis:
    """A redis-server with ``--requirepass`` on a fixed loopback port; ``start`` returns once
    the server says it is ready (read from its log, no polling)."""

    def __init__(self, folder, password):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder, self.password, self.proc = folder, password, None
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self):
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        args += ["no", "--dir", str(self.folder), "--requirepass", self.password]
        self.proc = subprocess.Popen(
            ["redis-server", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in self.proc.stdout:
            if "ready to accept connections" in line.lower():
                return self
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def password_redis(tmp_path):
    server = PasswordRedis(tmp_path, "hunter2-Secret").start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_redis_that_cannot_be_used_is_refused_at_start_without_its_password(password_redis):
    port, secret = password_redis.port, "hunter2-Secret"
    cases = {
        f"redis://:wrong-Secret@127.0.0.1:{port}/0": "AuthenticationError: invalid username-",
        f"redis://127.0.0.1:{port}/0": "AuthenticationError: ",
        f"redis://:{secret}@127.0.0.1:{port}/99": "ResponseError: DB index is out of range",
        f"redis://:{secret}@127.0.0.1:{_closed_port()}/0": "ConnectionError: Error 111 connecting",
    }
    for url, why in cases.items():
        with pytest.raises(CacheUnavailable) as refused:
            RedisCache(url)
        text = str(refused.value)
        assert why in text, text
        assert "Secret" not in text and text.startswith(f"verdict cache {redact_url(url)}")
        assert isinstance(refused.value, CacheError) and isinstance(refused.value, StoreUnavailable)
    assert RedisCache(password_redis.url).identity() == f"redis://:***@127.0.0.1:{port}/0"


def test_the_command_line_exits_2_naming_the_cache_and_not_its_password(password_redis, tmp_path):
    url = f"redis://:wrong-Secret@127.0.0.1:{password_redis.port}/0"
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"ground_truth": "samoyed", "prediction": "dog"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "rewardkit.cli", "judge", "--judge", "openai", "--model", "m"]
        + ["--api-base", "http://127.0.0.1:9/v1", "--cache", url, "-i", str(rows)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert "invalid username-password pair" in done.stderr
    assert "Secret" not in done.stderr + done.stdout
    assert f"redis://:***@127.0.0.1:{password_redis.port}/0" in done.stderr


def test_outages_mid_run_are_judged_through_logged_once_each_and_counted(password_redis, caplog):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        cache = RedisCache(password_redis.url, retry_after=0.0)  # Redis is tried at every step
        judge = openai_judge("m", server.url, api_key_env=None, cache=cache)
        assert judge.judge([("samoyed", "dog")]) == ["generic"]
        with caplog.at_level(logging.INFO, "rewardkit.judges"):
            password_redis.stop()
            assert judge.judge([("samoyed", "dog"), ("samoyed", "cat")]) == ["generic", "wrong"]
            assert judge.judge([("samoyed", "spitz")]) == ["less_specific"]
            down = [r for r in caplog.records if "unavailable" in r.getMessage()]
            assert (len(down), cache.stats.outages) == (1, 1)
            assert cache.stats.unavailable >= 4  # every operation of both batches failed
            password_redis.start()  # the same port, empty
            assert judge.judge([("samoyed", "husky")]) == ["wrong"]
            assert sum("is back" in r.getMessage() for r in caplog.records) == 1
            # The password changes under the run: new connections are refused.
            admin = redis.Redis.from_url(password_redis.url)
            admin.config_set("requirepass", "another-Secret")
            assert judge.judge([("samoyed", "wolf")]) == ["wrong"]
        assert cache.stats.outages == 2
        assert len(server.requests) == 6  # dog, dog again (Redis down), cat, spitz, husky, wolf
        assert "Secret" not in caplog.text
        assert f"verdict cache redis://:***@127.0.0.1:{password_redis.port}/0" in caplog.text


JUNK = [b"specificc", b"\xff\xfe\x00", b"3", b'{"verdict": "specific"}', b"correct", b"generic\n"]


def test_junk_read_from_redis_is_a_miss_then_judged_and_overwritten(redis_server, caplog):
    predictions = ["dog", "spitz", "cat", "husky", "wolf", "animal"]
    pairs = [("samoyed", p) for p in predictions]
    r = redis.Redis.from_url(redis_server.url)
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        judge = openai_judge("m", server.url, api_key_env=None, cache=redis_server.url)
        for (truth, prediction), junk in zip(pairs, JUNK):
            r.set(judge.cache._key(judge.identity, judge.key(truth, prediction)), junk)
        expected = [rk.TaxonomyJudge(ANIMALS).verdict(*p) for p in pairs]
        with caplog.at_level(logging.WARNING, "rewardkit.judges"):
            assert judge.judge(pairs) == expected
        assert (judge.cache.stats.junk, judge.stats.cache_hits, len(server.requests)) == (6, 0, 6)
        assert "6 cached value(s) are not verdicts of judge" in caplog.text
        stored = [r.get(judge.cache._key(judge.identity, judge.key(*p))) for p in pairs]
        assert stored == [v.encode() for v in expected]
        again = openai_judge("m", server.url, api_key_env=None, cache=redis_server.url)
        assert again.judge(pairs) == expected and again.stats.cache_hits == 6


def test_a_lease_planted_without_expiry_holds_a_pair_for_twice_the_lease_at_most(redis_server):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        cache = RedisCache(redis_server.url, lease=0.2)
        judge = openai_judge("m", server.url, api_key_env=None, cache=cache)
        r = redis.Redis.from_url(redis_server.url)
        r.set(cache._key(judge.identity, judge.key("samoyed", "dog"), "lease"), b"1")  # no TTL
        assert judge.judge([("samoyed", "dog")]) == ["generic"]
        assert len(server.requests) == 1


def test_a_bad_ttl_is_refused_without_the_password():
    for ttl in ("nan", "inf", "-1", "soon"):
        with pytest.raises(ValueError) as refused:
            RedisCache(f"redis://:hunter2-Secret@127.0.0.1:1/0?ttl={ttl}")
        assert str(refused.value).startswith("redis://:***@127.0.0.1:1/0")
        assert "Secret" not in str(refused.value)
