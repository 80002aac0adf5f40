"""The transport protocol: what :class:`~rewardkit.judges.llm.LLMJudge` asks of a model server.

A transport makes one call - ``complete(messages, constraint, timeout)`` -> :class:`Reply` -
and says what about its calls can change a verdict (``identity()``); the judge keeps retries,
concurrency, caching and reading the reply. The :class:`Constraint` tells it the labels the
reply is held to, as a list (vLLM's ``choice``) or a JSON schema (hosted APIs).

>>> from rewardkit.ladders import BINARY
>>> constraint = Constraint(BINARY, ["correct", "wrong"])
>>> constraint.json_schema()["properties"]["verdict"]["enum"]
['correct', 'wrong']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..ladders import Ladder

__all__ = ["Reply", "Constraint", "Transport"]


@dataclass
class Reply:
    """What a call brought back: the reply's text, its tokens and its cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True, eq=False)
class Constraint:
    """The labels a judge's reply may be: ``choices`` (the prompt's labels, in ladder order)
    on ``ladder``."""

    ladder: Ladder
    choices: list[str]

    def json_schema(self) -> dict[str, Any]:
        """A JSON schema for a structured reply ``{"verdict": <one of the choices>}``."""
        return self.ladder.json_schema(self.choices)

    def response_format(self) -> dict[str, Any]:
        """The OpenAI ``response_format`` that holds a reply to :meth:`json_schema`."""
        return {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": self.json_schema(), "strict": True},
        }


class Transport(Protocol):
    name: str
    model: str
    endpoint: str  # the concurrency limit is per endpoint

    def identity(self) -> dict[str, Any]: ...

    async def complete(self, messages: list[dict], constraint: Constraint, timeout: float) -> Reply:
        """One call, its reply held to ``constraint`` where the server can hold it."""
        ...

    async def aclose(self) -> None: ...
