"""Text as a person reads it: what judge replies, answer guards and labels are matched on.

A policy's answer and a judge's reply are attacker's text. Before anything is read from them,
:func:`skeleton` removes what a reader cannot see and maps what a reader would read alike:

- format and control characters (but newline), combining marks and every other character
  that attaches to the one before it are dropped - a NUL, a zero-width space or a run of
  accents cannot hide or split a word;
- blank-looking letters (Hangul fillers, the braille blank, the ogham space mark), tab and the
  Unicode line and paragraph separators read as a space: lines split on ``\\n`` (and
  ``\\r\\n``) only;
- strike-through and slash overlays (``≠``, ``∉``, ``c̸orrect``, ``s̶p̶e̶c̶``) read as the word
  "not": struck-out text is never read as what it strikes out;
- compatibility forms (full width, mathematical letters, ligatures) read as their plain
  letters (NFKD), and Greek, Cyrillic, Cherokee, Lisu and small-capital letters that imitate
  Latin ones read as those (``VΕRDICT`` is ``VERDICT``).

Marks are dropped *before* decomposing, so normalising stays linear in the text's length
(Unicode reorders runs of combining marks, which is quadratic in a run's length).

>>> skeleton("VΕR\\u200bDICT:\\u2028spécific")
'VERDICT: specific'
>>> skeleton("x ≠ y")
'x = not  y'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["skeleton", "label_words", "label_key"]

# Letters of other scripts that imitate Latin ones (a reader sees the Latin letter).
_LOOKALIKES = dict(
    zip(
        map(
            ord,
            "АВСЕНІЈКМОРЅТХУҮаеіјорсѕхуԁһԛԝӏкмтвԌ"
            "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορτυϲϳς"
            "ıȷɑɡʏօսᎪᏴᏟᎠᎬᎻᏦᎷᏒᏚᎢᏙᏔᏃᏞᏢᏀ"
            "ꓮꓐꓚꓓꓰꓝꓖꓧꓲꓙꓗꓡꓟꓠꓳꓑꓣꓢꓔꓴꓦꓪꓫꓬꓜ"
            "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ",
        ),
        "ABCEHIJKMOPSTXYYaeijopcsxydhqwlkmtbG"
        "ABEZHIKMNOPTYXaikvoptucjc"
        "ijagyouABCDEHKMRSTVWZLPG"
        "ABCDEFGHIJKLMNOPRSTUVWXYZ"
        "abcdefghijklmnoprstuvwyz",
    )
)
_BLANKS = (0x9, 0x1680, 0x2028, 0x2029, 0x2800, 0x3164, 0x115F, 0x1160, 0xFFA0)
_OVERLAYS = (0x334, 0x335, 0x336, 0x337, 0x338, 0x20D2, 0x20D3, 0x20E5, 0x20EB)


@lru_cache(maxsize=1)
def _table() -> dict[int, int | str | None]:
    """One ``str.translate`` table for everything above, built once from the Unicode database
    (the planes that hold any such character)."""
    drop = ("Cf", "Cc", "Mn", "Me")
    planes = (range(0x20000), range(0xE0000, 0xE1000))
    table: dict[int, int | str | None] = {}
    for cp in (c for plane in planes for c in plane):
        char = chr(cp)
        if cp != 10 and (unicodedata.category(char) in drop or unicodedata.combining(char)):
            table[cp] = None
    table.update({cp: " " for cp in _BLANKS})
    table.update({cp: " not " for cp in _OVERLAYS})
    table.update(_LOOKALIKES)
    return table


# ASCII text needs only its control characters dropped (a fast path for typical replies).
_ASCII_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_ASCII = {cp: None for cp in (*range(32), 127) if cp != 10} | {9: " "}


def skeleton(text: str) -> str:
    """``text`` as a person reads it (see the module docstring); linear in its length."""
    text = text.replace("\r\n", "\n")
    if text.isascii():
        return text.translate(_ASCII) if _ASCII_CONTROL.search(text) else text
    table = _table()
    return unicodedata.normalize("NFKD", text.translate(table)).translate(table)


@lru_cache(maxsize=4096)  # called with at most 64 characters (see label_key)
def label_words(label: str) -> str:
    """A label's words as labels are compared: as a person reads them, lower case, ``_``, ``-``
    and spaces between words alike.

    >>> label_words("Less_Specific")
    'less specific'
    """
    return " ".join(re.split(r"[\s_-]+", skeleton(label).lower().strip()))


_EMPHASIS = "*_`~"


def label_key(text: str) -> str | None:
    """:func:`label_words` of ``text`` read as one label - surrounding markdown emphasis, quotes
    and one trailing period ignored (emphasis inside a word is not: ``s*p*e*c*i*f*i*c`` is no
    label) - or ``None`` for empty text or text over 64 characters.

    >>> label_key(' **"Less specific."** ')
    'less specific'
    """
    text = text.strip().strip(_EMPHASIS).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip().strip(_EMPHASIS).strip()
    if text.endswith("."):
        text = text[:-1].rstrip().rstrip(_EMPHASIS).rstrip()
    if not text or len(text) > 64 or any(c in text for c in "*`~"):
        return None
    return label_words(text)
