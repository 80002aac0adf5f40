"""The code judge's sandbox against the escapes a policy could write: network, writes outside
its temp dir, a fork bomb, a memory bomb, reading the host's files, killing its parent - each
run for real in bubblewrap, with exact outcomes."""

import json
import os
import socket
import time
from pathlib import Path

import pytest

from rewardkit.verifiers.code import CodeJudge
from rewardkit.verifiers.sandbox import Limits, Sandbox, SandboxUnavailable

if not os.access("/usr/bin/bwrap", os.X_OK):
    pytest.fail("bubblewrap is not installed: apt-get install bubblewrap (.ci/run does)")

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(timeout=3, cpu=3)


@pytest.fixture(scope="module")
def box():
    return Sandbox(limits=LIMITS, slots=2)


def test_no_network_not_even_the_hosts_loopback(box):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        program = (
            "import socket\n"
            "for host in ['127.0.0.1', '1.1.1.1']:\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=2); print('CONNECTED')\n"
            "    except OSError as e: print(host, e.errno)\n"
        )
        run = box.run(program)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came
    assert run.stdout == "127.0.0.1 111\n1.1.1.1 101\n"  # refused, network unreachable


def test_no_write_outside_the_private_tmp(box, tmp_path):
    target = tmp_path / "escaped"
    program = (
        "for path in ['/usr/evil', '/sandbox/evil', '/etc/evil', " + repr(str(target)) + "]:\n"
        "    try:\n"
        "        open(path, 'w').write('x'); print('WROTE', path)\n"
        "    except OSError as e: print(e.errno)\n"
        "open('/tmp/mine', 'w').write('ok'); print(open('/tmp/mine').read())\n"
    )
    run = box.run(program)
    # read-only, read-only, denied (bwrap's own root-owned /etc), not there
    assert run.stdout == "30\n30\n13\n2\nok\n"
    assert not target.exists()
    assert box.run("import os; print(os.listdir('/tmp'))").stdout == "[]\n"  # private per run


def test_the_hosts_files_are_not_there(box):
    paths = [str(REPO / "README.md"), str(REPO), "/root", "/home", "/etc/passwd", "/work"]
    run = box.run(f"import os\nprint([os.path.exists(p) for p in {paths!r}])")
    assert run.stdout == "[False, False, False, False, False, False]\n"


def _sandbox_uid_processes() -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        if 61000 <= uid < 61100:
            out.append(pid)
    return out


def test_a_fork_bomb_stops_at_the_process_limit_and_leaves_nothing(box):
    program = (
        "import os, time\nn = 0\ntry:\n    while True:\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n"
        "        n += 1\nexcept OSError as e:\n    print('stopped', n < 32, e.errno)\n"
    )
    start = time.monotonic()
    run = box.run(program)
    assert run.stdout == "stopped True 11\n"  # EAGAIN at RLIMIT_NPROC
    assert time.monotonic() - start < LIMITS.timeout + 5
    assert _sandbox_uid_processes() == []  # the sleeping children died with the sandbox


def test_a_memory_bomb_is_a_memory_error(box):
    run = box.run("x = bytearray(4 << 30)\nprint('ALLOCATED')")
    assert (run.status, run.stdout, run.stderr.splitlines()[-1]) == ("error", "", "MemoryError")


def test_killing_the_parent_or_everyone_reaches_nothing(box):
    program = (
        "import os, signal\n"
        f"for pid in [{os.getpid()}, os.getppid(), -1]:\n"
        "    try:\n        os.kill(pid, signal.SIGKILL); print('sent', pid)\n"
        "    except OSError as e: print(e.errno)\n"
        "print(os.getpid(), os.getuid() != 0)\n"
    )
    run = box.run(program)
    assert run.stdout == "3\n1\n3\n2 True\n"  # no such process, not permitted, no one to kill


def test_spinning_and_flooding_are_stopped(box):
    start = time.monotonic()
    spin = box.run("while True: pass")
    assert (spin.status, spin.returncode) == ("timeout", -9)
    assert LIMITS.timeout <= time.monotonic() - start < LIMITS.timeout + 5
    flood = box.run("while True: print('x' * 4096)")
    assert flood.status == "error" and len(flood.stdout) == LIMITS.file_size


def test_a_missing_bwrap_is_refused_unless_opted_out(tmp_path):
    with pytest.raises(SandboxUnavailable) as err:
        Sandbox(bwrap=str(tmp_path / "bwrap"))
    assert str(err.value) == (
        "running untrusted code needs bubblewrap (/usr/bin/bwrap), which is missing: "
        "apt-get install bubblewrap, or pass sandbox='none' to run it unisolated"
    )
    assert Sandbox("none").run("print(2 + 2)").stdout == "4\n"


