"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the judge tests and benchmarks.

It answers POST /v1/chat/completions like a judge model would - the verdict comes from a
taxonomy judge applied to the ground truth and prediction it reads back from the request's JSON
input - records every request body, and injects faults on demand (``faults``, one per request):
"500", "429", "401", "403", "404", "slow" (sleeps past the client's timeout), "nolabel" (a reply
with no verdict), "drop" (closes the connection), "retry-after" (429 with ``Retry-After: 1``),
"null-usage", "list-content", "number-content", "no-choices", "huge" (a 2 MB body).
``replies`` maps a prediction to the exact reply text to send for it (adversarial replies).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rewardkit import TaxonomyJudge

_CUSTOM = re.compile(r'A: ("(?:[^"\\]|\\.)*")\nTruth: (.*)\n')


def pair_of(messages: list[dict]) -> tuple[str, str]:
    """(ground truth, prediction) decoded from the prompt's JSON input (``{{input}}``, last in
    the message), or from the test prompt's ``A: {{prediction}}\nTruth: {{ground_truth}}``."""
    content = messages[-1]["content"]
    start = content.rfind('{"ground_truth"')
    if start >= 0:
        data, _ = json.JSONDecoder().raw_decode(content[start:])
        return data["ground_truth"], data["prediction"]
    prediction, truth = _CUSTOM.search(content).groups()
    return truth, json.loads(prediction)


class LoopbackServer(ThreadingHTTPServer):
    """A test server on a random loopback port, served on a thread while in a ``with`` block;
    ``faults`` queues what the next requests do wrong (``next_fault``)."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[dict] = []
        self.faults: list[str] = []
        self.lock = threading.Lock()
        # Polls for shutdown every 50 ms (not 0.5 s): each test closes its server at once.
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address):
        """A client that gave up (a time-out the test provoked) is no server error: quiet."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


class JudgeServer(LoopbackServer):
    request_queue_size = 512

    def __init__(self, judge: TaxonomyJudge, *, delay: float = 0.0, slow: float = 2.0):
        super().__init__(Handler)
        self.judge, self.delay, self.slow = judge, delay, slow
        self.headers_seen: list[dict] = []
        self.replies: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"{self.root}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs hold every reply for about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        server: JudgeServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append(body)
            server.headers_seen.append(dict(self.headers))
        fault = server.next_fault()
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault in ("500", "429", "401", "403", "404"):
            return self.reply(int(fault), {"error": {"message": "injected"}})
        if fault == "retry-after":
            return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        if fault == "slow":
            time.sleep(server.slow)
        if server.delay:
            time.sleep(server.delay)
        truth, prediction = pair_of(body["messages"])
        content = server.replies.get(prediction)
        if content is None:
            content = server.judge.verdict(truth, prediction)
        if fault == "nolabel":
            content = "I cannot decide."
        usage = {"prompt_tokens": 50, "completion_tokens": 2}
        message = {"role": "assistant", "content": content}
        payload: dict = {"choices": [{"message": message}], "usage": usage}
        if fault == "null-usage":
            payload["usage"] = {"prompt_tokens": None, "completion_tokens": None}
        elif fault == "list-content":
            message["content"] = [{"type": "text", "text": content}]
        elif fault == "number-content":
            message["content"] = 4
        elif fault == "no-choices":
            payload["choices"] = []
        elif fault == "huge":
            message["content"] = content + " " * (2 << 20)
        self.reply(200, payload)

    def reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":  # a server in its own process, for the benchmarks
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("taxonomy")
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    with JudgeServer(TaxonomyJudge(args.taxonomy), delay=args.delay) as server:
        print(server.url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
