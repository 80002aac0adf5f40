"""LLM judges: a transport, a prompt template, and rewardkit's own reliability layer.

:class:`LLMJudge` sends each distinct pair to a transport with the prediction **as the policy
wrote it** (JSON-encoded in the prompt), reads the reply with the ladder's anchored parser, and
caches verdicts. Two predictions are one judgement only when the ladder's canonicaliser maps
them to one string (``exact`` unless the ladder says otherwise; the SpeciaRL ladder merges case,
spacing and a trailing period, never signs, operators or list separators).

Around every call: one concurrency limit per endpoint, a per-call timeout, retries with
jittered exponential backoff (at least the server's ``Retry-After``) on timeouts, connection
errors, 429 and 5xx. What cannot be read is a failure, never a rung:

- a reply that is not a verdict (:meth:`~rewardkit.ladders.Ladder.parse`) is *off ladder*;
- a malformed reply (no choices, non-string content, over ``max_reply_bytes``) costs its row;
- configuration errors stop the batch at once with :class:`JudgeConfigError`: 401, 403,
  404 (no such model or path), an invalid URL, or an endpoint that refuses every try of the
  first call (until one call succeeds, calls go one at a time, so a dead endpoint costs a few
  calls, not a batch);
- more than ``max_failure_rate`` of a batch's calls failing raises
  :class:`JudgeFailureRateError` with the causes; a batch of fewer than 100 calls is counted
  with the calls before it, up to 100 (trainers that judge one sample at a time), and the
  limit needs at least 10 calls and 5 failures.

A failed pair follows ``on_failure``: ``"missing"`` (default, the reward rule leaves the
completion unscored), ``"raise"``, or a rung slug (counted as a failure all the same).
:meth:`~rewardkit.judges.base.Judge.judge_records` keeps each pair's raw reply, error and
tokens; failures and retries are logged on the ``rewardkit.judges`` logger.

The cache identity hashes everything that can change a verdict: transport, endpoint, model,
sampling settings, constraint, extra request fields, the rendered prompt, the ladder's rungs
and definitions, its canonicaliser and its parser.

Three modules make the judge: the transport protocol (:mod:`rewardkit.judges.transport`), the
call policy of one pair (:mod:`rewardkit.judges.calls`) and, here, the batch - the cache,
pairs other batches or processes are judging, the identity.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

from ..errors import (  # noqa: F401 - re-exported
    JudgeConfigError,
    JudgeError,
    JudgeFailureRateError,
    TransportError,
)
from ..ladders import SPECIARL, Ladder
from ..records import Judgement, LLMStats
from .base import check_ladder, merged, refusals
from .cache import VerdictStore, open_store
from .calls import _RATE_WINDOW, PairCalls, _Batch
from .loops import PerLoop
from .prompt import PromptTemplate
from .transport import Constraint, Reply, Transport

__all__ = [
    "LLMJudge",
    "LLMStats",
    "JudgeError",
    "JudgeConfigError",
    "JudgeFailureRateError",
    "TransportError",
    "Reply",
    "Constraint",
    "Transport",
]

_FLUSH_EVERY = 256  # verdicts written to the cache while a batch is still running


def _settle(inflight: dict, key: Any, outcome: Judgement | BaseException) -> None:
    """Hand a pair's outcome to the batches awaiting it (once), and forget the pair."""
    future = inflight.pop(key, None)
    if future is None or future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
        future.exception()  # retrieved: no "never retrieved" warning if nobody awaits it
    else:
        future.set_result(outcome)


