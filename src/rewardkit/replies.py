"""Reading a judge's reply: one verdict or none.

A judge's reply is untrusted text - the judge ignores output constraints, reasons aloud,
hedges, contradicts itself, and echoes the policy's answer. :func:`read_reply` reads it under
one rule: **a reply that states one verdict, in one of three anchored forms, is that verdict;
anything else is a failure** (``Reading.verdict is None`` with the reason in ``why``).

Before reading, the text is brought to what a person would see (:func:`skeleton`): Unicode
NFKD, format and control characters and combining marks dropped (a NUL or a zero-width space
cannot hide a line from the check), Greek and Cyrillic look-alike letters read as the Latin
letters they imitate ("VΕRDICT" is "VERDICT"), and lines split on ``\\n`` (and ``\\r\\n``) only:
U+2028, U+2029, U+0085 and the other separators do not start a line.

Thinking is declared, not guessed: with ``thinking=False`` (the default) any ``<think>`` or
``</think>`` tag is a failure - a judge that does not think can only have echoed it from the
answer it judges. With ``thinking=True`` the reply may hold one think block (opened by the reply
or by the prompt's template) and only the text after its closing tag is read; an unclosed,
repeated or stray tag is a failure.

The three forms:

- the whole reply is one label (a slug or a rung's display name: ``"Less specific."``);
- the whole reply is a JSON object (optionally fenced) with a ``"verdict"`` label; duplicate
  keys are a failure;
- the last non-empty line is ``VERDICT: <label>``.

Every other statement of a verdict in the reply must agree with it: an earlier ``VERDICT:``
line, a line that is a label on its own (``Generic`` above ``VERDICT: specific``), a verdict
word followed by a label anywhere (``Final verdict: generic``, ``the answer is generic``,
``"verdict": "generic"`` inside prose or a JSON string), and negated labels (``Not correct.``
disagrees with ``VERDICT: correct``). Replies over :data:`MAX_REPLY_CHARS` are a failure.
Reading is linear in the reply's length: no pattern backtracks over unbounded input.

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
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


@dataclass(frozen=True)
class Reading:
    """A reply read: its ``verdict`` slug, or ``None`` and ``why`` it has none."""

    verdict: str | None
    why: str | None = None


# -- what a person would see ---------------------------------------------------------------------

# Greek and Cyrillic (and a few other) letters that look like Latin ones.
_LOOKALIKES = str.maketrans(
    "АВСЕНІЈКМОРЅТХУҮаеіјорсѕхуԁһԛԝӏкмтв"
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορτυϲϳ"
    "ıȷɑɡʏօսᎪᏴᏟᎬᎻᏦᎷᏒᏚᎢᏙᏔᏃ",
    "ABCEHIJKMOPSTXYYaeijopcsxydhqwlkmtb"
    "ABEZHIKMNOPTYXaikvoptucj"
    "ijagyouABCEHKMRSTVWZ",
)


@lru_cache(maxsize=1)
def _table() -> dict[int, int | str | None]:
    """One ``str.translate`` table: format and control characters (but newline) and combining
    marks dropped, tab and the Unicode line and paragraph separators read as a space, look-alike
    letters as Latin. Built once from the Unicode database (the planes that hold any)."""
    drop = ("Cf", "Cc", "Mn", "Me")
    planes = (range(0x20000), range(0xE0000, 0xE1000))
    table: dict[int, int | str | None] = {
        cp: None for plane in planes for cp in plane if unicodedata.category(chr(cp)) in drop
    }
    del table[10]
    table.update({9: " ", 0x2028: " ", 0x2029: " "})
    table.update(_LOOKALIKES)
    return table


# ASCII text needs only its control characters dropped (a fast path for typical replies).
_ASCII_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_ASCII = {cp: None for cp in (*range(32), 127) if cp != 10} | {9: " "}


def skeleton(text: str) -> str:
    """``text`` as a person reads it (see the module docstring): what :func:`read_reply` and
    the ladder's labels are matched on.

    >>> skeleton("VΕR\u200bDICT:\u2028spécific")
    'VERDICT: specific'
    """
    text = text.replace("\r\n", "\n")
    if text.isascii():
        return text.translate(_ASCII) if _ASCII_CONTROL.search(text) else text
    return unicodedata.normalize("NFKD", text).translate(_table())


# -- labels --------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)  # called with at most 64 characters (see label_key)
def label_words(label: str) -> str:
    """A label's words as labels are compared: as a person reads them, lower case, ``_``, ``-``
    and spaces between words alike.

    >>> label_words("Less_Specific")
    'less specific'
    """
    return " ".join(re.split(r"[\s_-]+", skeleton(label).lower().strip()))


def label_key(text: str) -> str | None:
    """:func:`label_words` of ``text`` read as one label - surrounding markdown emphasis, quotes
    and one trailing period ignored - or ``None`` for empty text or text over 64 characters.

    >>> label_key(' **"Less specific."** ')
    'less specific'
    """
    text = text.strip().replace("*", "").replace("`", "").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if text.endswith("."):
        text = text[:-1].rstrip()
    if not text or len(text) > 64:
        return None
    return label_words(text)


# -- thinking ------------------------------------------------------------------------------------

_THINK_TAG = re.compile(r"<[ ]{0,3}(/?)[ ]{0,3}think[ ]{0,3}>", re.IGNORECASE)


def _after_thinking(text: str, thinking: bool) -> tuple[str | None, str | None]:
    tags = [(m.start(), m.end(), bool(m.group(1))) for m in _THINK_TAG.finditer(text)]
    if not tags:
        return text, None
    if not thinking:
        return None, "a think tag in the reply of a judge not configured as thinking"
    closes = [t for t in tags if t[2]]
    opens = [t for t in tags if not t[2]]
    if not closes:
        return None, "unclosed <think>: no verdict was given"
    if len(closes) > 1 or len(opens) > 1 or (opens and opens[0][0] > closes[0][0]):
        return None, "more than one think block"
    return text[closes[0][1] :], None


# -- statements of a verdict ---------------------------------------------------------------------

_STRICT = re.compile(r"[ *_#>`-]*verdict[ *_`]*:(.*)", re.IGNORECASE)
_KEYWORD = re.compile(
    r"(?<![a-z0-9])(?:verdict|answer|rating|grade|label|classification|judge?ment|decision|"
    r"conclusion)(?![a-z0-9])",
    re.IGNORECASE,
)
_SAID = re.compile(
    r"[ *_`\"'#]{0,8}(?::|=|->|=>|→|–|—|-|is |would be |should be )[ *_`\"']{0,8}"
    r"([^\n\"'`*,.;:!?(){}\[\]<>]{1,64})",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?:[-*+>#]|[0-9]{1,3}[.)])[ ]{0,3}")
_NEGATIONS = ("not ", "not-", "non-", "non ", "non", "in", "un", "isn't ", "is not ")


def _statement(label: Label, text: str) -> tuple[str, bool] | None:
    """``text`` as a stated verdict: (slug, negated), or None when it states none."""
    text = text.strip()
    slug = label(text)
    if slug is not None:
        return slug, False
    lower = text.lower()
    for prefix in _NEGATIONS:
        if lower.startswith(prefix):
            slug = label(lower[len(prefix) :].lstrip(" -"))
            if slug is not None:
                return slug, True
    return None


def _mentions(label: Label, text: str) -> Iterator[tuple[str, bool]]:
    """Verdicts stated in prose: a verdict word, a separator, a label."""
    for keyword in _KEYWORD.finditer(text):
        said = _SAID.match(text, keyword.end())
        if said is not None:
            found = _statement(label, said.group(1))
            if found is not None:
                yield found


def mentions(label: Label, text: str) -> list[str]:
    """The verdicts ``text`` states in prose the way a reply may: a verdict word, a separator
    and a label (``Final verdict: generic``, ``the answer is not specific``), negated or not.

    >>> from rewardkit.ladders import SPECIARL
    >>> mentions(SPECIARL.label, "cat. The grade is Specific, surely")
    ['specific']
    """
    return [slug for slug, _ in _mentions(label, skeleton(text))]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


_KEY_PARTS = re.compile(r"[\s_-]+")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


# -- the forms -----------------------------------------------------------------------------------


def _json_form(label: Label, text: str) -> Reading | None:
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
        strings = list(_strings(obj))
    except _DuplicateKey:
        return Reading(None, "JSON with duplicate keys")
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    keys = {k: _KEY_PARTS.split(skeleton(k).strip().lower()) for k in obj}
    values = [obj[k] for k, parts in keys.items() if parts == ["verdict"]]
    verdict = label(values[0]) if len(values) == 1 and isinstance(values[0], str) else None
    if verdict is None:
        return Reading(None, "JSON without one verdict label")
    said = [s for string in strings for s in _mentions(label, string)]
    for k, parts in keys.items():  # "final_verdict": "specific" beside "verdict": "generic"
        if "verdict" in parts and isinstance(obj[k], str):
            found = _statement(label, obj[k])
            said.extend([found] if found is not None else [])
    return _agreed(verdict, said)


def _lines_form(label: Label, text: str) -> Reading:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    final = _STRICT.fullmatch(lines[-1])
    verdict = None if final is None else label(final.group(1).strip())
    if verdict is None:
        return Reading(None, "no VERDICT: <label> last line")
    said = list(_mentions(label, text))
    for line in lines[:-1]:
        strict = _STRICT.fullmatch(line)
        if strict is not None and label(strict.group(1).strip()) is None:
            return Reading(None, "a VERDICT line that is not a label")
        if len(line) <= 80:  # a label on its own line (longer lines cannot be one)
            whole = _statement(label, _BULLET.sub("", line))
            if whole is not None:
                said.append(whole)
    return _agreed(verdict, said)


def _agreed(verdict: str, said: list[tuple[str, bool]]) -> Reading:
    for slug, negated in said:
        if negated == (slug == verdict):
            other = f"not {slug}" if negated else slug
            return Reading(None, f"two verdicts: {other} and {verdict}")
    return Reading(verdict)


def read_reply(label: Label, reply: object, *, thinking: bool = False) -> Reading:
    """Read ``reply`` with the ladder's ``label`` (see the module docstring)."""
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
    reading = _json_form(label, text)
    return reading if reading is not None else _lines_form(label, text)

