"""One LLM judge call's policy: the per-endpoint limit, retries with jittered backoff, the
probe that stops a batch at a dead endpoint, and the failure-rate limit.

:class:`PairCalls` is the part of :class:`~rewardkit.judges.llm.LLMJudge` that judges one pair;
the transport protocol is in :mod:`rewardkit.judges.transport`, the batch, the cache and the
identity in :mod:`rewardkit.judges.llm`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass, field

from ..errors import JudgeConfigError, JudgeError, JudgeFailureRateError, TransportError
from ..records import Judgement, LLMStats
from ..replies import Reading
from ..urls import redact_url
from .loops import PerLoop
from .prompted import PromptedJudge
from .transport import Reply, Transport

__all__ = ["PairCalls", "Reply", "Transport"]

log = logging.getLogger(__name__)

# Failures of one cause are logged as warnings the first _WARN_FIRST times, then at each power
# of ten (with the count so far); the others at debug level. A judge server that is down for
# a batch is a few lines, not one per pair.
_WARN_FIRST = 3


def _failure_level(count: int) -> int:
    shown = count <= _WARN_FIRST or str(count).rstrip("0") == "1"
    return logging.WARNING if shown else logging.DEBUG


def _failure_note(cause: str, count: int) -> str:
    """What a failure's log line adds: where the count of its cause stands."""
    if count == _WARN_FIRST:
        return f" ({cause}: {count} failures; more are logged at 10, 100, ...)"
    if count > _WARN_FIRST:
        return f" ({cause}: {count} failures)"
    return ""


# One semaphore per (event loop, endpoint): every judge in a process shares an endpoint's limit.
_LIMITS: PerLoop[dict[str, asyncio.Semaphore]] = PerLoop(dict)

_PROBE_FAILURES = 3  # failed first pairs (no call succeeded yet) that stop a batch
# The failure-rate limit looks at the batch, or at the last _RATE_WINDOW calls when the batch is
# smaller (trainers that judge a few samples per call), once there are _RATE_MIN_CALLS calls and
# at least _RATE_MIN_FAILURES failures among them.
_RATE_WINDOW = 100
_RATE_MIN_CALLS = 10
_RATE_MIN_FAILURES = 5
_MAX_RETRY_AFTER = 120.0
_READ_ON_LOOP = 4096  # replies up to this many characters are read on the event loop


def _shown(endpoint: str) -> str:
    """An endpoint (URLs separated by commas) as messages show it: no password, no secret
    query value (:func:`~rewardkit.urls.redact_url`)."""
    return ",".join(redact_url(url) for url in endpoint.split(","))


def _limit(endpoint: str, concurrency: int) -> asyncio.Semaphore:
    per_loop = _LIMITS.get()
    if endpoint not in per_loop:
        per_loop[endpoint] = asyncio.Semaphore(concurrency)
    return per_loop[endpoint]


def _short(text: str, n: int = 80) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


@dataclass
class _Batch:
    """State shared by the calls of one batch: the probe lock and what has failed so far."""

    probe: asyncio.Lock
    probe_failures: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  # a configuration error ended the batch


