"""Run untrusted programs in a bubblewrap sandbox.

Each run is one ``bwrap`` process (Debian's ``bubblewrap``, ``/usr/bin/bwrap``): no network
(its own empty network namespace), its own PID, IPC and UTS namespaces, a read-only view of
``/usr`` and the interpreter only (no ``/home``, ``/root``, ``/work``, no ``/etc`` but the
loader cache), a private size-limited ``/tmp`` as working directory, and a small launcher that
sets memory, CPU-time, process, file-size and open-file limits and - when rewardkit runs as
root - drops to an unprivileged uid before the program starts. That uid is the run's alone on
this machine (no other run, :class:`Sandbox` or process holds it meanwhile: a lock file per uid),
so what is left running under it can be killed after the run without touching anyone else's.
A wall-clock timeout kills the whole sandbox. Output goes to files capped by the file-size
limit.

Without ``bwrap`` a :class:`Sandbox` refuses with :class:`SandboxUnavailable`, unless the user
opts out explicitly with ``kind="none"`` (limits only, no isolation: trusted code only).

>>> box = Sandbox()
>>> run = box.run("print(input()[::-1])", stdin="abc")
>>> run.status, run.stdout
('ok', 'cba\\n')
>>> box.run("import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)").status
'error'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import RewardkitError

__all__ = ["Execution", "Limits", "Sandbox", "SandboxUnavailable", "SYNTAX_ERROR"]

#: The launcher's exit status for a program that does not compile.
SYNTAX_ERROR = 86
_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
_FIRST_UID = 61000  # unprivileged uids a root sandbox runs as, one per run at a time
_UIDS = 4096


class SandboxUnavailable(RewardkitError, RuntimeError):
    """The sandbox cannot run here (``bwrap`` missing or refused by the kernel)."""


@dataclass(frozen=True)
class Limits:
    """Per-run limits: wall-clock ``timeout`` and CPU seconds, address space (``memory``),
    processes (threads count), size of any file written (stdout included), open files,
    and the size of the private ``/tmp``."""

    timeout: float = 5.0
    cpu: int = 5
    memory: int = 512 << 20
    processes: int = 32
    file_size: int = 8 << 20
    files: int = 64
    tmp_size: int = 32 << 20


@dataclass(frozen=True)
class Execution:
    """One run: ``status`` is ``ok`` (exit 0), ``error`` (non-zero exit or a signal),
    ``timeout`` (killed at the wall clock) or ``syntax_error``."""

    status: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _system_binds(python: str) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        path = f"/{top}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    real = os.path.realpath(python)
    if not real.startswith("/usr/"):  # an interpreter elsewhere: bind its installation only
        prefix = os.path.dirname(os.path.dirname(real))
        args += ["--ro-bind", prefix, prefix]
    return args


class Sandbox:
    """Runs Python programs under :class:`Limits`; ``kind`` is ``"bwrap"`` (default) or
    ``"none"`` (no isolation, an explicit opt-out). ``slots`` bounds concurrent runs (as root
    each run has a uid of its own on this machine). Thread-safe."""

    def __init__(
        self,
        kind: str = "bwrap",
        *,
        limits: Limits | None = None,
        python: str | None = None,
        bwrap: str | None = None,
        slots: int = 4,
    ) -> None:
        if kind not in ("bwrap", "none"):
            raise ValueError(f"sandbox must be 'bwrap' or 'none', got {kind!r}")
        self.kind, self.limits = kind, limits or Limits()
        self.python = python or ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "")
        if not self.python:
            raise SandboxUnavailable("no /usr/bin/python3 to run programs with: pass python=")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self._slots = threading.BoundedSemaphore(slots)
        self.bwrap = None
        if kind == "bwrap":
            self.bwrap = bwrap or shutil.which("bwrap") or "/usr/bin/bwrap"
            if not os.access(self.bwrap, os.X_OK):
                raise SandboxUnavailable(
                    "running untrusted code needs bubblewrap (/usr/bin/bwrap), which is missing: "
                    "apt-get install bubblewrap, or pass sandbox='none' to run it unisolated"
                )
            probe = self.run("print('ok')")
            if probe.stdout != "ok\n":
                raise SandboxUnavailable(
                    f"bwrap cannot start a sandbox here: {probe.stderr[-500:]}"
                )

    def __repr__(self) -> str:
        return f"Sandbox({self.kind!r}, limits={self.limits})"

    def _command(self, run_dir: str, uid: int | None) -> list[str]:
        limits = self.limits
        as_root = uid is not None
        launch = {
            "cpu": limits.cpu,
            "memory": limits.memory,
            "processes": limits.processes,
            "file_size": limits.file_size,
            "files": limits.files,
            "uid": uid,
        }
        if self.kind == "none":
            return [self.python, "-I", "-S", _LAUNCHER, json.dumps(launch), "program.py"]
        assert self.bwrap is not None
        namespaces = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        if not as_root:
            namespaces.append("--unshare-user")
        return [
            self.bwrap,
            *namespaces,
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            *_system_binds(self.python),
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(limits.tmp_size), "--tmpfs", "/tmp",
            "--ro-bind", run_dir, "/sandbox",
            "--ro-bind", _LAUNCHER, "/sandbox-launcher.py",
            "--chdir", "/tmp",
            "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "HOME", "/tmp",
            "--",
            self.python, "-I", "-S", "/sandbox-launcher.py", json.dumps(launch),
            "/sandbox/program.py",
        ]  # fmt: skip

    def run(self, program: str, stdin: str = "") -> Execution:
        """Run ``program`` (Python source) with ``stdin``; waits for a free slot."""
        with (
            self._slots,
            tempfile.TemporaryDirectory(prefix="rewardkit-sandbox-") as run_dir,
            _claimed_uid() if os.geteuid() == 0 else contextlib.nullcontext() as uid,
        ):
            return self._run(program, stdin, run_dir, uid)

    def _run(self, program: str, stdin: str, run_dir: str, uid: int | None) -> Execution:
        paths = {name: os.path.join(run_dir, name) for name in ("program.py", "in", "out", "err")}
        with open(paths["program.py"], "w", encoding="utf-8") as f:
            f.write(program)
        with open(paths["in"], "w", encoding="utf-8") as f:
            f.write(stdin)
        os.chmod(run_dir, 0o755)
        for name in ("program.py", "in"):
            os.chmod(paths[name], 0o644)
        work = tempfile.mkdtemp(dir=run_dir) if self.kind == "none" else None
        if work:
            shutil.copy(paths["program.py"], work)
        start = time.monotonic()
        with (
            open(paths["in"], "rb") as i,
            open(paths["out"], "wb") as o,
            open(paths["err"], "wb") as e,
        ):
            proc = subprocess.Popen(
                self._command(run_dir, uid), stdin=i, stdout=o, stderr=e, cwd=work,
                start_new_session=True, env={"PATH": "/usr/bin:/bin"} if work else None,
            )  # fmt: skip
            try:
                code = proc.wait(self.limits.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap dies; --die-with-parent does the rest
                code, timed_out = proc.wait(), True
        seconds = time.monotonic() - start
        if uid is not None:
            _clear_uid(uid)
        out, err = (_read(paths[name], self.limits.file_size) for name in ("out", "err"))
        status = "timeout" if timed_out else "ok" if code == 0 else "error"
        if code == SYNTAX_ERROR and not timed_out:
            status = "syntax_error"
        return Execution(status, code, out, err, seconds)


@contextlib.contextmanager
def _claimed_uid(first: int = _FIRST_UID, count: int = _UIDS) -> Iterator[int]:
    """A uid in ``first .. first + count - 1`` that no other run on this machine holds while
    this one runs: an exclusive ``flock`` on its file in a folder only root writes, released
    when the run ends or its process dies. Processes start looking at different uids."""
    folder = os.path.join(tempfile.gettempdir(), "rewardkit-sandbox-uids")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if info.st_uid != os.geteuid() or info.st_mode & 0o022 or not stat.S_ISDIR(info.st_mode):
        raise SandboxUnavailable(
            f"{folder} must be a folder of this user's that no one else can write"
        )
    start = os.getpid() % count
    for i in range(count):
        uid = first + (start + i) % count
        fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another run
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            os.close(fd)  # the lock goes with it
        return
    raise SandboxUnavailable(f"all {count} sandbox uids from {first} on are in use")


def _clear_uid(uid: int, patience: float = 5.0) -> None:
    """Kill what is left running as the run's uid (the children of a fork bomb die with their
    PID namespace, but not instantly) and wait until it is gone, so the next run with this uid
    starts with its whole process allowance."""
    deadline = time.monotonic() + patience
    while True:
        left: list[int] = []
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:  # /proc/PID belongs to its euid
                    left.append(int(name))
            except OSError:
                continue
        if not left or time.monotonic() > deadline:
            return
        for pid in left:
            with contextlib.suppress(OSError):  # gone already
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _read(path: str, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", errors="replace")
