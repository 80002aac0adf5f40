"""rewardkit serve: a real server process on 127.0.0.1, driven by OpenRLHF's own HTTP reward
client and by plain HTTP requests."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import rewardkit as rk

from .conftest import ANIMALS
from .test_openrlhf import make_script, rollout

EXE = os.path.join(os.path.dirname(sys.executable), "rewardkit")


class Server:
    def __init__(self, *args, env=None):
        judge = [] if "--judge" in args else ["--taxonomy", str(ANIMALS)]
        self.proc = subprocess.Popen(
            [EXE, "serve", *judge, "--port", "0", *args],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        seen = []
        for _ in range(100):  # the first line naming the URL (warnings may come before it)
            line = self.proc.stderr.readline()
            seen.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if match or not line:
                break
        assert match, "".join(seen) + self.proc.stderr.read()
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def post(self, path, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture
def server():
    s = Server("-g", "4", "--timeout", "5")
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_openrlhf_rewards_whole_groups_over_http(server):
    group = 4
    labels = ["samoyed", "spitz", "dog", "samoyed"]
    prompts = [f"classify {i} {y}" for i, y in enumerate(labels)]
    script = make_script(prompts, group, seed=2)
    expected = {p: list(reversed(a)) for p, a in script.items()}
    start = time.monotonic()
    results = rollout(server.url, prompts, labels, script, group)  # OpenRLHF's own HTTP client
    assert time.monotonic() - start < 5  # no group waited for its timeout
    offline = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    for prompt, label, outputs in zip(prompts, labels, results):
        answers = expected[prompt]
        completions = [f"<answer>{a}</answer>" if a is not None else "none" for a in answers]
        assert [o["reward"][0] for o in outputs] == offline(
            completions, [label] * group, group_size=group
        )
        assert all(o["extra_logs"]["partial_group"] == [0.0] for o in outputs)
    metrics = server.get("/metrics")
    assert 'rewardkit_requests_total{route="/",status="200"} 16' in metrics
    assert "rewardkit_groups_completed_total 4" in metrics


def test_json_api_health_and_bad_requests(server):
    status, out = server.post(
        "/v1/judge",
        {
            "pairs": [
                {"label": "samoyed", "prediction": "dog"},
                {"label": "samoyed", "prediction": None},
            ]
        },
    )
    assert status == 200 and out == {"verdicts": ["generic", None], "errors": [None, "no answer"]}
    status, out = server.post(
        "/v1/reward",
        {
            "completions": ["<answer>dog</answer>", "<answer>spitz</answer>"],
            "labels": ["samoyed"] * 2,
            "group_size": 2,
        },
    )
    assert status == 200 and out["rewards"] == [0.0, 1.0]
    assert json.loads(server.get("/health"))["status"] == "ok"
    for body, message in [
        ({"query": ["a"], "prompts": ["a", "b"], "labels": ["x"]}, "field 'prompts' has 2 items"),
        ({"query": "a"}, "field 'query' must be a list of strings"),
        ({"pairs": [{"label": 3}]}, "pairs[0].label must be a string"),
    ]:
        path = "/v1/judge" if "pairs" in body else "/"
        status, out = server.post(path, body)
        assert status == 400 and message in out["error"], out
    status, out = server.post("/", None, raw=b"{not json")
    assert status == 400 and "not valid JSON" in out["error"]
    status, _ = server.post("/v1/judge", None, raw=b'{"pairs": "' + b"x" * (2 << 20) + b'"}')
    assert status == 413


def test_a_bearer_token_is_required_when_configured():
    s = Server("-g", "4", "--token-env", "RK_TOKEN", env={"RK_TOKEN": "s3cret"})
    try:
        body = {"pairs": [{"label": "samoyed", "prediction": "dog"}]}
        assert s.post("/v1/judge", body)[0] == 401
        assert s.post("/v1/judge", body, {"Authorization": "Bearer wrong"})[0] == 401
        status, out = s.post("/v1/judge", body, {"Authorization": "Bearer s3cret"})
        assert status == 200 and out["verdicts"] == ["generic"]
        assert json.loads(s.get("/health"))["status"] == "ok"  # health needs no token
    finally:
        s.stop()


def test_a_taken_port_is_a_clear_startup_error():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        done = subprocess.run(
            [EXE, "serve", "--taxonomy", str(ANIMALS), "-g", "4", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sock.close()
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_sigterm_finishes_requests_in_flight(server):
    # A group of 4 with one member: the request waits for the 5 s group timeout.
    result = {}

    def call():
        result["r"] = server.post(
            "/", {"query": ["q <answer>dog</answer>"], "prompts": ["q"], "labels": ["samoyed"]}
        )

    t = threading.Thread(target=call)
    t.start()
    time.sleep(1.0)
    assert server.stop() == 0
    t.join(30)
    status, out = result["r"]
    assert status == 200 and out["extra_logs"]["partial_group"] == [1.0]


# -- several replicas sharing Redis ---------------------------------------------------------------


def test_two_replicas_share_groups_and_verdicts_through_redis(redis_server):
    # OpenRLHF rotates through its URLs call by call: a group's siblings hit both replicas.
    group, n_prompts = 8, 8  # 64 samples in flight
    args = ("-g", str(group), "--timeout", "20", "--groups", redis_server.url)
    replicas = [Server(*args), Server(*args)]
    try:
        labels = [["samoyed", "spitz", "dog", "golden retriever"][i % 4] for i in range(n_prompts)]
        prompts = [f"classify {i} {y}" for i, y in enumerate(labels)]
        script = make_script(prompts, group, seed=5)
        expected = {p: list(reversed(a)) for p, a in script.items()}
        start = time.monotonic()
        results = rollout([r.url for r in replicas], prompts, labels, script, group)
        assert time.monotonic() - start < 20  # no group waited for its timeout
        hits = [
            int(re.search(r'route="/",status="200"} (\d+)', r.get("/metrics")).group(1))
            for r in replicas
        ]
        assert sum(hits) == 64 and min(hits) > 0  # both replicas served
    finally:
        for r in replicas:
            r.stop()
    offline = rk.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
    for prompt, label, outputs in zip(prompts, labels, results):
        answers = expected[prompt]
        completions = [f"<answer>{a}</answer>" if a is not None else "none" for a in answers]
        assert [o["reward"][0] for o in outputs] == offline(
            completions, [label] * group, group_size=group
        )
        assert all(o["extra_logs"]["partial_group"] == [0.0] for o in outputs)


def test_an_llm_judge_over_two_servers_behind_the_service(redis_server):
    from .judge_server import JudgeServer

    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as a, JudgeServer(rk.TaxonomyJudge(ANIMALS)) as b:
        s = Server(
            "-g",
            "4",
            "--judge",
            "openai",
            "--model",
            "m",
            "--api-base",
            f"{a.url},{b.url}",
            "--judge-option",
            "api_key_env=null",
            "--cache",
            redis_server.url,
        )
        try:
            pairs = [{"label": "samoyed", "prediction": f"dog {i}"} for i in range(20)]
            status, out = s.post("/v1/judge", {"pairs": pairs})
            assert status == 200 and out["verdicts"] == ["wrong"] * 20
            status, out = s.post("/v1/judge", {"pairs": pairs})  # the Redis cache answers
            assert status == 200 and len(a.requests) + len(b.requests) == 20
            metrics = s.get("/metrics")
        finally:
            s.stop()
    assert f'rewardkit_judge_server_up{{server="{a.url}"}} 1' in metrics
    assert "rewardkit_judge_cache_hits_total 20" in metrics


def test_hostile_http_gets_clear_errors_and_the_server_stays_up(server):
    import resource

    status, out = server.post("/v1/judge", None, raw=b'{"pairs": "' + b"x" * (10 << 20) + b'"}')
    assert status == 413 and "body over" in out["error"]
    status, out = server.post("/", None, raw=b'{"query": ["a"], "prompts": ["a"], "lab')
    assert status == 400 and "not valid JSON" in out["error"]
    status, out = server.post("/", {"query": [1], "prompts": ["a"], "labels": ["x"]})
    assert status == 400 and "'query' must be a list of strings" in out["error"]
    status, out = server.post(
        "/v1/reward", {"completions": ["a"], "labels": ["x"], "group_size": 0}
    )
    assert status == 400 and "group_size" in out["error"]
    # 1,000 connections opened and left idle (loopback, closed by the test within seconds).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    port = int(server.url.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        status, out = server.post(
            "/v1/judge", {"pairs": [{"label": "samoyed", "prediction": "dog"}]}
        )
        assert status == 200 and out["verdicts"] == ["generic"]
    finally:
        for s in idle:
            s.close()
    assert json.loads(server.get("/health"))["status"] == "ok"
