"""LLM judge throughput against a local OpenAI-compatible server with a fixed 20 ms reply
latency (2,000 distinct pairs at concurrency 64; the ideal is 2000 / 64 x 20 ms = 0.625 s),
and judge calls per completion with de-duplication and the cache on realistic rollouts."""

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rewardkit.judges.litellm_judge import litellm_judge
from rewardkit.judges.openai_compat import openai_judge

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = ROOT / "examples" / "data" / "animals.json"
N, CONCURRENCY, LATENCY = 2000, 64, 0.02
IDEAL = N / CONCURRENCY * LATENCY
SERVER: dict = {}


def server_cpu() -> float:
    """CPU seconds the server process has used (user + system), from /proc."""
    fields = Path(f"/proc/{SERVER['pid']}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def server_url():
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("aio_judge_server.py")),
            str(TAXONOMY),
            "--delay",
            str(LATENCY),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().strip()
    SERVER["pid"] = proc.pid
    yield url
    proc.stdin.close()
    proc.wait(10)


def distinct_pairs(tag: str):
    return [("samoyed", f"dog {tag} {i}") for i in range(N)]


def run(make, url, record, benchmark, name):
    cpu, served = [], []

    def once():
        judge = make(url)
        pairs = distinct_pairs(f"{name}-{random.random()}")
        start, server_start = time.process_time(), server_cpu()
        verdicts = judge.judge(pairs)
        cpu.append((time.process_time() - start) / judge.stats.calls)
        served.append((server_cpu() - server_start) / judge.stats.calls)
        assert judge.stats.failures == 0 and len(verdicts) == N

    benchmark.pedantic(once, rounds=3, iterations=1)
    record(f"{name}: 2,000 calls at concurrency 64", items=1)
    record(f"{name}: client CPU per call", items=1, mean=sum(cpu) / len(cpu))
    record(f"{name}: test server CPU per call", items=1, mean=sum(served) / len(served))


def test_ideal(benchmark, record):
    benchmark.pedantic(lambda: time.sleep(IDEAL), rounds=1, iterations=1)
    record("ideal: 2000 / 64 x 20 ms", items=1, mean=IDEAL)


def test_openai_transport(benchmark, record, server_url):
    run(
        lambda url: openai_judge("m", url, api_key_env=None, concurrency=CONCURRENCY),
        server_url,
        record,
        benchmark,
        "openai (aiohttp)",
    )
    _results_ratio(record, "openai (aiohttp): 2,000 calls at concurrency 64")


def test_litellm_transport(benchmark, record, server_url):
    run(
        lambda url: litellm_judge("hosted_vllm/m", api_base=url, concurrency=CONCURRENCY),
        server_url,
        record,
        benchmark,
        "litellm",
    )
    _results_ratio(record, "litellm: 2,000 calls at concurrency 64")


def _results_ratio(record, name):
    from benchmarks.conftest import _results

    _results[name]["baseline"] = "ideal: 2000 / 64 x 20 ms"


def rollouts(prompts=200, group=10, seed=0):
    """Groups of 10 answers per prompt, repeating as a policy's samples do."""
    rnd = random.Random(seed)
    labels = ["samoyed", "spitz", "golden retriever", "american robin", "warbler"]
    pool = {
        "samoyed": ["samoyed", "dog", "spitz", "husky", "white dog", "animal"],
        "spitz": ["spitz", "dog", "samoyed", "animal"],
        "golden retriever": ["golden retriever", "retriever", "dog", "labrador retriever"],
        "american robin": ["american robin", "robin", "bird", "thrush", "cardinal"],
        "warbler": ["warbler", "bird", "golden-winged warbler", "robin"],
    }
    pairs = []
    for _ in range(prompts):
        label = rnd.choice(labels)
        weights = [2**-k for k in range(len(pool[label]))]
        pairs += [(label, a) for a in rnd.choices(pool[label], weights, k=group)]
    return pairs


def test_dedup_and_cache_on_rollouts(benchmark, record, server_url, tmp_path):
    pairs = rollouts()
    cache = str(tmp_path / "verdicts.sqlite")
    first = openai_judge("m", server_url, api_key_env=None, cache=cache)
    second = openai_judge("m", server_url, api_key_env=None, cache=cache)
    benchmark.pedantic(lambda: first.judge(pairs), rounds=1, iterations=1)
    record("rollouts, first pass (dedup)", items=len(pairs))
    start = time.perf_counter()
    second.judge(pairs)
    record(
        "rollouts, second pass (cache)",
        items=len(pairs),
        mean=time.perf_counter() - start,
        baseline="rollouts, first pass (dedup)",
    )
    print(
        f"\njudge calls per completion: first pass {first.stats.calls / len(pairs):.4f}, "
        f"second pass {second.stats.calls / len(pairs):.4f} "
        f"({len(pairs)} completions, {first.stats.calls} distinct pairs)"
    )
    assert second.stats.calls == 0


# Replies as judges write them: bare labels, reasoning then a VERDICT line, JSON, and prose
# that quotes labels (read as failures).
REPLIES = [
    "specific",
    "Less specific.",
    "The prediction names a close parent of the label, one level up.\nVERDICT: less_specific",
    '{"verdict": "generic"}',
    "Dog is broader than samoyed.\nFinal verdict: generic\nVERDICT: generic",
    "It is generic, not specific.",
    "**More specific**",
    "I cannot decide between specific and more specific.",
] * 1250


def test_parse_cost_per_reply(benchmark, record):
    from rewardkit.ladders import SPECIARL

    parse = SPECIARL.parse

    def run_all():
        for reply in REPLIES:
            parse(reply)

    benchmark(run_all)
    record("Ladder.parse: 10,000 judge replies", items=len(REPLIES))


WORST = [
    shape * (65536 // len(shape))
    for shape in ("<think>", "VERDICT: ", "verdict is ", "{", "- generic\n", "\u2028", "Ε")
]


def test_parse_cost_at_the_cap(benchmark, record):
    """Replies at the 64K-character cap, shaped to make a backtracking reader quadratic."""
    from rewardkit.ladders import SPECIARL

    reading = SPECIARL.reading

    def run_all():
        for reply in WORST:
            reading(reply)

    benchmark(run_all)
    record(
        "Ladder.reading: 64K-character replies",
        items=len(WORST),
        baseline="Ladder.parse: 10,000 judge replies",
    )
