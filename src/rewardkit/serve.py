"""``rewardkit serve``: rewards over HTTP (aiohttp, from the ``openai`` extra).

Endpoints:

- ``POST /`` and ``POST /get_reward`` - OpenRLHF's remote reward protocol
  (``--reward.remote_url http://host:port``): ``{"query": [...], "prompts": [...],
  "labels": [...]}`` -> ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``. OpenRLHF
  sends one completion per request; a group-relative rule assembles each group across requests
  (prompt and label as the key, ``group_size`` members, the timeout fallback and late-member
  rules of :mod:`rewardkit.groups`) - in this process, or with ``groups="redis://..."`` in Redis,
  shared by several replicas (:mod:`rewardkit.redis_groups`). An optional ``"ids": [...]``
  (one distinct string per sample) is each member's identity: a retried sample sends its id
  again.
- ``POST /v1/judge`` - ``{"pairs": [{"label": ..., "prediction": ...}, ...]}`` ->
  ``{"verdicts": [...], "errors": [...]}`` (errors: why a pair has no verdict).
- ``POST /v1/reward`` - ``{"completions": [...], "labels": [...], "group_size": G}`` (whole
  groups, consecutive; the server's group size when ``group_size`` is absent) ->
  ``{"rewards": [...], "verdicts": [...], "errors": [...]}``: a verdict or null, and why
  there is none, as ``/v1/judge`` answers.
- ``GET /health`` and ``GET /metrics`` (Prometheus text, :mod:`rewardkit.serve_metrics`).

It binds 127.0.0.1 unless told otherwise; with ``token`` every request but ``/health`` needs
``Authorization: Bearer <token>`` (compared in constant time; otherwise 401 and nothing judged).
Bodies over ``max_body`` bytes, and requests of more than ``max_pairs`` pairs or completions,
get 413; bodies not in within ``read_timeout`` seconds 408 (and the connection is closed, as is
one whose headers take that long); malformed bodies and unknown labels get 400 naming the field
(:mod:`rewardkit.serve_bodies`); a judge or a shared store that cannot work gets 503 with its
reason (a request's other members first leave their groups). Shared Redis stores are checked
before listening. SIGTERM stops accepting and finishes requests in flight.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from .adapters.openrlhf import openrlhf_response
from .errors import StoreUnavailable
from .judges.cache import VerdictStore
from .judges.llm import JudgeError
from .pipeline import LadderReward
from .records import SampleResult
from .rendezvous import json_reply, open_rendezvous, openrlhf_reply
from .serve_bodies import (
    BadRequest,
    at_most,
    group_size,
    guard,
    ids,
    known_labels,
    optional_strings,
    pair_item,
    parse_body,
    strings,
)
from .serve_conn import listen, request_finished, request_started
from .serve_metrics import Metrics
from .serve_stores import check_redis, is_redis_url, redact
from .taxonomy import UnknownLabelError

__all__ = ["RewardServer", "serve"]

log = logging.getLogger(__name__)


class SlowBody(Exception):
    """The body did not arrive within the read timeout (408, connection closed)."""


def _error(status: int, message: str) -> Any:
    from aiohttp import web

    return web.json_response({"error": message}, status=status)


def _quiet_bad_http(record: logging.LogRecord) -> bool:
    """Drop aiohttp's traceback for a malformed HTTP message: the client got its 400, and a
    hostile client must not fill the log."""
    from aiohttp.http_exceptions import HttpProcessingError

    return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


def _gone(request: Any) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class RewardServer:
    """The application: one :class:`~rewardkit.LadderReward`, one group store.

    ``group_size`` may be left out for a static rule (groups of one); a group-relative rule
    needs it. ``read_timeout`` bounds the seconds a client may take to send a request's
    headers, and then its body; ``max_pairs`` the pairs (or completions) of one request.
    ``require_card``: a robustness card (``rewardkit redteam``) the reward must have passed, or
    the server refuses to start.
    """

    def __init__(
        self,
        reward: LadderReward,
        *,
        group_size: int | None = None,
        timeout: float = 120.0,
        unscored: float = 0.0,
        token: str | None = None,
        max_body: int = 1 << 20,
        groups: str | None = None,
        read_timeout: float = 30.0,
        max_pairs: int = 4096,
        require_card: str | None = None,
        monitor: Any = None,
    ) -> None:
        if require_card is not None:  # a robustness card made for this reward, which passed
            from .redteam.gate import check_card

            check_card(require_card, reward)
        self.monitor, self.batches = monitor, 0  # a rewardkit.monitor.Monitor on /v1/reward
        # In this process, or with ``groups`` (a redis:// URL) shared by every replica.
        self.rendezvous = open_rendezvous(reward, group_size, groups or "asyncio", timeout=timeout)
        if read_timeout <= 0:
            raise ValueError(f"read_timeout must be > 0, got {read_timeout}")
        self.reward, self.group_size, self.unscored = reward, self.rendezvous.group_size, unscored
        self.token, self.max_body, self.read_timeout = token, max_body, read_timeout
        self.groups = self.rendezvous.groups
        self.groups_url, self.max_pairs = groups, max_pairs
        self.store_errors: tuple[type[BaseException], ...] = (StoreUnavailable,)
        if groups is not None:
            from redis.exceptions import RedisError

            self.store_errors += (RedisError,)  # what a group store that is not wrapped raises
        self.routes = {
            "/": (("POST", self.openrlhf),),
            "/get_reward": (("POST", self.openrlhf),),
            "/v1/judge": (("POST", self.judge),),
            "/v1/reward": (("POST", self.rewards),),
            "/health": (("GET", self.health),),
            "/metrics": (("GET", self.metrics_page),),
        }
        self.metrics = Metrics(self.routes)
        self._logged = {"judge": -1e9, "store": -1e9}  # when each kind of 503 was logged

    async def check(self) -> None:
        """Reach each shared Redis store once (groups, verdict cache); the first that cannot
        be used raises :class:`~rewardkit.errors.StoreUnavailable` naming the problem."""
        if is_redis_url(self.groups_url):
            await check_redis(self.groups_url, "--groups")
            await self.rendezvous.check()
        cache = getattr(self.reward.judge, "cache", None)  # judges that are not models have none
        if isinstance(cache, VerdictStore) and is_redis_url(cache.url):
            await check_redis(cache.url, "--cache")
            cache.check()

    async def aclose(self) -> None:
        await self.rendezvous.aclose()

    # -- the app ---------------------------------------------------------------------------------

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application(client_max_size=self.max_body, middlewares=[self._middleware])
        for path, methods in self.routes.items():
            for method, handler in methods:  # GET routes answer HEAD too
                (app.router.add_get if method == "GET" else app.router.add_post)(path, handler)
        return app

    @property
    def _middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def middleware(request: Any, handler: Any) -> Any:
            start = time.perf_counter()
            status = 500
            request_started(request)
            try:
                response = await self._answer(request, handler)
                status = 499 if response.status != 408 and _gone(request) else response.status
                return response
            except web.HTTPException as e:  # 404, 405 from the router
                status = e.status
                raise
            except asyncio.CancelledError:  # the client went away
                status = 499
                raise
            finally:
                request_finished(request)
                seconds = time.perf_counter() - start
                self.metrics.observe(request.path, status, seconds)
                route = self.metrics.route(request.path)
                log.debug("%s %s %d %.1f ms", request.method, route, status, seconds * 1e3)

        return middleware

    async def _answer(self, request: Any, handler: Any) -> Any:
        """The handler's response, or the error response its exception stands for."""
        from aiohttp import web

        if self.token is not None and request.path != "/health":
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return _error(401, "unauthorized")
        try:
            return await handler(request)
        except BadRequest as e:  # 400, or 413 for too many pairs
            return _error(e.status, str(e))
        except UnknownLabelError as e:  # a judge without check_labels found it
            return _error(400, f"unknown label: {e}")
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body over {self.max_body} bytes")
        except SlowBody:
            return await self._slow_body(request)
        except JudgeError as e:
            return self._judge_down(e)
        except self.store_errors as e:
            return self._store_down(e)
        except ConnectionResetError:  # the client went away while we read its body
            return _error(499, "client closed the connection")
        except (web.HTTPException, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("%s %s failed", request.method, self.metrics.route(request.path))
            return _error(500, "internal error (logged by the server)")

    def slow(self) -> None:
        """A connection closed for slowness (headers or body over the read timeout)."""
        self.metrics.slow_clients += 1

    async def _slow_body(self, request: Any) -> Any:
        """408, sent before the connection is closed."""
        self.slow()
        response = _error(408, f"body not received within {self.read_timeout:g} s")
        response.force_close()
        if not _gone(request):
            await response.prepare(request)
            await response.write_eof()
            request.transport.close()
        return response

    def _judge_down(self, e: BaseException) -> Any:
        return self._unavailable("judge", redact(f"judge: {e}"), "503 %s")

    def _store_down(self, e: BaseException) -> Any:
        return self._unavailable("store", redact(f"store unavailable: {e}"), "%s")

    def _unavailable(self, what: str, reason: str, line: str) -> Any:
        """503 with ``reason``, logged (``line``) once per 10 s for each ``what``, not once
        per request."""
        now = time.monotonic()
        if now - self._logged[what] > 10.0:
            self._logged[what] = now
            log.warning(line, reason)
        return _error(503, reason)

    async def _body(self, request: Any) -> dict:
        try:
            raw = await asyncio.wait_for(request.read(), self.read_timeout)
        except asyncio.TimeoutError:
            raise SlowBody from None
        return parse_body(raw, request.charset)

    def _questions(self, body: dict, key: str, n: int) -> list[str] | None:
        questions = optional_strings(body, key, n)
        if questions is None and self.reward.judge.uses_question:
            raise BadRequest(
                f"field {key!r} is required: judge {self.reward.judge.name!r} reads it"
            )
        return questions if self.reward.judge.uses_question else None

    # -- endpoints -------------------------------------------------------------------------------

    async def openrlhf(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        queries = at_most(strings(body, "query"), "query", self.max_pairs)
        prompts = strings(body, "prompts", len(queries))
        labels = strings(body, "labels", len(queries))
        given = ids(body, len(queries))
        known_labels(self.reward.judge, labels, "labels[{}]")
        responses = [openrlhf_response(q, p) for q, p in zip(queries, prompts)]
        questions = prompts if self.reward.judge.uses_question else None
        judged = await self.reward.ajudge_completions(responses, labels, questions)
        results = await self.rendezvous.results(judged, list(zip(prompts, labels)), given)
        reply = openrlhf_reply(results, self.unscored, self.rendezvous.grouped)
        return web.json_response(reply)

    async def judge(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        pairs = body.get("pairs")
        if not isinstance(pairs, list):
            raise BadRequest("field 'pairs' must be a list of {label, prediction} objects")
        at_most(pairs, "pairs", self.max_pairs)
        items = [pair_item(i, p, self.reward.judge.uses_question) for i, p in enumerate(pairs)]
        known_labels(self.reward.judge, [item[0] for item in items], "pairs[{}].label")
        refused = guard(items, self.reward.ladder.guard.check)
        records = await self.reward.judge.ajudge_records(items)
        errors = [refused.get(i, r.error) for i, r in enumerate(records)]
        return web.json_response({"verdicts": [r.verdict for r in records], "errors": errors})

    async def rewards(self, request: Any) -> Any:
        from aiohttp import web

        body = await self._body(request)
        completions = at_most(strings(body, "completions"), "completions", self.max_pairs)
        labels = strings(body, "labels", len(completions))
        size = group_size(body, len(completions), self.group_size)
        questions = self._questions(body, "questions", len(completions))
        known_labels(self.reward.judge, labels, "labels[{}]")
        if not completions:
            return web.json_response({"rewards": [], "verdicts": [], "errors": []})
        judged = await self.reward.ajudge_completions(completions, labels, questions)
        rewards = self.reward.rewards(judged, size)
        if self.monitor is not None:  # each request a step; the audit runs in the background
            self.batches += 1
            rewards, _ = self.monitor.step(self.batches, judged, labels, rewards, size)
        # As /v1/judge answers: a verdict or null, and why there is none (after 0.1.0; it
        # was "no_answer" or "unscored" in place of the verdict - docs/serve.md).
        return web.json_response(json_reply(SampleResult.all(judged, rewards)))

    async def health(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"status": "ok", "reward": repr(self.reward)})

    async def metrics_page(self, request: Any) -> Any:
        from aiohttp import web

        text = self.metrics.text(self.reward.judge, self.rendezvous.stats(), redact)
        if self.monitor is not None:
            text += "\n".join(self.monitor.prometheus()) + "\n"
        return web.Response(text=text, content_type="text/plain")


def serve(server: RewardServer, host: str = "127.0.0.1", port: int = 8080, ready=None) -> None:
    """Check the shared stores, then serve until SIGTERM or SIGINT; in-flight requests finish
    (aiohttp's graceful shutdown). ``ready(port)`` is called once the socket listens.
    :class:`~rewardkit.errors.StoreUnavailable` if a store cannot be used; :class:`OSError`
    if the address cannot be bound."""
    from aiohttp import web

    async def main() -> None:
        import signal

        await server.check()
        logging.getLogger("aiohttp.server").addFilter(_quiet_bad_http)
        # A client that hangs up cancels its request: a member waiting for its group leaves
        # it, so a retry is not a second member.
        runner = web.AppRunner(
            server.app(), access_log=None, keepalive_timeout=75.0, handler_cancellation=True
        )
        await runner.setup()
        assert runner.server is not None
        try:
            listener = await listen(runner.server, host, port, server.read_timeout, server.slow)
        except OSError as e:
            await runner.cleanup()
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        if ready is not None:
            ready(listener.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        listener.close()  # no new connections
        await runner.cleanup()  # then waits for requests in flight
        await server.aclose()

    asyncio.run(main())
