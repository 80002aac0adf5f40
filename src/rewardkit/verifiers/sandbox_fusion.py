"""Programs run by a remote service speaking SandboxFusion's ``run_code`` HTTP API.

:class:`FusionSandbox` has :class:`~rewardkit.verifiers.sandbox.Sandbox`'s interface
(``run(program, stdin) -> Execution``), so the code judge takes it with
``sandbox="sandbox_fusion", sandbox_url=...``. Each run is one ``POST {url}/run_code`` with
``{"code", "stdin", "language": "python", "run_timeout", "compile_timeout",
"memory_limit_MB"}``; the answer's ``status`` (``Success``, ``Failed``, ``SandboxError``) and
``run_result`` (``status``: ``Finished``, ``TimeLimitExceeded``, ``Error``; ``return_code``,
``stdout``, ``stderr``) give the run's outcome.

The program is sent inside a small wrapper that compiles it first and exits 86 when it does
not compile, as the local launcher does, so a syntax error is told from a crash by the
service's own interpreter.

Around every request: at most ``slots`` at once, a timeout (the run's plus ``slack``), retries
with exponential backoff on connection errors, timeouts, 429, 5xx and ``SandboxError`` -
each run is counted once however many requests it took, and only the last answer is read.
The answer is untrusted: a body over ``max_response_bytes``, not JSON, missing or mistyped
fields, unknown statuses or a status that contradicts the return code make the run
**unavailable** - the code judge leaves the pair unscored with that reason, never a rung.
401, 403, 404 and other 4xx answers are configuration errors:
:class:`~rewardkit.verifiers.sandbox.SandboxUnavailable`, as is a service that cannot run
``print('ok')`` when the sandbox is made.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from ..urls import redact_url
from .sandbox import SYNTAX_ERROR, Execution, Limits, SandboxUnavailable

__all__ = ["FusionSandbox", "UNAVAILABLE", "wrap"]

log = logging.getLogger(__name__)

#: The status of a run the service could not give a trustworthy answer for.
UNAVAILABLE = "unavailable"

_WRAPPER = """import sys
source = {source!r}
try:
    code = compile(source, "program.py", "exec")
except (SyntaxError, ValueError) as e:
    print(f"{{type(e).__name__}}: {{e}}", file=sys.stderr)
    sys.exit({exit})
