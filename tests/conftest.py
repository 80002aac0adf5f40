import os
import secrets
import tempfile
from pathlib import Path

import pytest

from . import mutmut_support

mutmut_support.install()  # under `make mutate` only: before the first import of rewardkit

ROOT = Path(__file__).resolve().parent.parent
ANIMALS = ROOT / "examples" / "data" / "animals.json"

# Nothing written into the home folder either: the caches that libraries the tests drive keep
# there go to a temp folder of this run (matplotlib's font list), and Ray, which keeps token
# authentication on for a local cluster, is given its token instead of writing ~/.ray/auth_token.
# Set here, before any test starts a process, so every process of the run inherits them.
_HOME_CACHES = tempfile.TemporaryDirectory(prefix="rewardkit-tests-")
os.environ.setdefault("MPLCONFIGDIR", str(Path(_HOME_CACHES.name, "matplotlib")))
if not os.environ.get("RAY_AUTH_TOKEN_PATH"):
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with mutmut_support.hang_guard(item.nodeid):  # under `make mutate` only
        yield


@pytest.fixture
def animals():
    from rewardkit import Taxonomy

    return Taxonomy.load(ANIMALS)


class RedisServer:
    """A real redis-server (the Debian package) on a random loopback port, in a temp folder;
    ``args`` are more redis-server options (``"--requirepass", "..."``)."""

    def __init__(self, folder, *args):
        import shutil

        self.exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(self.exe):
            pytest.fail(
                "redis-server is not installed: apt-get install redis-server (.ci/run does)"
            )
        self.folder, self.proc, self.args = folder, None, [str(a) for a in args]
        self.port, self.started = self._free_port(), False

    @staticmethod
    def _free_port() -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        """Start on this server's port. The first start takes another free port when the one
        chosen was taken in between (the OS hands ports to anyone); a restart keeps it."""
        for _ in range(5):
            if self._start():
                self.started = True
                return self
            if self.started:
                break
            self.port = self._free_port()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _start(self) -> bool:
        import shutil
        import socket
        import subprocess
        import time

        # Killed with the test process, even one killed itself (a hang guard, `make mutate`'s
        # time-out): no redis-server outlives its test.
        setpriv = shutil.which("setpriv")
        dies_with_us = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
        self.proc = subprocess.Popen(
            [
                *dies_with_us,
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30  # guards a server that never answers
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return True
            except OSError:
                time.sleep(0.05)  # polling for the server to listen, with a deadline
        self.stop()
        return False

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on, for as long as the test runs: bound by this process
    but never listening, so connecting is refused and no other process can take it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# -- nothing written into the checkout -----------------------------------------------------------


def _untracked() -> set[str] | None:
    """Files in the checkout that git neither tracks nor ignores (None outside a git clone, as
    in the copy that ``make mutate`` runs the tests in)."""
    import subprocess

    if not (ROOT / ".git").exists():
        return None

    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode:
        return None
    return {line[3:] for line in done.stdout.splitlines() if line.startswith("??")}


def pytest_sessionstart(session):
    session.config._rewardkit_untracked = _untracked()


def pytest_sessionfinish(session, exitstatus):
    """Tests write only to temp folders: a file the run left in the checkout fails the run."""
    before = getattr(session.config, "_rewardkit_untracked", None)
    after = _untracked()
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        print(f"\nthe tests wrote into the checkout: {', '.join(new[:20])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