TESTS = json.dumps([{"input": "2 3", "output": "5"}, {"input": "10 -4", "output": "6\n"}])
PROGRAMS = {
    "passes_all": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
    "passes_some": "print(5)",
    "wrong_output": "print('five')",
    "runtime_error_or_timeout": "a, b = map(int, input().split())\nprint(a // (b - b))",
    "syntax_error": "def f(:",
}


def test_a_batch_of_programs_and_its_throughput():
    judge = CodeJudge(workers=2, timeout=3)
    pairs = [
        (TESTS, f"{program}\n# variant {i}")  # distinct programs: no cache hits
        for i in range(4)
        for program in PROGRAMS.values()
    ]
    start = time.monotonic()
    verdicts = judge.judge(pairs)
    seconds = time.monotonic() - start
    assert verdicts == list(PROGRAMS) * 4
    assert judge.runs == 40
    print(f"\ncode judge: {len(pairs)} programs, {judge.runs} sandboxed runs in {seconds:.1f} s")
    assert judge.judge(pairs[:5]) == list(PROGRAMS) and judge.runs == 40  # cached
    assert judge.cache_hits == 5
    records = judge.judge_records([(TESTS, PROGRAMS["passes_some"]), ("not json", "print(1)")])
    assert records[0].reply == "1/2 tests passed; test 2: wrong output"
    assert records[1].error.startswith("unscored: the tests cannot be read: Expecting value")


def test_assert_style_tests():
    judge = CodeJudge(workers=2)
    tests = json.dumps({"tests": [{"assert": "assert f(2) == 4"}, {"assert": "assert f(0) == 0"}]})
    got = judge.judge([(tests, "def f(x):\n    return x * x"), (tests, "def f(x):\n    return 4")])
    assert got == ["passes_all", "passes_some"]


def test_the_code_ladder_admits_programs_longer_than_an_answer():
    """Programs are not sent through a chat template: the code ladder's guard takes programs up
    to 32K characters (answers stop at 4,096), and still refuses longer ones."""
    from rewardkit.verifiers.code import CODE

    program = "x = 1\n" * 1000  # 6,000 characters
    assert CODE.guard.check(program) is None
    assert CODE.guard.check("x" * 32769) == "answer over 32768 characters"


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="uids are dropped to only as root")


@ROOT_ONLY
def test_two_sandboxes_never_share_a_uid_nor_kill_each_others_programs():
    """Each sandbox once started its slots at the same uid: when a short run in one ended, its
    clean-up killed everything under that uid - a run of the other sandbox included."""
    import threading

    a, b = Sandbox(limits=LIMITS, slots=1), Sandbox(limits=LIMITS, slots=1)
    slow = "import os, time\nprint(os.getuid(), flush=True)\ntime.sleep(1.0)\nprint('done')"
    out = {}
    started = threading.Thread(target=lambda: out.setdefault("slow", a.run(slow)))
    started.start()
    deadline = time.monotonic() + 30  # guards a run that never starts
    while not _running_as_sandbox_uid() and time.monotonic() < deadline:
        time.sleep(0.01)  # polling /proc: the slow run is under way
    quick = b.run("import os; print(os.getuid())")
    started.join(30)
    slow_uid, done = out["slow"].stdout.split()
    assert (out["slow"].status, done) == ("ok", "done")  # not killed by the quick run's end
    assert quick.status == "ok" and int(quick.stdout) != int(slow_uid)


def _running_as_sandbox_uid() -> bool:
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if 61000 <= os.stat(f"/proc/{name}").st_uid < 61000 + 4096:
                return True
        except OSError:
            continue
    return False


@ROOT_ONLY
def test_a_uid_held_by_another_process_is_not_taken():
    import subprocess
    import sys

    from rewardkit.verifiers.sandbox import _claimed_uid

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom rewardkit.verifiers.sandbox import _claimed_uid\n"
            "with _claimed_uid(70000, 2) as uid:\n"
            "    print(uid, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held = int(holder.stdout.readline())
        with _claimed_uid(70000, 2) as mine:
            assert {held, mine} == {70000, 70001}
            full = pytest.raises(SandboxUnavailable, match="all 2 sandbox uids from 70000 on")
            with full, _claimed_uid(70000, 2):
                pass
    finally:
        holder.communicate("", timeout=30)
    with _claimed_uid(70000, 2) as again, _claimed_uid(70000, 2) as other:  # the holder's gone
        assert {again, other} == {70000, 70001}
