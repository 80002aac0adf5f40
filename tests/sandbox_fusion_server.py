"""A stand-in for a SandboxFusion service on 127.0.0.1, for the code judge's remote backend.

It answers ``POST /run_code`` as SandboxFusion's API describes (``status`` Success, Failed or
SandboxError; ``run_result`` with ``status``, ``return_code``, ``stdout``, ``stderr``) by running
the code in rewardkit's own bubblewrap sandbox, under its own time limit (``timeout``). It is
not the real service. Faults on demand
(``faults``, one per request): "500", "429", "404", "drop" (closes the connection), "slow"
(sleeps past the client's timeout), "sandbox-error", "garbage" (not JSON), "list" (a JSON
list), "huge" (a body over the client's limit), "no-run" (Success without a run_result),
"contradiction" (Success with return code 1), "unknown-status", "bad-code" (a string return
code), "int-stdout".
"""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler

from rewardkit.verifiers.sandbox import Limits, Sandbox

from .judge_server import LoopbackServer


class FusionServer(LoopbackServer):
    def __init__(self, *, timeout: float = 2.0, slow: float = 3.0, huge: int = 64 << 20):
        super().__init__(Handler)
        self.slow, self.huge = slow, huge
        # One sandbox for every request (as root its slots are distinct uids, which runs at once
        # must not share): its own time limit, as the real service applies its own limits.
        self.sandbox = Sandbox(limits=Limits(timeout=timeout, cpu=int(timeout)), slots=8)
        self.in_flight = self.peak = 0  # requests being answered, and the most at once

    @property
    def url(self) -> str:
        return self.root


def answer_for(sandbox: Sandbox, request: dict) -> dict:
    """SandboxFusion's answer to a ``run_code`` request, from a run in ``sandbox``."""
    run = sandbox.run(request["code"], request.get("stdin") or "")
    result = {
        "status": "TimeLimitExceeded" if run.status == "timeout" else "Finished",
        "execution_time": run.seconds,
        "return_code": None if run.status == "timeout" else run.returncode,
        "stdout": run.stdout,
        "stderr": run.stderr,
    }
    status = "Success" if run.status == "ok" else "Failed"
    return {"status": status, "message": "", "compile_result": None, "run_result": result}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        server: FusionServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append(body)
        if self.path != "/run_code":
            return self.send(404, b'{"detail": "Not Found"}')
        fault = server.next_fault()
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault in ("500", "429", "404"):
            return self.send(int(fault), b'{"detail": "injected"}')
        if fault == "slow":
            time.sleep(server.slow)
        if fault == "garbage":
            return self.send(200, b"<html>502 Bad Gateway</html>")
        if fault == "huge":
            return self.send(200, b'{"status": "Success", "message": "' + b"x" * server.huge)
        if fault == "sandbox-error":
            payload: object = {"status": "SandboxError", "message": "no executor free"}
        else:
            with server.lock:
                server.in_flight += 1
                server.peak = max(server.peak, server.in_flight)
            try:
                payload = answer_for(server.sandbox, body)
            finally:
                with server.lock:
                    server.in_flight -= 1
        payload = _spoil(payload, fault)
        self.send(200, json.dumps(payload).encode())

    def send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _spoil(payload, fault: str | None):
    if fault == "list":
        return [payload]
    if fault == "no-run":
        return {"status": "Success", "message": ""}
    run = payload.get("run_result") if isinstance(payload, dict) else None
    if fault == "contradiction" and run:
        payload["status"], run["return_code"] = "Success", 1
    elif fault == "unknown-status":
        payload["status"] = "Accepted"
    elif fault == "bad-code" and run:
        run["return_code"] = "0"
    elif fault == "int-stdout" and run:
        run["stdout"] = 42
    return payload
