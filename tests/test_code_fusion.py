"""The code judge's remote backend (SandboxFusion's run_code API) against a stand-in service on
loopback that runs the code in rewardkit's own bubblewrap sandbox: the same verdicts as the
local sandbox, retries counted once, hostile answers unscored with their reason, bounded
concurrency, configuration errors refused."""

import json

import pytest

from rewardkit.verifiers.code import CodeJudge
from rewardkit.verifiers.sandbox import Limits, SandboxUnavailable
from rewardkit.verifiers.sandbox_fusion import FusionSandbox
from tests.sandbox_fusion_server import FusionServer

TESTS = json.dumps([{"input": "2 3", "output": "5"}, {"input": "10 -4", "output": "6"}])
PROGRAMS = [
    "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
    "print(5)",
    "print('five')",
    "while True: pass",
    "def f(:",
    "import sys; sys.exit(3)",
]
ADD = "a, b = map(int, input().split())\nprint(a + b)"


@pytest.fixture
def server():
    with FusionServer(timeout=1) as s:
        yield s


def remote(server, **options):
    options.setdefault("timeout", 1)
    return CodeJudge(sandbox="sandbox_fusion", sandbox_url=server.url, **options)


def test_the_verdicts_and_details_are_the_local_sandbox_s(server):
    judge = remote(server, workers=4)
    local = CodeJudge(workers=4, timeout=1)
    got = judge.judge_records([(TESTS, p) for p in PROGRAMS])
    want = local.judge_records([(TESTS, p) for p in PROGRAMS])
    assert [(r.verdict, r.reply, r.error) for r in got] == [
        (r.verdict, r.reply, r.error) for r in want
    ]
    assert [r.verdict for r in got] == [
        "passes_all", "passes_some", "wrong_output", "runtime_error_or_timeout", "syntax_error",
        "runtime_error_or_timeout",
    ]  # fmt: skip
    assert got[3].reply == "0/2 tests passed; test 1: timeout"
    assert judge.sandbox.counts == {"runs": 12, "requests": 12, "retries": 0, "unavailable": 0}
    request = server.requests[-1]
    assert (request["language"], request["run_timeout"], request["memory_limit_MB"]) == (
        "python", 1.0, 512,
    )  # fmt: skip


def test_retries_are_counted_once_and_only_the_last_answer_is_read(server):
    judge = remote(server, workers=1)
    judge.sandbox.backoff = 0.0
    server.faults = ["500", "drop"]
    (record,) = judge.judge_records([(json.dumps([{"input": "1 1", "output": "2"}]), ADD)])
    assert (record.verdict, record.reply) == ("passes_all", "1/1 tests passed")
    assert judge.sandbox.counts == {"runs": 1, "requests": 3, "retries": 2, "unavailable": 0}
    assert judge.runs == 1


def test_a_request_past_its_timeout_is_retried(server):
    box = FusionSandbox(server.url, limits=Limits(timeout=1, cpu=1), slack=0.5, backoff=0)
    server.faults = ["slow"]
    run = box.run("print(input())", "hi")
    assert (run.status, run.stdout) == ("ok", "hi\n")
    assert box.counts == {"runs": 1, "requests": 2, "retries": 1, "unavailable": 0}


def test_a_run_the_service_keeps_failing_is_unscored_and_not_cached(server):
    judge = remote(server, workers=1)
    judge.sandbox.backoff = 0.0
    server.faults = ["500", "sandbox-error", "429"]
    truth = json.dumps([{"input": "1 1", "output": "2"}])
    (record,) = judge.judge_records([(truth, ADD)])
    assert record.verdict is None
    assert record.error == "unscored: the sandbox failed: HTTP 429"
    assert judge.sandbox.counts == {"runs": 1, "requests": 3, "retries": 2, "unavailable": 1}
    assert judge.judge([(truth, ADD)]) == ["passes_all"]  # asked again, not the cached failure


@pytest.mark.parametrize(
    "fault, why",
    [
        ("garbage", "an answer that is not JSON: b'<html>502 Bad Gateway</html>'"),
        ("list", "an answer that is not an object: list"),
        ("no-run", "status Success without a run_result"),
        ("contradiction", "status Success with return_code 1"),
        ("unknown-status", "an unknown status 'Accepted'"),
        ("bad-code", "a return_code that is not an integer: '0'"),
        ("int-stdout", "stdout is not a string: int"),
    ],
)
def test_a_hostile_answer_is_unscored_with_its_reason_and_not_retried(server, fault, why):
    judge = remote(server, workers=1)
    server.faults = [fault]
    (record,) = judge.judge_records([(json.dumps([{"input": "", "output": "1"}]), "print(1)")])
    assert (record.verdict, record.error) == (None, f"unscored: the sandbox failed: {why}")
    assert judge.sandbox.counts == {"runs": 1, "requests": 1, "retries": 0, "unavailable": 1}


def test_an_answer_over_the_size_limit_is_unscored(server):
    server.huge = 100_000
    box = FusionSandbox(server.url, max_response_bytes=4096)
    server.faults = ["huge"]
    run = box.run("print(1)")
    assert (run.status, run.stderr) == ("unavailable", "an answer over 4096 bytes")


def test_no_more_runs_in_flight_than_workers():
    # Each run sleeps 0.2 s; the time limits (the service's and the client's) are generous, so
    # a loaded machine (a slow interpreter start in the sandbox) cannot make a run time out.
    with FusionServer(timeout=20) as server:
        judge = remote(server, workers=2, timeout=20)
        sleepy = json.dumps([{"assert": "pass"}] * 6)
        (record,) = judge.judge_records([(sleepy, "import time\ntime.sleep(0.2)")])
    assert record.verdict == "passes_all"
    assert server.peak == 2


def test_configuration_errors_are_refused_at_once(server, closed_port):
    with pytest.raises(SandboxUnavailable, match="answered HTTP 404 to /nowhere/run_code"):
        CodeJudge(sandbox="sandbox_fusion", sandbox_url=server.url + "/nowhere")
    dead = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(SandboxUnavailable, match="cannot run print\\('ok'\\): unavailable: no an"):
        FusionSandbox(dead, retries=0)
    with pytest.raises(ValueError, match="sandbox_url is needed with sandbox='sandbox_fusion'"):
        CodeJudge(sandbox="sandbox_fusion")
    with pytest.raises(ValueError, match="sandbox_url must be an http"):
        FusionSandbox("ftp://x")
    judge = remote(server)
    server.faults = ["404"]
    with pytest.raises(SandboxUnavailable, match="answered HTTP 404"):
        judge.judge([(json.dumps([{"assert": "pass"}]), "pass")])


def test_the_command_line_takes_the_service_as_judge_options(server, tmp_path, capsys):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"label": TESTS, "prediction": PROGRAMS[1]}) + "\n")
    code = main(
        ["judge", "--judge", "code", "-i", str(rows), "--judge-option", "sandbox=sandbox_fusion",
         "--judge-option", f"sandbox_url={server.url}"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["verdict"] == "passes_some"
    assert len(server.requests) == 3  # the probe, then one run per test
