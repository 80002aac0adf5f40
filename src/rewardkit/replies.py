"""Reading a judge's reply: one verdict or none.

A judge's reply is untrusted text - the judge ignores output constraints, reasons aloud,
hedges, contradicts itself, and echoes the policy's answer. :func:`read_reply` reads it under
one rule: **a reply that states one verdict, in one of three anchored forms, is that verdict;
anything else is a failure** (``Reading.verdict is None`` with the reason in ``why``).

Before reading, the text is brought to what a person would see
(:func:`rewardkit.text.skeleton`): invisible characters and combining marks dropped (a NUL or
a zero-width space cannot hide a line from the check), struck-out text read as "not",
look-alike letters of other scripts read as the Latin letters they imitate ("VΕRDICT" is
"VERDICT"), and lines split on ``\\n`` (and ``\\r\\n``) only: U+2028, U+2029, U+0085 and the
other separators do not start a line. Lines without a letter or digit (``---``, a code
fence) are skipped.

Thinking is declared, not guessed: with ``thinking=False`` (the default) any ``<think>`` or
``</think>`` tag is a failure - a judge that does not think can only have echoed it from the
answer it judges. With ``thinking=True`` the reply must hold one think block, closed (opened by
the reply or by the prompt's template), and only the text after its closing tag is read; a
missing, unclosed, repeated or stray tag is a failure (a reply cut off while thinking has no
verdict).

The three forms:

- the whole reply is one label (a slug or a rung's display name: ``"Less specific."``);
- the whole reply is a JSON object (optionally fenced) with a ``"verdict"`` label; duplicate
  keys are a failure;
- the last line is ``VERDICT: <label>`` (or ``Final verdict: <label>``).

Every other statement of a verdict in the reply - in prose, in a JSON string or key, at any
depth - must agree with it. A statement is a label that a line starts with or is alone on
(bullets, numbers, headings, brackets and punctuation around it ignored: ``Generic``,
``- generic``, ``(Generic)``, ``## Generic!``), a table cell, or a label that follows within
three words a verdict word (verdict, answer, grade, result, assessment, ...), a copula (is,
are, was, seems, rated, ...) or a separator (``:``, ``=``, ``->``, ``|``): ``Final verdict:
generic because ...``, ``the answer is generic``. A label with a negation before it (not,
never, no, non-, in-, un-, ``¬``, ``≠``) or a "no" after it (``Correct: no``, ``Is it correct?
No.``) states *not* that label. Replies over :data:`MAX_REPLY_CHARS` are a failure. Reading
is linear in the reply's length: no pattern backtracks over unbounded input.

>>> from rewardkit.ladders import SPECIARL, BINARY
>>> SPECIARL.reading("Close parent.\\nVERDICT: less specific").verdict
'less_specific'
>>> SPECIARL.reading("Final verdict: generic\\nVERDICT: specific").why
'two verdicts: generic and specific'
>>> BINARY.reading("Not correct.\\nVERDICT: correct").why
'two verdicts: not correct and correct'
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from .text import label_key, label_words, skeleton

__all__ = [
    "MAX_REPLY_CHARS",
    "Reading",
    "label_key",
    "label_words",
    "mentions",
    "read_reply",
    "skeleton",
]

#: Longest reply read (characters); a longer one is a failure with its reason.
MAX_REPLY_CHARS = 65536

#: ``label(text) -> slug or None``: the ladder's reading of a whole label.
Label = Callable[[str], "str | None"]
#: A stated verdict: (slug, negated).
Said = tuple[str, bool]


@dataclass(frozen=True)
class Reading:
    """A reply read: its ``verdict`` slug, or ``None`` and ``why`` it has none."""

    verdict: str | None
    why: str | None = None


# -- thinking ------------------------------------------------------------------------------------

_THINK_TAG = re.compile(r"<[ ]{0,3}(/?)[ ]{0,3}think[ ]{0,3}>", re.IGNORECASE)


def _after_thinking(text: str, thinking: bool) -> tuple[str | None, str | None]:
    tags = [(m.start(), m.end(), bool(m.group(1))) for m in _THINK_TAG.finditer(text)]
    if not thinking:
        if tags:
            return None, "a think tag in the reply of a judge not configured as thinking"
        return text, None
    closes = [t for t in tags if t[2]]
    opens = [t for t in tags if not t[2]]
    if not closes:
        return None, "no </think>: the judge was cut off while thinking"
    if len(closes) > 1 or len(opens) > 1 or (opens and opens[0][0] > closes[0][0]):
        return None, "more than one think block"
    return text[closes[0][1] :], None


# -- statements ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[¬✗✘❌?:=|→⇒.,;!]|->|=>", re.IGNORECASE)
_NEGATIONS = {
    *("not", "no", "never", "non", "neither", "nor", "without", "hardly", "cannot", "can't"),
    *("isn't", "aren't", "wasn't", "weren't", "doesn't", "don't", "isnt", "n't", "¬"),
}
_NO = {"no", "nope", "false", "✗", "✘", "❌", "incorrect", "wrong", "n"}
_LEADS = {
    *("verdict", "answer", "rating", "grade", "label", "classification", "judgement"),
    *("judgment", "decision", "conclusion", "result", "final", "assessment", "evaluation"),
    *("category", "score", "correctness", "output", "response", "prediction", "class"),
    *("is", "are", "was", "were", "be", "been", "being", "seems", "seem", "looks", "remains"),
    *("becomes", "rated", "graded", "classified", "considered", "deemed", "judged", "'s"),
    *(":", "=", "->", "=>", "→", "⇒", "|"),
}
_PREFIXES = ("non", "un", "in")
_ASKS = {"?", ":", "=", "|", "->", "→"}
# What may follow a label that opens a line for the line to state it ("Generic because ...").
_THEN = {".", ",", ";", "!", ":", "=", "|", "->", "→", "because", "since", "as", "so"}
_AROUND = re.compile(r"^(?:[-*+>#•·▪◦–—→]+|[0-9a-z]{1,3}[.)]|\(?[0-9a-z]{1,2}\))*[ ]*", re.I)
_EDGES = " \t*_`~\"'()[]{}<>!?:;.,"


def _whole(label: Label, text: str) -> Said | None:
    """``text`` as one label (bullets, numbers, brackets and punctuation around it ignored),
    or as one negated label (``not specific``, ``non-specific``, ``incorrect``)."""
    text = _AROUND.sub("", text.strip(), count=1).strip(_EDGES)
    if not text or len(text) > 80:
        return None
    slug = label(text)
    if slug is not None:
        return slug, False
    words = [t.lower() for t in _TOKEN.findall(text)]
    if len(words) >= 2 and words[0] in _NEGATIONS:
        slug = label(" ".join(words[1:]))
        return (slug, True) if slug is not None else None
    if len(words) <= 2:  # "incorrect", "in-correct"
        return _prefixed(label, "".join(words))
    return None


def _prefixed(label: Label, word: str) -> Said | None:
    """``incorrect``, ``unspecific``: a negating prefix on a label."""
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            slug = label(word[len(prefix) :])
            if slug is not None:
                return slug, True
    return None


def _scan(label: Label, words: Collection[str] | None, line: str) -> Iterator[Said]:
    """Labels stated in one line of prose (see the module docstring)."""
    tokens = [t.lower() for t in _TOKEN.findall(line)]
    i = 0
    while i < len(tokens):
        found, end = None, i + 1
        if words is None or tokens[i] in words:
            for n in (3, 2, 1):
                gram = tokens[i : i + n]
                whole = len(gram) == n and all(t[0].isalnum() for t in gram)
                slug = label(" ".join(gram)) if whole else None
                if slug is not None:
                    found, end = (slug, False), i + n
                    break
        if found is None:
            found = _prefixed(label, tokens[i])
        if found is not None:
            before, after = tokens[max(0, i - 3) : i], tokens[end : end + 3]
            negated = found[1] or any(t in _NEGATIONS for t in before)
            negated = negated or (bool(after) and after[0] in _ASKS and bool(_NO & {*after[1:]}))
            opens = i == 0 and (not after or after[0] in _THEN)
            if negated or opens or any(t in _LEADS for t in before):
                yield found[0], negated
        i = end


def _statements(label: Label, words: Collection[str] | None, text: str) -> Iterator[Said]:
    """Every verdict ``text`` states, line by line: whole lines, table cells and prose."""
    for line in text.split("\n"):
        whole = _whole(label, line)
        if whole is not None:
            yield whole
            continue
        if "|" in line:
            for cell in line.split("|"):
                said = _whole(label, cell)
                if said is not None:
                    yield said
        yield from _scan(label, words, line)


def mentions(label: Label, text: str) -> list[str]:
    """The verdicts ``text`` states the way a reply may (``Final verdict: generic``, ``the
    answer is not specific``, a label alone on a line), negated or not.

    >>> from rewardkit.ladders import SPECIARL
    >>> mentions(SPECIARL.label, "cat. The grade is Specific, surely")
    ['specific']
    """
    return [slug for slug, _ in _statements(label, None, skeleton(text))]


def _agreed(verdict: str, said: Iterator[Said] | list[Said]) -> Reading:
    for slug, negated in said:
        if negated == (slug == verdict):
            other = f"not {slug}" if negated else slug
            return Reading(None, f"two verdicts: {other} and {verdict}")
    return Reading(verdict)


# -- the JSON form -------------------------------------------------------------------------------

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _key_words(key: str) -> list[str]:
    return [w for w in _NOT_ALNUM.split(_CAMEL.sub(r"\1 \2", skeleton(key)).lower()) if w]


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _walk(value: Any) -> Iterator[tuple[list[str], Any]]:
    """(key words, value) of every member at any depth; list items carry no key."""
    stack: list[tuple[list[str], Any]] = [([], value)]
    while stack:
        words, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((_key_words(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(([], v) for v in item)
        else:
            yield words, item


def _json_form(label: Label, words: Collection[str] | None, text: str) -> Reading | None:
    """The reply as a JSON object, or None when it is not one."""
    if text.startswith("```"):
        text = text[3:]
        if text[:4].lower() == "json":
            text = text[4:]
        text = text.removesuffix("```").strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
        members = list(_walk(obj)) if isinstance(obj, dict) else []
    except _DuplicateKey:
        return Reading(None, "JSON with duplicate keys")
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    top = [v for k, v in obj.items() if _key_words(k) == ["verdict"]]
    verdicts = {label(v) if isinstance(v, str) else None for v in top}
    if len(verdicts) != 1 or None in verdicts:
        return Reading(None, "JSON without one verdict label")
    said: list[Said] = []
    for keys, value in members:
        if isinstance(value, str):
            seen = skeleton(value)
            if keys and keys[-1] in _LEADS:  # "finalVerdict": "generic"
                said.extend(_scan(label, None, f"{keys[-1]} : {seen}"))
            said.extend(_statements(label, words, seen))
    return _agreed(verdicts.pop(), said)  # type: ignore[arg-type]


# -- the lines form ------------------------------------------------------------------------------

_STRICT = re.compile(r"[ *_#>`-]*(?:final[ *_`]*)?verdict[ *_`]*:(.*)", re.IGNORECASE)
_ALNUM = re.compile(r"[^\W_]")


def _lines_form(label: Label, words: Collection[str] | None, text: str) -> Reading:
    lines = [line.strip() for line in text.split("\n") if _ALNUM.search(line)]
    final = _STRICT.fullmatch(lines[-1]) if lines else None
    verdict = None if final is None else label(final.group(1).strip())
    if verdict is None:
        return Reading(None, "no VERDICT: <label> last line")
    for line in lines[:-1]:
        strict = _STRICT.fullmatch(line)
        if strict is not None and label(strict.group(1).strip()) is None:
            return Reading(None, "a VERDICT line that is not a label")
    return _agreed(verdict, _statements(label, words, "\n".join(lines[:-1])))


def read_reply(
    label: Label, reply: object, *, thinking: bool = False, words: Collection[str] | None = None
) -> Reading:
    """Read ``reply`` with the ladder's ``label`` (see the module docstring). ``words``, the
    words the ladder's labels are made of, only speeds the reading up."""
    if not isinstance(reply, str):
        return Reading(None, f"reply is {type(reply).__name__}, not text")
    if len(reply) > MAX_REPLY_CHARS:
        return Reading(None, f"reply over {MAX_REPLY_CHARS} characters")
    text, why = _after_thinking(skeleton(reply), thinking)
    if text is None:
        return Reading(None, why)
    text = text.strip()
    if not text:
        return Reading(None, "empty reply")
    whole = label(text)
    if whole is not None:
        return Reading(whole)
    reading = _json_form(label, words, text)
    return reading if reading is not None else _lines_form(label, words, text)
