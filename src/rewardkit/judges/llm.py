"""LLM judges: a transport, the ladder's prompt, and rewardkit's own reliability layer.

:class:`LLMJudge` sends each distinct (ground truth, prediction) pair - normalised as the
taxonomy judge normalises, so "Samoyed!" and "samoyed" are one call - to a transport, reads the
last ladder label in the reply, and caches verdicts. Around every call: one concurrency limit
per endpoint, a per-call timeout, retries with jittered exponential backoff on timeouts,
connection errors, 429 and 5xx, and a failure policy after the last retry:

- ``on_failure="missing"`` (default): no verdict; the reward rule makes the completion unscored;
- ``on_failure="raise"``: raise :class:`JudgeError`;
- ``on_failure=<slug>``: that rung (for example ``"wrong"``), counted as a failure.

A reply with no ladder label is a judge failure, never a low rung. ``stats`` counts calls,
cache hits, retries, failures, off-ladder replies, tokens and cost where the transport reports
them. Transports: :mod:`rewardkit.judges.openai_compat` (an OpenAI-compatible server such as
``vllm serve``, over aiohttp) and :mod:`rewardkit.judges.litellm_judge` (any LiteLLM model).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..ladders import SPECIARL, Ladder
from ..taxonomy import normalize
from .base import Judge, JudgeStats
from .cache import VerdictCache
from .prompt import PROMPT_VERSION, render

__all__ = ["LLMJudge", "LLMStats", "JudgeError", "TransportError", "Reply", "Transport"]


class JudgeError(RuntimeError):
    """A judge call failed after its retries (raised with ``on_failure="raise"``)."""


class TransportError(Exception):
    """A failed call. ``retryable`` for timeouts, connection errors, 429 and 5xx."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class Transport(Protocol):
    name: str
    model: str
    endpoint: str  # the concurrency limit is per endpoint

    async def complete(self, messages: list[dict], ladder: Ladder, timeout: float) -> Reply: ...

    async def aclose(self) -> None: ...


@dataclass
class LLMStats(JudgeStats):
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    off_ladder: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    errors: dict = field(default_factory=dict)  # error kind -> count


# One semaphore per (event loop, endpoint): every judge in a process shares an endpoint's limit.
_LIMITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _limit(endpoint: str, concurrency: int) -> asyncio.Semaphore:
    per_loop = _LIMITS.setdefault(asyncio.get_running_loop(), {})
    if endpoint not in per_loop:
        per_loop[endpoint] = asyncio.Semaphore(concurrency)
    return per_loop[endpoint]


class LLMJudge(Judge):
    """A judge that asks an LLM through ``transport``; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        *,
        ladder: Ladder = SPECIARL,
        concurrency: int = 64,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        on_failure: str = "missing",
        cache: VerdictCache | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if concurrency < 1 or retries < 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, retries >= 0 and timeout > 0 are required")
        if on_failure not in ("missing", "raise") and on_failure not in ladder.slugs:
            raise ValueError(
                f"on_failure must be 'missing', 'raise' or a rung of "
                f"{ladder.name!r}, got {on_failure!r}"
            )
        self.transport = transport
        self.ladder = ladder
        self.name = transport.name
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.on_failure = on_failure
        self.cache = VerdictCache(cache) if isinstance(cache, str) else cache
        self.stats = LLMStats()
        self._random = random.Random(seed)

    @property
    def identity(self) -> str:
        """What verdicts are cached under: transport, model, prompt version and ladder."""
        spec = [
            self.transport.name,
            self.transport.model,
            PROMPT_VERSION,
            self.ladder.name,
            list(self.ladder.slugs),
        ]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:32]

    def key(self, ground_truth: str, prediction: str):
        return (normalize(ground_truth), normalize(prediction))

    def judge_unique(self, pairs: Sequence[tuple[str, str]]) -> list[str | None]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ajudge_unique(pairs))
        # Called from inside an event loop (a notebook, an async trainer): use a thread.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.ajudge_unique(pairs)).result()

    async def ajudge_unique(self, pairs: Sequence[tuple[str, str]]) -> list[str | None]:
        keys = [self.key(t, p) for t, p in pairs]
        cached = self.cache.get(self.identity, keys) if self.cache is not None else {}
        self.stats.cache_hits += len(cached)
        todo = [k for k in keys if k not in cached]
        try:
            results = await asyncio.gather(*(self._judge_one(t, p) for t, p in todo))
        finally:
            await self.transport.aclose()
        fresh = dict(zip(todo, results))
        if self.cache is not None:
            self.cache.put(self.identity, [(t, p, v) for (t, p), (v, ok) in fresh.items() if ok])
        return [cached[k] if k in cached else fresh[k][0] for k in keys]

    async def _judge_one(self, truth: str, prediction: str) -> tuple[str | None, bool]:
        """(verdict, whether it came from the judge and may be cached)."""
        messages = render(self.ladder, truth, prediction)
        limit = _limit(self.transport.endpoint, self.concurrency)
        error = "unknown"
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + self._random.random()))  # jitter
            try:
                async with limit:
                    self.stats.calls += 1
                    reply = await asyncio.wait_for(
                        self.transport.complete(messages, self.ladder, self.timeout),
                        self.timeout,
                    )
            except (asyncio.TimeoutError, TimeoutError):
                error = "timeout"
                continue
            except TransportError as e:
                error = f"http {e.status}" if e.status else "connection"
                if e.retryable:
                    continue
                break
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
            self.stats.cost += reply.cost
            verdict = self.ladder.parse(reply.text)
            if verdict is not None:
                return verdict, True
            self.stats.off_ladder += 1
            error = "no ladder label in reply"
            break  # the same prompt at temperature 0 would answer the same
        self.stats.failures += 1
        self.stats.errors[error] = self.stats.errors.get(error, 0) + 1
        if self.on_failure == "raise":
            raise JudgeError(f"{self.name} judge failed on {prediction!r} vs {truth!r}: {error}")
        return (None if self.on_failure == "missing" else self.on_failure), False
