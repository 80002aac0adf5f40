"""``rewardkit serve``: rewards over HTTP (aiohttp, from the ``openai`` extra).

Endpoints:

- ``POST /`` and ``POST /get_reward`` - OpenRLHF's remote reward protocol
  (``--reward.remote_url http://host:port``): ``{"query": [...], "prompts": [...],
  "labels": [...]}`` -> ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``. OpenRLHF
  sends one completion per request; a group-relative rule assembles each group across requests
  (prompt and label as the key, ``group_size`` members, the timeout fallback and late-member
  rules of :mod:`rewardkit.groups`) - in this process, or with ``groups="redis://..."`` in Redis,
  shared by several replicas (:mod:`rewardkit.redis_groups`).
- ``POST /v1/judge`` - ``{"pairs": [{"label": ..., "prediction": ...}, ...]}`` ->
  ``{"verdicts": [...], "errors": [...]}`` (errors: why a pair has no verdict).
- ``POST /v1/reward`` - ``{"completions": [...], "labels": [...], "group_size": G}`` (whole
  groups, consecutive) -> ``{"rewards": [...], "verdicts": [...]}``.
- ``GET /health`` and ``GET /metrics`` (Prometheus text: requests by path and status, a latency
  histogram, judge calls, cache hits, failures by cause, groups open, completed and partial).

It binds 127.0.0.1 unless told otherwise; with ``token`` every request but ``/health`` needs
``Authorization: Bearer <token>`` (compared in constant time; otherwise 401 and nothing judged).
Bodies over ``max_body`` bytes get 413; bad JSON or shapes get 400 naming the field; a judge that
cannot work gets 503 with its reason. SIGTERM stops accepting and finishes requests in flight.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections import defaultdict
from typing import Any

import numpy as np

from .adapters.openrlhf import _response, openrlhf_reply
from .groups import AsyncGroups, GroupBuffer
from .judges.llm import JudgeError
from .pipeline import LadderReward
from .rules import to_list

__all__ = ["RewardServer", "serve"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class BadRequest(ValueError):
    """A request whose body is not what the endpoint reads (400, naming the field)."""


def _strings(body: dict, key: str, n: int | None = None) -> list[str]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise BadRequest(f"field {key!r} must be a list of strings")
    if n is not None and len(value) != n:
        raise BadRequest(f"field {key!r} has {len(value)} items, expected {n}")
    return value


class RewardServer:
    """The application: one :class:`~rewardkit.LadderReward`, one group buffer."""

    def __init__(
        self,
        reward: LadderReward,
        *,
        group_size: int = 1,
        timeout: float = 120.0,
        unscored: float = 0.0,
        token: str | None = None,
        max_body: int = 1 << 20,
        groups: str | None = None,
    ) -> None:
        self.reward, self.group_size, self.unscored = reward, group_size, unscored
        self.token, self.max_body = token, max_body
        self.buffer = GroupBuffer(group_size, self._score, linger=10 * timeout)
        self.groups: Any = AsyncGroups(self.buffer, timeout)
        if groups is not None:  # shared by every replica of the run
            from .redis_groups import RedisGroups

            self.groups = RedisGroups(groups, group_size, self._score, timeout)
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency = [0] * (len(_BUCKETS) + 1)
        self.latency_sum = 0.0

    def _score(self, codes: list[int], found: list[bool]) -> np.ndarray:
        return self.reward.rewards_of(codes, found, len(codes))

    # -- the app ---------------------------------------------------------------------------------

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application(client_max_size=self.max_body, middlewares=[self._middleware])
        app.router.add_post("/", self.openrlhf)
        app.router.add_post("/get_reward", self.openrlhf)
        app.router.add_post("/v1/judge", self.judge)
        app.router.add_post("/v1/reward", self.rewards)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics)
        return app

    @property
    def _middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def middleware(request: Any, handler: Any) -> Any:
            start = time.perf_counter()
            status = 500
            try:
                if self.token is not None and request.path != "/health":
                    given = request.headers.get("Authorization", "")
                    if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                        status = 401
                        return web.json_response({"error": "unauthorized"}, status=401)
                try:
                    response = await handler(request)
                except BadRequest as e:
                    response = web.json_response({"error": str(e)}, status=400)
                except web.HTTPRequestEntityTooLarge:
                    response = web.json_response(
                        {"error": f"body over {self.max_body} bytes"}, status=413
                    )
                except JudgeError as e:
                    response = web.json_response({"error": f"judge: {e}"}, status=503)
                status = response.status
                return response
            finally:
                self._observe(request.path, status, time.perf_counter() - start)

        return middleware

    def _observe(self, path: str, status: int, seconds: float) -> None:
        self.requests[path, status] += 1
        self.latency_sum += seconds
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self.latency[i] += 1
                break
        else:
            self.latency[-1] += 1

    async def _body(self, request: Any) -> dict:
        try:
            body = await request.json()
        except json.JSONDecodeError as e:
            raise BadRequest(f"body is not valid JSON ({e.msg})") from None
        except UnicodeDecodeError:
            raise BadRequest("body is not UTF-8") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    # -- endpoints -------------------------------------------------------------------------------

    async def openrlhf(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        queries = _strings(body, "query")
        prompts = _strings(body, "prompts", len(queries))
        labels = _strings(body, "labels", len(queries))
        responses = [_response(q, p) for q, p in zip(queries, prompts)]
        judged = await self.reward.ajudge_completions(responses, labels)
        codes, found = judged.codes.tolist(), judged.found.tolist()
        members = None
        if self.group_size > 1 and self.reward.rule.group_relative:
            members = await asyncio.gather(
                *(
                    self.groups.reward((p, y), c, f)
                    for p, y, c, f in zip(prompts, labels, codes, found)
                )
            )
        return web.json_response(openrlhf_reply(self.reward, judged, members, self.unscored))

    async def judge(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        pairs = body.get("pairs")
        if not isinstance(pairs, list):
            raise BadRequest("field 'pairs' must be a list of {label, prediction} objects")
        items = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, dict):
                raise BadRequest(f"pairs[{i}] must be an object")
            label, prediction = pair.get("label"), pair.get("prediction")
            if not isinstance(label, str):
                raise BadRequest(f"pairs[{i}].label must be a string")
            if prediction is not None and not isinstance(prediction, str):
                raise BadRequest(f"pairs[{i}].prediction must be a string or null")
            items.append((label, prediction))
        records = await self.reward.judge.ajudge_records(items)
        return web.json_response(
            {"verdicts": [r.verdict for r in records], "errors": [r.error for r in records]}
        )

    async def rewards(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        completions = _strings(body, "completions")
        labels = _strings(body, "labels", len(completions))
        size = body.get("group_size", 1)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise BadRequest("field 'group_size' must be a positive integer")
        if len(completions) % size:
            raise BadRequest(f"{len(completions)} completions do not split into groups of {size}")
        judged = await self.reward.ajudge_completions(completions, labels)
        return web.json_response(
            {"rewards": to_list(self.reward.rewards(judged, size)), "verdicts": judged.outcomes}
        )

    async def health(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"status": "ok", "reward": repr(self.reward)})

    async def metrics(self, request: Any) -> Any:
        from aiohttp import web

        lines = ["# TYPE rewardkit_requests_total counter"]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'rewardkit_requests_total{{path="{path}",status="{status}"}} {n}')
        lines.append("# TYPE rewardkit_request_seconds histogram")
        total = 0
        for bound, n in zip((*_BUCKETS, float("inf")), self.latency):
            total += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f'rewardkit_request_seconds_bucket{{le="{le}"}} {total}')
        lines += [
            f"rewardkit_request_seconds_sum {self.latency_sum:.6f}",
            f"rewardkit_request_seconds_count {total}",
        ]
        stats = self.reward.judge.stats
        for key in ("calls", "cache_hits", "retries", "failures"):
            if hasattr(stats, key):
                lines.append(f"# TYPE rewardkit_judge_{key}_total counter")
                lines.append(f"rewardkit_judge_{key}_total {getattr(stats, key)}")
        servers = getattr(getattr(self.reward.judge, "transport", None), "endpoint_stats", {})
        now = time.monotonic()
        for url, e in sorted(servers.items()):
            lines += [
                f'rewardkit_judge_server_calls_total{{server="{url}"}} {e.calls}',
                f'rewardkit_judge_server_failures_total{{server="{url}"}} {e.failures}',
                f'rewardkit_judge_server_in_flight{{server="{url}"}} {e.in_flight}',
                f'rewardkit_judge_server_up{{server="{url}"}} {int(e.down_until <= now)}',
            ]
        for cause, n in sorted(getattr(stats, "errors", {}).items()):
            lines.append(f'rewardkit_judge_failures_by_cause_total{{cause="{cause}"}} {n}')
        groups = self.groups.stats() if hasattr(self.groups, "stats") else self.buffer.stats()
        lines += [
            f"rewardkit_groups_open {groups['open']}",
            f"rewardkit_groups_completed_total {groups['completed']}",
            f"rewardkit_groups_partial_total {groups['partial']}",
            f"rewardkit_groups_late_total {groups['late']}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def serve(server: RewardServer, host: str = "127.0.0.1", port: int = 8080, ready=None) -> None:
    """Run until SIGTERM or SIGINT; in-flight requests finish (aiohttp's graceful shutdown).
    ``ready(port)`` is called once the socket listens."""
    from aiohttp import web

    async def main() -> None:
        runner = web.AppRunner(server.app(), handle_signals=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, shutdown_timeout=60.0)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if ready is not None:
            ready(bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()  # stops listening, then waits for requests in flight

    asyncio.run(main())
