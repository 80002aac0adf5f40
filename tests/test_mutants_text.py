"""Text as a person reads it (rewardkit.text), pinned exactly: the ASCII fast path, line ends,
decomposed and compatibility letters, overlays, and how a whole label is read - the cases
`make mutate` found the suite let change."""

import pytest

from rewardkit.text import label_key, skeleton


@pytest.mark.parametrize(
    "text, seen",
    [
        ("plain text", "plain text"),
        ("a\r\nb\rc", "a\nbc"),  # \r\n is a line end; a lone \r is a control character
        ("a\tb", "a b"),
        ("a\x00b\x1fc\x7fd\ne", "abcd\ne"),
        ("spécific\r\n", "specific\n"),  # decomposed, then its accent dropped
        ("ｖｅｒｄｉｃｔ", "verdict"),  # full width
        ("ﬁnal", "final"),  # a ligature
        ("VΕR\u200bDICT:\u2028spécific", "VERDICT: specific"),
        ("x ≠ y", "x = not  y"),
        ("c\u0338orrect", "c not orrect"),
        ("\u3164generic", " generic"),  # a blank-looking letter
    ],
)
def test_skeleton(text, seen):
    assert skeleton(text) == seen


@pytest.mark.parametrize(
    "text, key",
    [
        (' **"Less specific."** ', "less specific"),
        ("`generic`", "generic"),
        ("~~Generic~~", "generic"),
        ("'generic'", "generic"),
        ('" *generic* "', "generic"),
        ('"generic', '"generic'),  # one quote is part of the text
        ('"', '"'),
        ("generic**.", "generic"),
        ("generic .", "generic"),
        ("Less_Specific", "less specific"),
        ("s*p*e*c*i*f*i*c", None),  # emphasis inside a word
        ("gen`eric", None),
        ("gen~eric", None),
        ("", None),
        ("  ", None),
        (".", None),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),
        ("x" * 64 + " *.", "x" * 64),  # what is left after the period: 64 characters
        ('""', None),  # a pair of quotes around nothing
        ("''", None),
        ("XrayX", "xrayx"),  # only quotes are taken off both ends, and X is no emphasis
        ("**Specific** .", "specific"),  # emphasis before the period's space
    ],
)
def test_label_key(text, key):
    assert label_key(text) == key
