"""Run a verifier function in worker processes with a wall-clock kill.

A check that hangs (a pathological expression, a runaway simplification) must not freeze
training, and a timeout built on ``signal.alarm`` only works in a process's main thread - not
in a trainer's reward thread, an asyncio executor or a Ray worker's actor thread. A
:class:`WorkerPool` keeps ``workers`` plain subprocesses (``python -m
rewardkit.verifiers.workers module:function``) and sends them one call at a time over pipes; a
call that has not answered ``timeout`` seconds after it was sent is killed with its worker
(SIGKILL) and comes back as an :class:`Outcome` with the reason, never as a value. Workers are
subprocesses, not ``multiprocessing`` children, so a pool starts from any thread and from a
daemonic process (Ray workers, ``multiprocessing`` pool members) alike.

>>> pool = WorkerPool("operator:add", workers=1, timeout=10)
>>> [o.value for o in pool.map([(1, 2), ("a", "b")])]
[3, 'ab']
>>> pool.map([(1, "b")])[0].error
"TypeError: unsupported operand type(s) for +: 'int' and 'str'"
>>> pool.close()
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["Outcome", "WorkerPool"]

_HEADER = struct.Struct("!I")


@dataclass(frozen=True)
class Outcome:
    """One call's result: ``value``, or ``None`` and the ``error`` that left it without one
    (the function raised, the call timed out, the worker died)."""

    value: Any = None
    error: str | None = None


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """One framed message; ``EOFError`` when the other side has gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("pipe closed")
    size = _HEADER.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("pipe closed mid-message")
    return pickle.loads(data)


class _Worker:
    """One subprocess; ``ready`` once it has imported its target."""

    def __init__(self, target: str, warm_up: tuple | None) -> None:
        env = dict(os.environ)
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rewardkit.verifiers.workers", target, repr(warm_up)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C to the trainer is the trainer's, not ours
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout

    def fileno(self) -> int:
        return self.stdout.fileno()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stdin.close()
        self.stdout.close()


class WorkerPool:
    """``workers`` subprocesses running ``target`` (``"module:function"``), each call killed
    after ``timeout`` seconds of wall-clock time. Thread-safe (one batch at a time) and
    fork-aware (a pool used in a forked child starts its own workers). ``warm_up``: arguments
    of one call each worker makes before it says it is ready (lazy imports, parser tables),
    so that no timed call pays for them."""

    def __init__(
        self,
        target: str,
        *,
        workers: int = 2,
        timeout: float = 5.0,
        start_timeout: float = 120.0,
        warm_up: tuple | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.target, self.size, self.timeout = target, workers, float(timeout)
        self.start_timeout, self.warm_up = start_timeout, warm_up
        self._idle: list[_Worker] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        #: Calls killed at the timeout and workers that died, since the pool was made.
        self.timeouts = self.deaths = 0

    def __repr__(self) -> str:
        return f"WorkerPool({self.target!r}, workers={self.size}, timeout={self.timeout:g})"

    def _start(self, count: int) -> list[_Worker]:
        """``count`` new workers, each ready (its target imported) - or a RuntimeError."""
        new = [_Worker(self.target, self.warm_up) for _ in range(count)]
        deadline = time.monotonic() + self.start_timeout
        for w in new:
            ready, _, _ = select.select([w], [], [], max(0.0, deadline - time.monotonic()))
            try:
                if not ready:
                    raise EOFError(f"not ready within {self.start_timeout:g} s")
                status = _receive(w.stdout)
            except EOFError as e:
                status = f"worker failed to start: {e} (exit code {w.proc.poll()})"
            if status != "ready":
                for x in new:
                    x.kill()
                raise RuntimeError(f"{self.target}: {status}")
        return new

    def map(self, calls: Sequence[tuple]) -> list[Outcome]:
        """One :class:`Outcome` per argument tuple, in order."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's workers are not ours
                self._idle, self._pid = [], os.getpid()
            if len(self._idle) < min(self.size, len(calls)):
                self._idle += self._start(min(self.size, len(calls)) - len(self._idle))
            return self._run(list(calls))

    def _run(self, calls: list[tuple]) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(calls)
        pending = deque(range(len(calls)))
        busy: dict[_Worker, tuple[int, float]] = {}
        while pending or busy:
            while pending and self._idle:
                worker, i = self._idle.pop(), pending.popleft()
                try:
                    _send(worker.stdin, calls[i])
                except (BrokenPipeError, OSError):
                    results[i] = self._lost(worker, "worker died before the call")
                    continue
                busy[worker] = (i, time.monotonic() + self.timeout)
            if not busy:
                continue
            wait = max(0.0, min(d for _, d in busy.values()) - time.monotonic())
            ready, _, _ = select.select(list(busy), [], [], wait)
            for worker in ready:
                i, _ = busy.pop(worker)
                try:
                    kind, value = _receive(worker.stdout)
                except EOFError:
                    results[i] = self._lost(worker, f"worker died (exit code {worker.proc.wait()})")
                    continue
                results[i] = Outcome(value) if kind == "ok" else Outcome(error=value)
                self._idle.append(worker)
            now = time.monotonic()
            for worker, (i, deadline) in list(busy.items()):
                if deadline <= now and worker not in ready:
                    del busy[worker]
                    self.timeouts += 1
                    worker.kill()
                    results[i] = Outcome(error=f"timed out after {self.timeout:g} s (killed)")
                    self._idle += self._start(1)
        return [r if r is not None else Outcome(error="not run") for r in results]

    def _lost(self, worker: _Worker, why: str) -> Outcome:
        self.deaths += 1
        worker.kill()
        self._idle += self._start(1)
        return Outcome(error=why)

    def close(self) -> None:
        """Stop the workers (they also exit on their own when this process goes)."""
        with self._lock:
            if self._pid == os.getpid():
                for worker in self._idle:
                    worker.kill()
            self._idle = []

    def __del__(self) -> None:
        # Not contextlib.suppress: at interpreter shutdown module globals may already be None.
        try:  # noqa: SIM105
            self.close()
        except Exception:  # noqa: S110 - nothing is left to report to
            pass


def _serve(target: str, warm_up: str) -> None:
    """The worker's loop: import ``target``, make the warm-up call, say ready, answer calls
    until stdin closes."""
    import ast
    import importlib
    import logging

    logging.disable(logging.WARNING)  # verifier libraries warn per call; the parent reports
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print() inside the function must not corrupt the protocol
    try:
        module, _, name = target.partition(":")
        function = getattr(importlib.import_module(module), name)
        args = ast.literal_eval(warm_up)
        if args is not None:
            function(*args)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
        _send(out, f"cannot import {target}: {type(e).__name__}: {e}")
        return
    _send(out, "ready")
    stdin = sys.stdin.buffer
    while True:
        try:
            args = _receive(stdin)
        except EOFError:
            return
        try:
            reply = ("ok", function(*args))
        except Exception as e:  # noqa: BLE001 - the call's failure is the call's outcome
            reply = ("error", f"{type(e).__name__}: {e}")
        _send(out, reply)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "None")
