"""Group assembly across workers: the added latency per sample of the Ray group actor's round
trip (against the in-process buffer), and judge calls per distinct pair when four worker
processes share one sqlite verdict cache."""

import asyncio
import random
import subprocess
import sys
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.groups import AsyncGroups, GroupBuffer
from rewardkit.rules import Batch

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = ROOT / "examples" / "data" / "animals.json"
N, G = 2000, 10


def codes():
    rng = random.Random(0)
    return [(f"u{i // G}", rng.randrange(6), True) for i in range(N)]


def score(c, f):
    import numpy as np

    return rk.SpeciaRL().compute(Batch(rk.SPECIARL, np.asarray(c, np.int16), np.asarray(f), len(c)))


def test_in_process_buffer(benchmark, record):
    def run():
        groups = AsyncGroups(GroupBuffer(G, score), 30.0)

        async def main():
            return await asyncio.gather(*(groups.reward(*m) for m in codes()))

        return asyncio.run(main())

    benchmark.pedantic(run, rounds=3, iterations=1)
    record("groups: in-process buffer, 2,000 samples", items=N)


def test_ray_group_actor(benchmark, record):
    ray = pytest.importorskip("ray")
    from rewardkit.adapters.ray_groups import group_actor, remote_reward

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rounds = iter(range(100))

        def run():
            actor = group_actor(
                f"bench-{next(rounds)}",
                group_size=G,
                ladder=rk.SPECIARL,
                rule=rk.SpeciaRL(),
                timeout=30.0,
            )
            ray.get(actor.stats.remote())  # created before the clock runs

            async def main():
                return await asyncio.gather(*(remote_reward(actor, *m) for m in codes()))

            out = asyncio.run(main())
            ray.kill(actor)
            return out

        benchmark.pedantic(run, rounds=3, iterations=1)
        record(
            "groups: Ray group actor, 2,000 samples",
            items=N,
            baseline="groups: in-process buffer, 2,000 samples",
        )
    finally:
        ray.shutdown()


WORKER = """
import asyncio, json, sys
from rewardkit.judges.openai_compat import openai_judge
url, cache, mode, pairs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.stdin.read())
judge = openai_judge("m", url, api_key_env=None, cache=cache)
if mode == "batch":  # the worker's whole share in one batch
    judge.judge([tuple(p) for p in pairs])
else:  # as verl's manager: one task per sample, all at once on the worker's loop
    async def main():
        await asyncio.gather(*(judge.ajudge([tuple(p)]) for p in pairs))
    asyncio.run(main())
print(judge.stats.calls)
"""


@pytest.mark.parametrize("mode", ["batch", "per-sample"])
def test_judge_calls_per_distinct_pair_across_workers(benchmark, record, tmp_path, mode):
    import json

    sys.path.insert(0, str(ROOT))
    from tests.judge_server import JudgeServer

    rng = random.Random(0)
    names = ["samoyed", "dog", "spitz", "cat", "animal", "husky", "wolf", "white dog"]
    rollouts = [("samoyed", rng.choice(names)) for _ in range(2000)]  # repeats, as samples do
    chunks = [rollouts[i::4] for i in range(4)]  # four workers, each its share
    with JudgeServer(rk.TaxonomyJudge(TAXONOMY), delay=0.005) as server:

        def run():
            cache = tmp_path / f"c{random.random()}.sqlite"
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, server.url, str(cache), mode],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in chunks
            ]
            for p, chunk in zip(procs, chunks):
                p.stdin.write(json.dumps(chunk))
                p.stdin.close()
            return sum(int(p.stdout.read()) for p in procs if p.wait() == 0)

        calls = benchmark.pedantic(run, rounds=1, iterations=1)
    distinct = len(set(rollouts))
    print(
        f"\n4 workers ({mode}), shared cache: {calls} judge calls for {distinct} distinct pairs "
        f"({calls / distinct:.2f} per pair; {len(rollouts)} samples)"
    )
    record(f"judging 2,000 samples on 4 workers, shared cache, {mode}", items=len(rollouts))
    assert calls <= 4 * distinct
