"""A LiteLLM transport: any provider LiteLLM speaks (``openai/...``, ``anthropic/...``,
``hosted_vllm/NAME`` with an ``api_base``). Needs ``rewardkit-rl[litellm]``.

litellm is imported on first use, with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` set by default so
the import does not fetch a cost map from the internet. rewardkit's own reliability layer
(:class:`~rewardkit.judges.llm.LLMJudge`) does the retries, concurrency and caching: litellm's
``num_retries``, caches and router limits are not used.

The constraint: vLLM's ``structured_outputs`` choice for ``hosted_vllm/`` models, a JSON-schema
``response_format`` for other providers, or ``constraint="none"`` for plain parsing.
``mock_response`` answers without any HTTP call (for tests).

**The endpoint, however it is set, is in the identity.** LiteLLM takes the server from
``api_base``, else from ``litellm.api_base``, else from environment variables (``OPENAI_BASE_URL``,
``OPENAI_API_BASE``, ``HOSTED_VLLM_API_BASE``, ``ANTHROPIC_BASE_URL``, ``AZURE_API_BASE``, ...).
All of these are read when the judge is built (:func:`endpoint_settings`) and go into the cache
identity, so two servers never share verdicts; a call made after any of them changed fails with
a configuration error rather than reach a server the identity does not name.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..extras import require
from ..ladders import SPECIARL, Ladder
from ..urls import redact, redact_url
from .llm import LLMJudge, TransportError
from .llm_options import CONSTRAINTS
from .transport import Constraint, Reply

__all__ = ["LiteLLMTransport", "litellm_judge", "endpoint_settings"]

# Where litellm 1.110 reads an endpoint from the environment: ``{PROVIDER}_API_BASE`` (and
# ``_BASE_URL``, ``_URL``, ``_ENDPOINT``) for most providers, with these exceptions. The OpenAI
# variables count for every provider: LiteLLM's OpenAI-compatible routes and the openai client
# under them fall back to them. A model without a provider prefix (LiteLLM guesses the provider
# from its name: "claude-..." is anthropic) counts every ``*_API_BASE`` and ``*_BASE_URL``.
# Reading more variables than LiteLLM does only costs cache hits.
_ALWAYS = ("OPENAI_BASE_URL", "OPENAI_API_BASE")
_EXTRA = {
    "azure": ("AZURE_API_BASE",),
    "bedrock": ("AWS_BEDROCK_RUNTIME_ENDPOINT",),
    "vertex_ai": ("VERTEXAI_API_BASE", "VERTEX_API_BASE"),
    "watsonx": ("WX_URL", "WML_URL"),
    "together_ai": ("TOGETHERAI_API_BASE",),
}
_SUFFIXES = ("_API_BASE", "_BASE_URL", "_API_URL", "_ENDPOINT", "_URL")
# These send every call to a LiteLLM proxy, api_base or not.
_REROUTE = ("USE_LITELLM_PROXY", "LITELLM_PROXY_API_BASE")


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def _module_settings(names: tuple[str, ...]) -> dict[str, str]:
    """``litellm.<name>`` settings, when litellm is imported (it is not imported for this)."""
    litellm = sys.modules.get("litellm")
    values = {f"litellm.{n}": getattr(litellm, n, None) for n in names} if litellm else {}
    return {k: v if isinstance(v, str) else repr(v) for k, v in values.items() if v}


def endpoint_settings(model: str, *, api_base: str | None = None) -> dict[str, str]:
    """Every setting from which LiteLLM may take ``model``'s server besides ``api_base``, with
    its value (unset ones left out): the environment variables for its provider,
    ``litellm.api_base`` and the proxy switches. With an ``api_base``, the proxy switches only."""
    names = set(_REROUTE)
    if not api_base:
        provider = _provider(model)
        prefixes = {provider.upper().replace("-", "_").replace(".", "_")}
        prefixes |= {p.removesuffix("_AI") for p in prefixes}
        names |= set(_ALWAYS) | set(_EXTRA.get(provider, ()))
        guessed = "/" not in model  # LiteLLM picks the provider from the name
        for n in os.environ:
            ours = n.endswith(_SUFFIXES) and any(n.startswith(p + "_") for p in prefixes)
            if ours or (guessed and n.endswith(("_API_BASE", "_BASE_URL"))):
                names.add(n)
    found = {n: os.environ[n] for n in sorted(names) if os.environ.get(n)}
    return found | _module_settings(
        ("use_litellm_proxy",) if api_base else ("api_base", "use_litellm_proxy")
    )


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its help banners go to stdout, the command's output
    return litellm


class LiteLLMTransport:
    name = "litellm"

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        constraint: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 16,
        mock_response: Any = None,
        **completion_kwargs: Any,
    ) -> None:
        require("litellm", what="the litellm judge")
        if constraint is None:
            constraint = "choice" if model.startswith("hosted_vllm/") else "json_schema"
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be choice, json_schema or none, got {constraint!r}")
        self.model, self.api_base, self.constraint = model, api_base, constraint
        # Read once: the identity names the server, and calls check it has not moved.
        self.settings = endpoint_settings(model, api_base=api_base)
        self.endpoint = redact_url(api_base or _primary(model, self.settings) or _provider(model))
        self.temperature, self.max_tokens = temperature, max_tokens
        self.mock_response = mock_response
        self.completion_kwargs = completion_kwargs

    def identity(self) -> dict[str, Any]:
        """Everything about the calls that can change a verdict (not keys or secrets)."""
        return {
            "transport": self.name,
            "endpoint": self.api_base,
            "endpoint_settings": self.settings,
            "model": self.model,
            "constraint": self.constraint,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "mock_response": repr(self.mock_response) if self.mock_response is not None else None,
            "kwargs": {k: v for k, v in sorted(self.completion_kwargs.items()) if not _secret(k)},
        }

    def kwargs(self, messages: list[dict], constraint: Constraint, timeout: float) -> dict:
        if endpoint_settings(self.model, api_base=self.api_base) != self.settings:
            raise TransportError(
                "LiteLLM's endpoint settings changed since the judge was built (litellm.api_base "
                "or an *_API_BASE / *_BASE_URL variable): build a new judge",
                retryable=False,
                kind="endpoint changed",
                fatal=True,
            )
        kw: dict[str, Any] = dict(
            model=self.model,
            messages=messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=timeout,
            num_retries=0,
            **self.completion_kwargs,
        )
        if self.api_base:
            kw["api_base"] = self.api_base
        if self.constraint == "choice":
            kw["extra_body"] = {
                **(kw.get("extra_body") or {}),
                "structured_outputs": {"choice": constraint.choices},
            }
        elif self.constraint == "json_schema":
            kw["response_format"] = constraint.response_format()
            kw["max_tokens"] = max(self.max_tokens, 32)
        if self.mock_response is not None:
            kw["mock_response"] = self.mock_response
        return kw

    async def complete(self, messages: list[dict], constraint: Constraint, timeout: float) -> Reply:
        litellm = _litellm()
        self._check_provider(litellm)
        try:
            response = await litellm.acompletion(**self.kwargs(messages, constraint, timeout))
        except litellm.Timeout as e:
            raise TimeoutError(str(e)) from None
        except (
            litellm.AuthenticationError,
            litellm.PermissionDeniedError,
            litellm.NotFoundError,
        ) as e:
            status = getattr(e, "status_code", None)
            raise TransportError(
                self._scrub(f"{type(e).__name__}: {e}"), retryable=False, status=status, fatal=True
            ) from None
        except (
            litellm.RateLimitError,
            litellm.APIConnectionError,
            litellm.ServiceUnavailableError,
            litellm.InternalServerError,
        ) as e:
            raise TransportError(
                self._scrub(f"{type(e).__name__}: {e}"),
                retryable=True,
                status=getattr(e, "status_code", None),
            ) from None
        except litellm.APIError as e:
            status = getattr(e, "status_code", None)
            raise TransportError(
                self._scrub(f"{type(e).__name__}: {e}"),
                retryable=bool(status and status >= 500),
                status=status,
            ) from None
        try:
            text = response.choices[0].message.content
            finish = getattr(response.choices[0], "finish_reason", None)
        except (AttributeError, IndexError, TypeError):
            text = finish = None
        if not isinstance(text, str) or finish == "length":
            why = (
                "cut off at max_tokens (finish_reason 'length')"
                if isinstance(text, str)
                else f"content is {type(text).__name__}, not a string"
            )
            raise TransportError(
                f"malformed reply: {why}",
                retryable=False,
                kind="malformed reply",
            )
        usage = getattr(response, "usage", None)
        cost = 0.0
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown model prices: no cost reported
            cost = 0.0
        return Reply(text, _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"), cost)

    def _check_provider(self, litellm: Any) -> None:
        """A model LiteLLM cannot place with a provider stops the judge at its first call (a
        configuration error, not one failure per pair)."""
        if getattr(self, "_provider_ok", False):
            return
        try:
            litellm.get_llm_provider(
                self.model,
                custom_llm_provider=self.completion_kwargs.get("custom_llm_provider"),
                api_base=self.api_base,
            )
        except Exception:
            raise TransportError(
                f"LiteLLM cannot tell the provider of model {self.model!r}: name it as "
                "PROVIDER/MODEL (openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
                "hosted_vllm/NAME with an api_base)",
                retryable=False,
                kind="no provider",
                fatal=True,
            ) from None
        self._provider_ok = True

    def _scrub(self, text: str) -> str:
        """``text`` without the passwords of the endpoint's URLs (LiteLLM's errors quote them)."""
        from urllib.parse import urlsplit

        for url in (self.api_base or "", *self.settings.values()):
            try:
                password = urlsplit(url).password
            except ValueError:
                continue
            if password:
                text = text.replace(password, "***")
        return redact(text)  # and any URL's password or secret query value

    async def aclose(self) -> None:
        return None


def _primary(model: str, settings: dict[str, str]) -> str | None:
    """The server LiteLLM will call, as far as the settings tell (for messages and the
    concurrency limit; the identity holds all of them)."""
    provider = _provider(model)
    upper = provider.upper()
    own = _ALWAYS if provider == "openai" else (f"{upper}_API_BASE", f"{upper}_BASE_URL")
    for name in ("litellm.api_base", *own, *_EXTRA.get(provider, ())):
        if name in settings:
            return settings[name]
    return next((v for v in settings.values() if "://" in v), None)


def _secret(name: str) -> bool:
    name = name.lower()
    return (
        name.endswith(("key", "secret", "password"))
        or name.endswith(("_token", "token"))
        and ("max" not in name)
    )


def _count(usage: Any, name: str) -> int:
    value = getattr(usage, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def litellm_judge(
    model: str,
    *,
    api_base: str | None = None,
    ladder: Ladder = SPECIARL,
    constraint: str | None = None,
    mock_response: Any = None,
    temperature: float = 0.0,
    max_tokens: int = 16,
    extra_body: dict[str, Any] | None = None,
    **options: Any,
) -> LLMJudge:
    """An :class:`LLMJudge` over LiteLLM. ``options``: prompt, concurrency, timeout, retries,
    backoff, on_failure, max_failure_rate, cache (a path), seed."""
    extra = {"extra_body": extra_body} if extra_body else {}
    transport = LiteLLMTransport(
        model,
        api_base=api_base,
        constraint=constraint,
        mock_response=mock_response,
        temperature=temperature,
        max_tokens=max_tokens,
        **extra,
    )
    return LLMJudge(transport, ladder=ladder, **options)
