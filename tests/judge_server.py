"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the judge tests and benchmarks.

It answers POST /v1/chat/completions like a judge model would - the verdict comes from a
taxonomy judge applied to the ground truth and prediction in the request - records every request
body, and injects faults on demand: "500", "429", "slow" (sleeps past the client's timeout),
"nolabel" (a reply with no ladder label), "drop" (closes the connection without a reply).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rewardkit import TaxonomyJudge

PAIR = re.compile(r"Ground truth: (.*)\n<prediction>(.*)</prediction>", re.DOTALL)


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, judge: TaxonomyJudge, *, delay: float = 0.0, slow: float = 2.0):
        super().__init__(("127.0.0.1", 0), Handler)
        self.judge, self.delay, self.slow = judge, delay, slow
        self.requests: list[dict] = []
        self.faults: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        server: JudgeServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append(body)
        fault = server.next_fault()
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault in ("500", "429"):
            return self.reply(int(fault), {"error": {"message": "injected"}})
        if fault == "slow":
            time.sleep(server.slow)
        if server.delay:
            time.sleep(server.delay)
        truth, prediction = PAIR.search(body["messages"][-1]["content"]).groups()
        verdict = server.judge.verdict(truth, prediction)
        content = "I cannot decide." if fault == "nolabel" else verdict
        self.reply(
            200,
            {
                "choices": [{"message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 2},
            },
        )

    def reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
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