class PairCalls(PromptedJudge):
    """Judging one pair through ``transport``: the calls, their retries and their failures."""

    transport: Transport
    concurrency: int
    timeout: float
    retries: int
    backoff: float
    max_backoff: float
    on_failure: str
    max_failure_rate: float | None
    stats: LLMStats
    _random: random.Random
    _healthy: bool  # a call has succeeded: no more probing one at a time
    _recent: deque[str | None]

    async def _judge_one(
        self, i: int, pair: tuple[str, ...], batch: _Batch
    ) -> tuple[int, Judgement, str | None]:
        """(index, record, failure cause or None)."""
        try:
            if not self._healthy:
                async with batch.probe:  # until a call succeeds, one pair at a time
                    if batch.stopped:
                        return i, Judgement(None, error="stopped"), "stopped"
                    if not self._healthy:
                        record, cause, connected = await self._attempts(pair)
                        if cause is not None and not self._healthy:
                            self._probe_failed(cause, connected, batch)
                        return i, record, cause
            record, cause, _ = await self._attempts(pair)
            return i, record, cause
        except JudgeError:
            batch.stopped = True
            raise

    async def _read(self, text: str) -> Reading:
        """The ladder's reading of a reply; a long reply is read on a worker thread, so a
        server's event loop never stalls on it."""
        if len(text) <= _READ_ON_LOOP:
            return self.reading(text)
        return await asyncio.to_thread(self.reading, text)

    def _probe_failed(self, cause: str, connected: bool, batch: _Batch) -> None:
        endpoint = _shown(self.transport.endpoint)
        if not connected:
            raise JudgeConfigError(
                f"{self.name} judge: cannot reach {endpoint} ({cause} on every try of the "
                f"first call); is the server running?"
            )
        batch.probe_failures[cause] = batch.probe_failures.get(cause, 0) + 1
        if sum(batch.probe_failures.values()) >= _PROBE_FAILURES:
            causes = ", ".join(f"{n} {c}" for c, n in batch.probe_failures.items())
            raise JudgeConfigError(
                f"{self.name} judge at {endpoint}: the first {_PROBE_FAILURES} pairs all failed "
                f"({causes}); is it serving model {self.transport.model!r}?"
            )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before retry ``attempt``: exponential, jittered, at least ``Retry-After``."""
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        delay *= 0.5 + self._random.random()  # jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
        return delay

    async def _attempts(self, pair: tuple[str, ...]) -> tuple[Judgement, str | None, bool]:
        """Call with retries: (record, failure cause or None, whether any try reached the
        server)."""
        prediction = pair[1]
        messages = self.messages(pair)
        limit = _limit(self.transport.endpoint, self.concurrency)
        cause, detail, reply_text = "unknown", "", None
        connected = False
        retry_after: float | None = None
        prompt_tokens = completion_tokens = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = self._delay(attempt, retry_after)
                log.info(
                    "retry %d of %s after %s (%.2fs)", attempt, _short(prediction), cause, delay
                )
                await asyncio.sleep(delay)
            retry_after = None
            try:
                async with limit:
                    self.stats.calls += 1
                    reply = await asyncio.wait_for(
                        self.transport.complete(messages, self.constraint, self.timeout),
                        self.timeout,
                    )
            except (asyncio.TimeoutError, TimeoutError):
                cause, detail, connected = "timeout", f"no reply in {self.timeout:g}s", True
                continue
            except TransportError as e:
                if e.fatal:
                    raise JudgeConfigError(
                        f"{self.name} judge at {_shown(self.transport.endpoint)} "
                        f"(model {self.transport.model!r}): {e}"
                    ) from None
                cause, detail, retry_after = e.kind, str(e), e.retry_after
                connected = connected or e.kind != "connection"
                if e.retryable:
                    continue
                break
            connected = True
            self._healthy = True
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
            self.stats.cost += reply.cost
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            reply_text = reply.text[: self.reply_chars]
            reading = await self._read(reply.text)
            verdict = reading.verdict
            if verdict is not None:
                return (
                    Judgement(verdict, reply_text, None, prompt_tokens, completion_tokens),
                    None,
                    True,
                )
            self.stats.off_ladder += 1
            cause, detail = "off ladder", f"off ladder ({reading.why}): {_short(reply.text)}"
            break  # the same prompt at temperature 0 would answer the same
        record = self._failed(pair, cause, detail, reply_text, prompt_tokens, completion_tokens)
        return record, cause, connected

    def _failed(
        self,
        pair: tuple[str, ...],
        cause: str,
        detail: str,
        reply_text: str | None,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> Judgement:
        """A pair judged without a verdict: counted, logged, and ``on_failure`` applied."""
        truth, prediction = pair[0], pair[1]
        self.stats.failures += 1
        count = self.stats.errors[cause] = self.stats.errors.get(cause, 0) + 1
        log.log(
            _failure_level(count),
            "%s judge failed on %s vs %s: %s%s",
            self.name,
            _short(prediction),
            _short(truth),
            detail,
            _failure_note(cause, count),
        )
        if self.on_failure == "raise":
            raise JudgeError(f"{self.name} judge failed on {prediction!r} vs {truth!r}: {detail}")
        verdict = None if self.on_failure == "missing" else self.on_failure
        return Judgement(verdict, reply_text, detail, prompt_tokens, completion_tokens)

    def _check_failure_rate(self, outcomes: list[str | None]) -> None:
        if len(outcomes) >= _RATE_WINDOW:
            considered, what = outcomes, "calls of the batch"
        else:
            earlier = list(self._recent)[len(self._recent) + len(outcomes) - _RATE_WINDOW :]
            considered, what = earlier + outcomes, "recent calls"
        self._recent.extend(outcomes)
        limit = self.max_failure_rate
        failed = [c for c in considered if c is not None]
        if limit is None or len(considered) < _RATE_MIN_CALLS or len(failed) < _RATE_MIN_FAILURES:
            return
        if len(failed) <= limit * len(considered):
            return
        errors: dict[str, int] = {}
        for cause in failed:
            errors[cause] = errors.get(cause, 0) + 1
        causes = ", ".join(f"{n} {c}" for c, n in sorted(errors.items(), key=lambda x: -x[1]))
        raise JudgeFailureRateError(
            f"{self.name} judge at {_shown(self.transport.endpoint)}: {len(failed)} of "
            f"{len(considered)} {what} failed ({causes}), over max_failure_rate={limit:g}",
            errors,
        )