sys.argv = ["program.py"]
exec(code, {{"__name__": "__main__", "__builtins__": __builtins__}})
"""


def wrap(program: str) -> str:
    """The code sent for ``program``: compile it, exit 86 if it does not compile, run it.

    >>> exec(compile(wrap("print(6 * 7)"), "w", "exec"), {})
    42
    """
    return _WRAPPER.format(source=program, exit=SYNTAX_ERROR)


class _Retry(Exception):
    """A failure worth another request."""


class _Bad(Exception):
    """An answer that cannot be trusted (not retried)."""


class FusionSandbox:
    """Runs Python programs through SandboxFusion's ``run_code`` at ``url`` (the service's base
    URL, or the ``/run_code`` URL itself) under ``limits`` (timeout and memory are sent; the
    service applies its own other limits). Thread-safe."""

    kind = "sandbox_fusion"

    def __init__(
        self,
        url: str,
        *,
        limits: Limits | None = None,
        slots: int = 4,
        retries: int = 2,
        backoff: float = 0.5,
        slack: float = 10.0,
        max_response_bytes: int | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"sandbox_url must be an http(s) URL, got {redact_url(url)!r}")
        if slots < 1 or retries < 0 or backoff < 0 or slack < 0:
            raise ValueError("slots >= 1, retries >= 0, backoff >= 0 and slack >= 0 are required")
        path = parts.path.rstrip("/")
        self.path = path if path.endswith("/run_code") else f"{path}/run_code"
        self.url, self.parts = url, parts
        self.limits = limits or Limits()
        self.retries, self.backoff, self.slack = retries, backoff, slack
        self.max_response_bytes = max_response_bytes or 2 * self.limits.file_size + (1 << 20)
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        #: Runs asked for, requests sent (retries included), retries, runs left unavailable.
        self.counts = {"runs": 0, "requests": 0, "retries": 0, "unavailable": 0}
        probe = self.run("print('ok')")
        if probe.status != "ok" or probe.stdout != "ok\n":
            raise SandboxUnavailable(
                f"the SandboxFusion service at {redact_url(url)} cannot run print('ok'): "
                f"{probe.status}: {probe.stderr[-300:]}"
            )
        self.counts = dict.fromkeys(self.counts, 0)  # the probe is not a run of the judge's

    def __repr__(self) -> str:
        return f"FusionSandbox({redact_url(self.url)!r}, limits={self.limits})"

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def run(self, program: str, stdin: str = "") -> Execution:
        """Run ``program`` with ``stdin`` on the service; waits for a free slot."""
        self._count("runs")
        body = json.dumps(
            {
                "code": wrap(program),
                "stdin": stdin,
                "language": "python",
                "run_timeout": self.limits.timeout,
                "compile_timeout": self.limits.timeout,
                "memory_limit_MB": self.limits.memory >> 20,
            }
        ).encode()
        start, why = time.monotonic(), ""
        with self._slots:
            for attempt in range(self.retries + 1):
                if attempt:
                    self._count("retries")
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    return read_answer(self._post(body), time.monotonic() - start)
                except _Retry as e:
                    why = str(e)
                except _Bad as e:
                    why = str(e)
                    break
        self._count("unavailable")
        log.warning("sandbox service %s failed a run: %s", redact_url(self.url), why)
        return Execution(UNAVAILABLE, -1, "", why, time.monotonic() - start)

    def _post(self, body: bytes) -> Any:
        self._count("requests")
        parts = self.parts
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        host = parts.hostname or ""  # checked when made
        conn = kind(host, parts.port, timeout=self.limits.timeout + self.slack)
        try:
            conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read(self.max_response_bytes + 1)
        except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out
            raise _Retry(f"no answer: {type(e).__name__}: {e}") from None
        finally:
            conn.close()
        status = response.status
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}")
        if status != 200:
            raise SandboxUnavailable(
                f"the SandboxFusion service at {redact_url(self.url)} answered HTTP {status} "
                f"to {self.path}: {data[:200].decode('utf-8', 'replace')}"
            )
        if len(data) > self.max_response_bytes:
            raise _Bad(f"an answer over {self.max_response_bytes} bytes")
        try:
            return json.loads(data)
        except ValueError:
            raise _Bad(f"an answer that is not JSON: {data[:80]!r}") from None


_RUN_STATUSES = ("Finished", "TimeLimitExceeded", "Error")


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Bad(f"{what} is not a string: {type(value).__name__}")
    return value


def read_answer(answer: Any, seconds: float) -> Execution:
    """The :class:`Execution` a ``run_code`` answer states; ``_Retry`` for ``SandboxError``,
    ``_Bad`` for an answer that cannot be trusted."""
    if not isinstance(answer, dict):
        raise _Bad(f"an answer that is not an object: {type(answer).__name__}")
    status = answer.get("status")
    if status == "SandboxError":
        message = _text(answer.get("message"), "message")[:200]
        raise _Retry(f"SandboxError: {message}")
    if status not in ("Success", "Failed"):
        raise _Bad(f"an unknown status {str(status)[:40]!r}")
    run = answer.get("run_result")
    if not isinstance(run, dict):
        raise _Bad(f"status {status} without a run_result")
    outcome, code = run.get("status"), run.get("return_code")
    if outcome not in _RUN_STATUSES:
        raise _Bad(f"an unknown run_result status {str(outcome)[:40]!r}")
    if outcome == "Error":
        raise _Bad(f"run_result status Error with status {status}")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise _Bad(f"a return_code that is not an integer: {str(code)[:40]!r}")
    stdout, stderr = _text(run.get("stdout"), "stdout"), _text(run.get("stderr"), "stderr")
    if outcome == "TimeLimitExceeded":
        if status != "Failed":
            raise _Bad("a run over its time limit with status Success")
        return Execution("timeout", -1 if code is None else code, stdout, stderr, seconds)
    if code is None:
        raise _Bad("a finished run without a return_code")
    if (code == 0) != (status == "Success"):
        raise _Bad(f"status {status} with return_code {code}")
    kind = "ok" if code == 0 else "syntax_error" if code == SYNTAX_ERROR else "error"
    return Execution(kind, code, stdout, stderr, seconds)
