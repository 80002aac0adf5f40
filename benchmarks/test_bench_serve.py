"""rewardkit serve and the Redis cache: service overhead per request (16 concurrent clients,
OpenRLHF-style one-completion requests), the Redis cache's hit path (batches of 2,560 pairs,
against the sqlite cache in the same run), and judge calls per distinct pair with four processes
sharing Redis."""

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rewardkit as rk

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import ANIMALS, RedisServer  # noqa: E402
from tests.judge_server import JudgeServer  # noqa: E402

EXE = os.path.join(os.path.dirname(sys.executable), "rewardkit")
REQUESTS, CLIENTS = 20_000, 16


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server.url
    server.stop()


def test_service_overhead(benchmark, record):
    import aiohttp

    proc = subprocess.Popen(
        [EXE, "serve", "--taxonomy", str(ANIMALS), "--rule", "exact", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    while "http://" not in line and line:
        line = proc.stderr.readline()
    url = re.search(r"http://\S+:\d+", line).group(0)
    latencies: list[float] = []

    async def client(n):
        async with aiohttp.ClientSession() as session:
            for i in range(n):
                body = {
                    "query": [f"q <answer>dog {i % 50}</answer>"],
                    "prompts": ["q"],
                    "labels": ["samoyed"],
                }
                start = time.perf_counter()
                async with session.post(url, json=body) as r:
                    await r.read()
                latencies.append(time.perf_counter() - start)

    async def main():
        await asyncio.gather(*(client(REQUESTS // CLIENTS) for _ in range(CLIENTS)))

    try:
        benchmark.pedantic(lambda: asyncio.run(main()), rounds=1, iterations=1)
    finally:
        proc.terminate()
        proc.wait(30)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    wall = benchmark.stats.stats.mean
    print(
        f"\nserve: {REQUESTS} requests from {CLIENTS} clients: {REQUESTS / wall:.0f} req/s, "
        f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms (client and server share the cores)"
    )
    record("serve: 20,000 one-completion requests, 16 clients", items=REQUESTS)


def test_redis_cache_hits(benchmark, record, redis_url, tmp_path):
    from rewardkit.judges.cache import VerdictCache
    from rewardkit.judges.redis_cache import RedisCache

    keys = [("samoyed", f"answer {i}") for i in range(2560)]
    rows = [(*k, "generic") for k in keys]
    sqlite = VerdictCache(tmp_path / "c.sqlite")
    sqlite.put("j", rows)
    start = time.perf_counter()
    for _ in range(5):
        assert len(sqlite.get("j", keys)) == 2560
    record("sqlite cache: 2,560 hits", items=2560, mean=(time.perf_counter() - start) / 5)
    cache = RedisCache(redis_url)

    async def fill():
        async with cache.session():
            await cache.aput("j", rows)

    asyncio.run(fill())

    def hits():
        async def go():
            async with cache.session():
                return await cache.aget("j", keys)

        assert len(asyncio.run(go())) == 2560

    benchmark(hits)
    record("redis cache: 2,560 hits", items=2560, baseline="sqlite cache: 2,560 hits")
    per_s = 2560 / benchmark.stats.stats.mean
    print(f"\nredis cache hit path: {per_s:,.0f} verdicts/s (batches of 2,560)")


WORKER = """
import json, random, sys
from rewardkit.judges.openai_compat import openai_judge
url, cache, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
pairs = [tuple(p) for p in json.loads(sys.stdin.read())]
random.Random(seed).shuffle(pairs)
judge = openai_judge("m", url, api_key_env=None, cache=cache, concurrency=16)
judge.judge(pairs)
print(judge.stats.calls)
"""


def test_calls_per_distinct_pair_four_processes_redis(benchmark, record, redis_url):
    rng = random.Random(0)
    pairs = [("samoyed", f"answer {rng.randrange(400)}") for _ in range(2000)]
    with JudgeServer(rk.TaxonomyJudge(ANIMALS), delay=0.005) as server:

        def run():
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, server.url, redis_url, str(s)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for s in range(4)
            ]
            for p in procs:
                p.stdin.write(json.dumps(pairs))
                p.stdin.close()
            return sum(int(p.stdout.read()) for p in procs if p.wait() == 0)

        calls = benchmark.pedantic(run, rounds=1, iterations=1)
    distinct = len(set(pairs))
    print(
        f"\n4 processes, one Redis: {calls} calls for {distinct} distinct pairs "
        f"({calls / distinct:.2f} per pair; {4 * len(pairs)} judgements)"
    )
    record("4 processes sharing Redis, 8,000 judgements", items=4 * len(pairs))
    assert calls == distinct
