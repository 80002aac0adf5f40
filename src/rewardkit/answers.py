"""Pulling the final answer out of a model completion.

>>> extract_answer("<think>a dog, maybe a spitz</think> <answer> Samoyed </answer>")
Answer(text='Samoyed', found=True)
>>> extract_answer("I think it is a samoyed")  # no <answer> tag
Answer(text=None, found=False)
>>> extract_answer([{"role": "assistant", "content": "<answer></answer>"}]).empty
True

``mode="authors"`` reads answers as the SpeciaRL authors' code does: the first
``<answer>...</answer>`` anywhere, ``<think>`` blocks not looked at (closed or not), tags matched
case-sensitively:

>>> text = "<think>a <answer>dog</answer>, no</think> <answer>spitz</answer>"
>>> extract_answer(text).text, extract_answer(text, mode="authors").text
('spitz', 'dog')
>>> extract_answer("<think>unclosed <answer>dog</answer>", mode="authors")
Answer(text='dog', found=True)
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Answer",
    "MODES",
    "completion_text",
    "extract_answer",
    "extract_answers",
    "has_content",
]

#: Extraction modes: ``"strict"`` (rewardkit's, the default) and ``"authors"`` (SpeciaRL's code).
Mode = Literal["strict", "authors"]
MODES: tuple[str, ...] = ("strict", "authors")

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
    completion: str | Sequence[Mapping[str, Any]],
    *,
    tag: str | None = "answer",
    mode: Mode = "strict",
) -> Answer:
    """The last ``<tag>...</tag>`` outside ``<think>`` blocks, stripped.

    With ``tag=None`` the whole completion (``<think>`` blocks removed) is the answer. An
    unclosed ``<think>`` swallows the rest of the text; an unclosed answer tag is no answer.
    ``mode="authors"``: the first ``<tag>...</tag>`` anywhere, case-sensitive (see above).
    """
    if mode != "strict":
        return _authors(completion_text(completion), tag, mode)
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


def _authors(text: str, tag: str | None, mode: str) -> Answer:
    """The SpeciaRL authors' reading: ``re.search("<tag>(.*?)</tag>", text, re.DOTALL)``, done
    as two linear scans (the first opening tag, then the first closing tag after it)."""
    if mode != "authors":
        raise ValueError(f"extraction mode must be one of {', '.join(MODES)}, got {mode!r}")
    if tag is None:
        return Answer(text.strip(), True)
    opening, closing = f"<{tag}>", f"</{tag}>"
    start = text.find(opening)
    end = -1 if start < 0 else text.find(closing, start + len(opening))
    if end < 0:
        return Answer(None, False)
    return Answer(text[start + len(opening) : end].strip(), True)


def _last(matches: Iterable[re.Match[str]]) -> re.Match[str] | None:
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def extract_answers(
    completions: Iterable[str | Sequence[Mapping[str, Any]]],
    *,
    tag: str | None = "answer",
    empty_is_missing: bool = True,
    mode: Mode = "strict",
) -> tuple[list[str | None], list[bool]]:
    """Answers for a batch, with the ``answer_found`` flags reward rules take.

    By default an empty answer counts as missing (the SpeciaRL format penalty applies to a
    missing *or* empty answer); pass ``empty_is_missing=False`` to have it judged instead.
    Empty means no content (:func:`has_content`); with ``mode="authors"`` only an answer that
    is empty once stripped, as in the authors' code (``"..."`` is judged there).

    >>> extract_answers(["<answer>dog</answer>", "<answer> </answer>", "dog"])
    (['dog', None, None], [True, False, False])
    >>> extract_answers(["<answer>...</answer>"], mode="authors")
    (['...'], [True])
    """
    texts: list[str | None] = []
    found: list[bool] = []
    for completion in completions:
        answer = extract_answer(completion, tag=tag, mode=mode)
        empty = answer.text == "" if mode == "authors" else answer.empty
        ok = answer.found and not (empty_is_missing and empty)
        texts.append(answer.text if ok else None)
        found.append(ok)
    return texts, found
