"""Pulling the final answer out of a model completion.

>>> extract_answer("<think>a dog, maybe a spitz</think> <answer> Samoyed </answer>")
Answer(text='Samoyed', found=True)
>>> extract_answer("I think it is a samoyed")  # no <answer> tag
Answer(text=None, found=False)
>>> extract_answer([{"role": "assistant", "content": "<answer></answer>"}]).empty
True
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "completion_text", "extract_answer", "extract_answers", "has_content"]

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.IGNORECASE | re.DOTALL)
_TAGS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}
# Punctuation, separators, format and control characters: an answer made only of these
# ("." "..." "\u200b") says nothing and counts as empty.
_NO_CONTENT = ("P", "Z", "C")


def has_content(text: str | None) -> bool:
    """Whether ``text`` holds anything beyond punctuation, spaces and invisible characters.

    >>> has_content("..."), has_content("\u200b"), has_content("+"), has_content("a.")
    (False, False, True, True)
    """
    return bool(text) and any(
        unicodedata.category(c)[0] not in _NO_CONTENT
        for c in text  # type: ignore[union-attr]
    )


@dataclass(frozen=True)
class Answer:
    """An extracted answer. ``found`` is False when the completion holds no answer at all;
    an answer that is present but empty has ``found=True`` and ``text == ""``."""

    text: str | None
    found: bool

    @property
    def empty(self) -> bool:
        """Found, but nothing but punctuation, spaces or invisible characters."""
        return self.found and not has_content(self.text)


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """The text of a completion: a string, or chat messages as TRL passes them
    (``[{"role": "assistant", "content": ...}]``, content a string or a list of text parts)."""
    if isinstance(completion, str):
        return completion
    if completion is None:
        raise TypeError("completion is None; expected a string or a list of chat messages")
    parts: list[str] = []
    for message in completion:
        if not isinstance(message, Mapping):
            raise TypeError(
                f"chat completion must be a list of message dicts, got {type(message).__name__}"
            )
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
    return "\n".join(parts)


def extract_answer(
    completion: str | Sequence[Mapping[str, Any]], *, tag: str | None = "answer"
) -> Answer:
    """The last ``<tag>...</tag>`` outside ``<think>`` blocks, stripped.

    With ``tag=None`` the whole completion (``<think>`` blocks removed) is the answer. An
    unclosed ``<think>`` swallows the rest of the text; an unclosed answer tag is no answer.
    """
    text = _THINK.sub(" ", completion_text(completion))
    if tag is None:
        stripped = text.strip()
        return Answer(stripped, True)
    patterns = _TAGS.get(tag)
    if patterns is None:
        t = re.escape(tag)
        patterns = _TAGS[tag] = (re.compile(f"<{t}>", re.I), re.compile(f"</{t}>", re.I))
    opening, closing = patterns
    # The last closing tag, then the last opening tag before it: two linear scans, so a
    # completion that repeats "<answer>" a million times costs milliseconds, not hours.
    close = _last(closing.finditer(text))
    if close is None:
        return Answer(None, False)
    start = _last(opening.finditer(text, 0, close.start()))
    if start is None:
        return Answer(None, False)
    return Answer(text[start.end() : close.start()].strip(), True)


def _last(matches: Iterable[re.Match[str]]) -> re.Match[str] | None:
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def extract_answers(
    completions: Iterable[str | Sequence[Mapping[str, Any]]],
    *,
    tag: str | None = "answer",
    empty_is_missing: bool = True,
) -> tuple[list[str | None], list[bool]]:
    """Answers for a batch, with the ``answer_found`` flags reward rules take.

    By default an empty answer counts as missing (the SpeciaRL format penalty applies to a
    missing *or* empty answer); pass ``empty_is_missing=False`` to have it judged instead.

    >>> extract_answers(["<answer>dog</answer>", "<answer> </answer>", "dog"])
    (['dog', None, None], [True, False, False])
    """
    texts: list[str | None] = []
    found: list[bool] = []
    for completion in completions:
        answer = extract_answer(completion, tag=tag)
        ok = answer.found and not (empty_is_missing and answer.empty)
        texts.append(answer.text if ok else None)
        found.append(ok)
    return texts, found
