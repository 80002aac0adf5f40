"""An OpenAI-compatible chat transport over aiohttp, for vLLM servers and hosted APIs.

aiohttp rather than httpx or the ``openai`` client: against a local server at concurrency 64,
httpx spent about 8 ms of client CPU per call (its connection pool's bookkeeping grows with
the requests in flight) where aiohttp spends about 0.3 ms; see docs/benchmarks.md.

``constraint`` picks how the reply is held to the ladder's labels:

- ``"choice"`` (default): vLLM's ``{"structured_outputs": {"choice": [...]}}`` in the request;
- ``"json_schema"``: a ``response_format`` JSON schema with the labels as an enum (hosted APIs);
- ``"none"``: plain parsing of the reply.

Whatever the constraint, the reply is checked: a server that ignores the field answers free
text, and a reply with no ladder label is a judge failure. The API key is read from the
environment variable ``api_key_env`` when the call is made; it is never logged or cached.

>>> judge = openai_judge("Qwen/Qwen3-30B-A3B-Instruct-2507", "http://127.0.0.1:8000/v1")
>>> judge.transport.endpoint
'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from ..extras import require
from ..ladders import SPECIARL, Ladder
from ..records import EndpointStats
from ..urls import redact, redact_url
from .llm import LLMJudge, TransportError
from .llm_options import CONSTRAINTS
from .loops import PerLoop
from .transport import Constraint, Reply

__all__ = ["OpenAITransport", "openai_judge", "read_reply"]

#: Replies larger than this are a failed call (a judge verdict is a few bytes).
MAX_REPLY_BYTES = 1 << 20
_FATAL = {401: "unauthorized", 403: "forbidden", 404: "not found (model or path)"}


class OpenAITransport:
    """``api_base`` is one server or several (a list, or URLs separated by commas: replicas
    of one judge model). Calls go to the server with the fewest in flight; a server that
    refuses ``eject_after`` connections in a row is taken out for ``eject_for`` seconds, then
    probed again with one call."""

    name = "openai"

    def __init__(
        self,
        model: str,
        api_base: str | list[str],
        *,
        constraint: str = "choice",
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 16,
        extra_body: dict[str, Any] | None = None,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        eject_after: int = 3,
        eject_for: float = 10.0,
    ) -> None:
        require("aiohttp", what="the openai judge")
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be choice, json_schema or none, got {constraint!r}")
        bases = api_base.split(",") if isinstance(api_base, str) else list(api_base)
        bases = [b.strip().rstrip("/") for b in bases if isinstance(b, str) and b.strip()]
        if not bases:
            raise ValueError(f"invalid api_base {redact(repr(api_base))}: no server URL")
        for base in bases:
            parts = urlsplit(base)
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"invalid api_base {redact_url(base)!r}: expected http(s)://HOST[:PORT]/PATH, "
                    "e.g. http://127.0.0.1:8000/v1"
                )
        if extra_body is not None and not isinstance(extra_body, dict):
            raise TypeError(f"extra_body must be a JSON object, got {extra_body!r}")
        self.model = model
        self.endpoints = sorted(set(bases))
        self.endpoint = ",".join(self.endpoints)  # the judge's concurrency limit is for all
        self.endpoint_stats = {e: EndpointStats() for e in self.endpoints}
        self.eject_after, self.eject_for = eject_after, eject_for
        self.constraint = constraint
        self.api_key_env = api_key_env
        self.temperature, self.max_tokens = temperature, max_tokens
        self.extra_body = dict(extra_body or {})
        self.max_reply_bytes = max_reply_bytes
        # One client session per event loop: a judge may be called from several threads at
        # once (OpenRLHF's reward workers), each running its own loop.
        self._clients: PerLoop[Any] = PerLoop()

    def identity(self) -> dict[str, Any]:
        """Everything about the calls that can change a verdict (not the API key)."""
        return {
            "transport": self.name,
            "endpoint": self.endpoints,
            "model": self.model,
            "constraint": self.constraint,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "extra_body": self.extra_body,
        }

    def body(self, messages: list[dict], constraint: Constraint) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        if self.constraint == "choice":
            body["structured_outputs"] = {"choice": constraint.choices}
        elif self.constraint == "json_schema":
            body["response_format"] = constraint.response_format()
            body["max_tokens"] = max(self.max_tokens, 32)
        return body

    def _pick(self) -> str:
        """The server with the fewest calls in flight among those not taken out; if all are
        out, the one that comes back first (a probe)."""
        now = time.monotonic()
        up = [e for e in self.endpoints if self.endpoint_stats[e].down_until <= now]
        if not up:
            return min(self.endpoints, key=lambda e: self.endpoint_stats[e].down_until)
        return min(up, key=lambda e: self.endpoint_stats[e].in_flight)

    async def complete(self, messages: list[dict], constraint: Constraint, timeout: float) -> Reply:
        endpoint = self._pick()
        stats = self.endpoint_stats[endpoint]
        stats.calls += 1
        stats.in_flight += 1
        try:
            reply = await self._complete(endpoint, messages, constraint, timeout)
        except TransportError as e:
            stats.failures += 1
            if e.kind == "connection":
                stats.consecutive += 1
                if stats.consecutive >= self.eject_after and len(self.endpoints) > 1:
                    stats.down_until = time.monotonic() + self.eject_for
                    stats.ejections += 1
            raise
        except BaseException:
            stats.failures += 1
            raise
        finally:
            stats.in_flight -= 1
        stats.consecutive = 0
        return reply

    async def _complete(
        self, endpoint: str, messages: list[dict], constraint: Constraint, timeout: float
    ) -> Reply:
        import aiohttp

        client = self._clients.peek()
        if client is None:
            key = os.environ.get(self.api_key_env) if self.api_key_env else None
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            client = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=timeout),
            )
            self._clients.set(client)
        url = f"{endpoint}/chat/completions"
        try:
            body = self.body(messages, constraint)
            async with client.post(url, json=body) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
                raw = await _read_capped(response, self.max_reply_bytes)
        except asyncio.TimeoutError as e:
            raise TimeoutError(str(e)) from None
        except aiohttp.InvalidURL as e:
            raise TransportError(
                redact(f"invalid URL {url!r}: {e}"),
                retryable=False,
                kind="invalid url",
                fatal=True,
            ) from None
        except aiohttp.ClientError as e:  # connection refused, reset, dropped
            raise TransportError(redact(f"{type(e).__name__}: {e}"), retryable=True) from None
        if status != 200:
            snippet = raw[:200].decode("utf-8", "replace") if raw else ""
            raise TransportError(
                f"HTTP {status} {_FATAL.get(status, '')} from {redact_url(url)}: {snippet}".replace(
                    "  ", " "
                ),
                retryable=status == 429 or status >= 500,
                status=status,
                fatal=status in _FATAL,
                retry_after=retry_after,
            )
        return read_reply(raw)

    async def aclose(self) -> None:
        """Close this event loop's session (the judge calls it when its last batch on the
        loop ends)."""
        client = self._clients.pop()
        if client is not None:
            await client.close()


async def _read_capped(response: Any, cap: int) -> bytes:
    length = response.content_length
    if length is not None and length > cap:
        raise TransportError(
            f"reply too large: {length} bytes, over the {cap}-byte limit",
            retryable=False,
            kind="reply too large",
        )
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > cap:
            raise TransportError(
                f"reply too large: over the {cap}-byte limit",
                retryable=False,
                kind="reply too large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _malformed(why: str) -> TransportError:
    return TransportError(f"malformed reply: {why}", retryable=False, kind="malformed reply")


def _tokens(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_reply(raw: bytes) -> Reply:
    """An OpenAI chat-completions body to a :class:`Reply`; anything unexpected is a
    ``malformed reply`` failure of this call only (usage fields may be missing or null)."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise _malformed("not JSON") from None
    if not isinstance(data, dict):
        raise _malformed("not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _malformed("no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise _malformed(f"content is {type(content).__name__}, not a string")
    if choices[0].get("finish_reason") == "length":  # cut off: what it says is not all it says
        raise _malformed("cut off at max_tokens (finish_reason 'length')")
    usage = data.get("usage")
    return Reply(content, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"))


def openai_judge(
    model: str,
    api_base: str | list[str],
    *,
    ladder: Ladder = SPECIARL,
    constraint: str = "choice",
    api_key_env: str | None = "OPENAI_API_KEY",
    temperature: float = 0.0,
    max_tokens: int = 16,
    extra_body: dict[str, Any] | None = None,
    **options: Any,
) -> LLMJudge:
    """An :class:`LLMJudge` over an OpenAI-compatible server. ``options``: prompt,
    concurrency, timeout, retries, backoff, on_failure, max_failure_rate, cache (a path),
    seed."""
    transport = OpenAITransport(
        model,
        api_base,
        constraint=constraint,
        api_key_env=api_key_env,
        temperature=temperature,
        max_tokens=max_tokens,
        extra_body=extra_body,
    )
    return LLMJudge(transport, ladder=ladder, **options)