class LLMJudge(PairCalls):
    """A judge that asks an LLM through ``transport``; see the module docstring.

    ``prompt``: a :class:`~rewardkit.judges.prompt.PromptTemplate`, a registered prompt name
    or a prompt file (default: rewardkit's own, rendered from the ladder).
    """

    stats: LLMStats

    def __init__(
        self,
        transport: Transport,
        *,
        ladder: Ladder = SPECIARL,
        prompt: PromptTemplate | str | None = None,
        concurrency: int = 64,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        on_failure: str = "missing",
        max_failure_rate: float | None = 0.2,
        cache: VerdictStore | str | os.PathLike | None = None,
        seed: int | None = None,
        reply_chars: int = 1000,
        thinking: bool | None = None,
    ) -> None:
        ladder = check_ladder(ladder)
        if concurrency < 1 or retries < 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, retries >= 0 and timeout > 0 are required")
        if on_failure not in ("missing", "raise") and on_failure not in ladder.slugs:
            raise ValueError(
                f"on_failure must be 'missing', 'raise' or a rung of "
                f"{ladder.name!r}, got {on_failure!r}"
            )
        if max_failure_rate is not None and not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"max_failure_rate must be in [0, 1] or None, got {max_failure_rate}")
        super().__init__(ladder, prompt, thinking=thinking)
        self.transport = transport
        self.name = transport.name
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.on_failure = on_failure
        self.max_failure_rate = max_failure_rate
        self.reply_chars = reply_chars
        # A cache path is opened (and checked) now, before any call is paid for; a redis:// URL
        # is a cache shared by every process of the run.
        self.cache = open_store(cache)
        self.stats = LLMStats()
        self._random = random.Random(seed)
        self._healthy = False  # a call has succeeded: no more probing one at a time
        self._recent: deque[str | None] = deque(maxlen=_RATE_WINDOW)
        self._batches: PerLoop[list[int]] = PerLoop(list)  # one entry per batch on a loop
        self._inflight: PerLoop[dict] = PerLoop(dict)  # key -> future of a pair being judged
        self.identity = self._identity()

    def _identity(self) -> str:
        """What verdicts are cached under: a hash of everything that can change a verdict -
        the transport's settings (its endpoint however it was set), the rendered prompt,
        thinking, the ladder's rungs (slug, display name - the parser reads it - and
        description; not scores or correctness, which only rewards read), definitions and
        task, and its canonicaliser and parser each by qualified name plus a hash of their
        code (:mod:`rewardkit.fingerprint`; a ladder class defined inside a function is
        refused). The cache is told the ladder's slugs: a cached value that is not one of them
        is a miss."""
        from ..fingerprint import fingerprint

        ladder, kind = self.ladder, type(self.ladder)
        spec = {
            "transport": self.transport.identity(),
            "prompt": self.prompt.identity(ladder),
            "ladder": [
                ladder.name,
                [[r.slug, r.name, r.description] for r in ladder.rungs],
                ladder.definitions(),
                ladder.task,
            ],
            "canonical": ladder.canonical_id,
            "parser": fingerprint(kind.parse, what="ladder class", owner=kind),
            "thinking": self.thinking,
        }
        text = json.dumps(spec, sort_keys=True, ensure_ascii=False, default=repr)
        identity = hashlib.sha256(text.encode()).hexdigest()[:32]
        if self.cache is not None:
            self.cache.accept(identity, ladder.slugs)
        return identity

    # -- sync entry points ---------------------------------------------------------------------

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ajudge_unique_records(pairs))
        # Called from inside an event loop (a notebook, an async trainer): use a thread.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.ajudge_unique_records(pairs)).result()

    # -- the batch -----------------------------------------------------------------------------

    async def ajudge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        if self.cache is None:
            return await self._records(pairs)
        async with self.cache.session():
            return await self._records(pairs)

    async def _records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        """Judge ``pairs``; predictions the ladder's answer guard refuses are never sent."""
        refused = refusals(self.ladder, pairs)
        if not refused:
            return await self._sent(pairs)
        self.stats.refused += len(refused)
        sent = await self._sent([p for i, p in enumerate(pairs) if i not in refused])
        return merged(refused, sent, len(pairs))

    async def _sent(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        keys = [self.key(*p) for p in pairs]
        cached = await self._cache_get(keys)
        self.stats.cache_hits += len(cached)
        out: list[Judgement | None] = [
            Judgement(cached[k], cached=True) if k in cached else None for k in keys
        ]
        loop = asyncio.get_running_loop()
        # A pair another batch on this loop is judging right now is awaited, not judged again
        # (verl's manager judges each sample in its own task, all at once).
        inflight = self._inflight.get()
        todo, shared = [], {}
        for i, k in enumerate(keys):
            if k in cached:
                continue
            if k in inflight:
                shared[i] = inflight[k]
            else:
                inflight[k] = loop.create_future()
                todo.append(i)
        self.stats.shared += len(shared)
        try:
            elsewhere: list[int] = []
            if todo and self.cache is not None:  # pairs another process is judging: awaited
                won = await self.cache.claim(self.identity, [keys[i] for i in todo])
                elsewhere = [i for i, w in zip(todo, won) if not w]
            if len(elsewhere) < len(todo):
                away = set(elsewhere)
                mine = [i for i in todo if i not in away]
                await self._judge_batch(pairs, keys, mine, out, inflight)
            if elsewhere:
                assert self.cache is not None  # only a cache's claim leaves pairs elsewhere
                found, orphans = await self.cache.await_verdicts(
                    self.identity, [keys[i] for i in elsewhere]
                )
                self.stats.shared += len(found)
                for i in elsewhere:
                    k = tuple(keys[i])
                    if k in found:
                        out[i] = record = Judgement(found[k], cached=True)
                        _settle(inflight, keys[i], record)
                orphan_keys = set(orphans)
                orphaned = [i for i in elsewhere if tuple(keys[i]) in orphan_keys]
                if orphaned:
                    await self._judge_batch(pairs, keys, orphaned, out, inflight)
        finally:
            failure = JudgeError("the batch judging this pair failed")
            for i in todo:  # what this batch did not settle (an error stopped it) fails alike
                _settle(inflight, keys[i], failure)
        for i, future in shared.items():
            out[i] = await future
        return out  # type: ignore[return-value]

    async def _judge_batch(
        self,
        pairs: Sequence[tuple[str, ...]],
        keys: list,
        todo: list[int],
        out: list[Judgement | None],
        inflight: dict,
    ) -> None:
        running = self._batches.get()
        running.append(1)
        batch = _Batch(asyncio.Lock())
        unwritten: list[tuple] = []
        failed: list = []  # keys judged without a verdict: their leases are given up
        outcomes: list[str | None] = []  # failure cause or None, per call made
        tasks = [asyncio.create_task(self._judge_one(i, pairs[i], batch)) for i in todo]
        try:
            for next_done in asyncio.as_completed(tasks):
                i, record, cause = await next_done
                out[i] = record
                _settle(inflight, keys[i], record)
                outcomes.append(cause)
                if cause is None:
                    unwritten.append((*keys[i], record.verdict))
                else:
                    failed.append(keys[i])
                if len(unwritten) >= _FLUSH_EVERY:
                    await self._flush(unwritten)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush(unwritten)  # what was paid for is kept, whatever happened
            if self.cache is not None and failed:
                await self.cache.release(self.identity, failed)
            running.pop()
            if not running:  # the last batch on this loop closes its connections
                await self.transport.aclose()
        self._check_failure_rate(outcomes)

    async def _cache_get(self, keys: list) -> dict:
        return {} if self.cache is None else await self.cache.aget(self.identity, keys)

    async def _flush(self, rows: list[tuple]) -> None:
        if self.cache is not None and rows:
            batch = rows[:]
            rows.clear()
            await self.cache.aput(self.identity, batch)
