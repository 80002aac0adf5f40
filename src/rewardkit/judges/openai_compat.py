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
import json
import os
from typing import Any

from ..ladders import SPECIARL, Ladder
from .llm import LLMJudge, Reply, TransportError

__all__ = ["OpenAITransport", "openai_judge"]


class OpenAITransport:
    name = "openai"

    def __init__(
        self,
        model: str,
        api_base: str,
        *,
        constraint: str = "choice",
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 16,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if constraint not in ("choice", "json_schema", "none"):
            raise ValueError(f"constraint must be choice, json_schema or none, got {constraint!r}")
        self.model = model
        self.endpoint = api_base.rstrip("/")
        self.constraint = constraint
        self.api_key_env = api_key_env
        self.temperature, self.max_tokens = temperature, max_tokens
        self.extra_body = dict(extra_body or {})
        self._client = None

    def body(self, messages: list[dict], ladder: Ladder) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.extra_body,
        }
        if self.constraint == "choice":
            body["structured_outputs"] = {"choice": ladder.choices}
        elif self.constraint == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": ladder.json_schema(), "strict": True},
            }
            body["max_tokens"] = max(self.max_tokens, 32)
        return body

    async def complete(self, messages: list[dict], ladder: Ladder, timeout: float) -> Reply:
        import aiohttp

        if self._client is None:
            key = os.environ.get(self.api_key_env) if self.api_key_env else None
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            self._client = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=timeout),
            )
        try:
            async with self._client.post(
                f"{self.endpoint}/chat/completions", json=self.body(messages, ladder)
            ) as response:
                status = response.status
                raw = await response.read()
        except asyncio.TimeoutError as e:
            raise TimeoutError(str(e)) from None
        except aiohttp.ClientError as e:  # connection refused, reset, dropped
            raise TransportError(f"{type(e).__name__}: {e}", retryable=True) from None
        if status != 200:
            raise TransportError(
                f"HTTP {status}: {raw[:200]!r}",
                retryable=status == 429 or status >= 500,
                status=status,
            )
        try:
            data = json.loads(raw)
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise TransportError("malformed reply", retryable=True, status=status) from None
        usage = data.get("usage") or {}
        return Reply(text, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def openai_judge(
    model: str,
    api_base: str,
    *,
    ladder: Ladder = SPECIARL,
    constraint: str = "choice",
    api_key_env: str | None = "OPENAI_API_KEY",
    **options: Any,
) -> LLMJudge:
    """An :class:`LLMJudge` over an OpenAI-compatible server. ``options``: concurrency,
    timeout, retries, backoff, on_failure, cache (a path), seed."""
    transport = OpenAITransport(model, api_base, constraint=constraint, api_key_env=api_key_env)
    return LLMJudge(transport, ladder=ladder, **options)
