"""Ordinal verifier ladders: ordered verdict rungs, their scores, and the text a judge needs.

A :class:`Ladder` owns everything about its verdicts - order, scores, which rungs count as
correct, the definitions and choice list shown to a judge, and parsing a judge's reply back -
so prompts, parsers and reward rules cannot drift apart.

>>> from rewardkit.ladders import SPECIARL
>>> SPECIARL.slugs
('wrong', 'abstain', 'generic', 'less_specific', 'specific', 'more_specific')
>>> SPECIARL.parse("The prediction names a close parent.\\nVERDICT: Less specific")
'less_specific'
>>> SPECIARL.parse("It is generic, not specific.") is None  # a label word is not a verdict
True
>>> SPECIARL.encode(["specific", None, "wrong"]).tolist()
[4, -1, 0]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .guards import DEFAULT_GUARD, AnswerGuard
from .replies import Reading, read_reply
from .text import label_key, label_words

__all__ = [
    "MISSING",
    "Rung",
    "Ladder",
    "SPECIARL",
    "BINARY",
    "CANONICALISERS",
    "exact",
    "label_text",
]

#: Code of a missing verdict (the judge failed or the answer was not judged).
MISSING = -1

_SLUG = re.compile(r"[a-z][a-z0-9_]*")


# -- canonicalisers: which predictions mean the same thing (de-dup and cache keys) ---------------


def exact(text: str) -> str:
    """The string as written: two predictions are one judgement only when they are equal."""
    return text


_SPACE = re.compile(r"\s+")


def label_text(text: str) -> str:
    """A short free-text label: Unicode NFKC, case-folded, whitespace collapsed, surrounding
    whitespace and one trailing period removed. Signs, digits' punctuation, operators and list
    separators are kept, so "737-800", "737 800" and "samoyed/dog" stay distinct.

    >>> label_text("  Golden  Retriever. ")
    'golden retriever'
    >>> label_text("x-1") == label_text("x+1")
    False
    """
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    if text.endswith("."):
        text = text[:-1].rstrip()
    return text


#: Canonicalisers by name; a ladder names one (or is given any ``str -> str`` function).
CANONICALISERS: dict[str, Callable[[str], str]] = {"exact": exact, "label": label_text}


def _canonical_id(canonical: Callable[[str], str], ladder: str) -> str:
    """The canonicaliser as a cache identity names it: qualified name plus a hash of its code
    (:func:`rewardkit.fingerprint.fingerprint`). A lambda or a function defined inside another
    function is refused with a :class:`ValueError`: use a named module-level function."""
    from .fingerprint import fingerprint

    return fingerprint(canonical, what=f"ladder {ladder!r}: canonicaliser")


@dataclass(frozen=True)
class Rung:
    """One verdict on a ladder.

    ``score`` is the rung's specificity score (used by metrics and by graded and group rules);
    ``correct`` says whether the rung counts as a correct (non-wrong) answer.
    """

    slug: str
    name: str
    score: float
    correct: bool
    description: str = ""


class Ladder:
    """An ordered set of rungs, worst first.

    >>> math = Ladder("math", [
    ...     Rung("wrong", "Wrong", 0, False, "the final answer is incorrect"),
    ...     Rung("partial", "Partial", 1, True, "right method, arithmetic slip"),
    ...     Rung("correct", "Correct", 2, True, "the final answer is correct"),
    ... ])
    >>> math.index("partial"), math.max_score
    (1, 2.0)
    """

    def __init__(
        self,
        name: str,
        rungs: Sequence[Rung],
        *,
        task: str = "",
        canonical: str | Callable[[str], str] = "exact",
        guard: AnswerGuard = DEFAULT_GUARD,
    ) -> None:
        rungs = tuple(rungs)
        if len(rungs) < 2:
            raise ValueError(f"ladder {name!r} needs at least two rungs, got {len(rungs)}")
        seen: set[str] = set()
        for rung in rungs:
            if not isinstance(rung, Rung):
                raise TypeError(f"ladder {name!r}: expected Rung, got {type(rung).__name__}")
            if not isinstance(rung.slug, str) or not _SLUG.fullmatch(rung.slug):
                raise ValueError(
                    f"ladder {name!r}: slug {rung.slug!r} must be lower-case letters, digits, _"
                )
            if rung.slug in seen:
                raise ValueError(f"ladder {name!r}: duplicate slug {rung.slug!r}")
            seen.add(rung.slug)
            if not np.isfinite(rung.score) or rung.score < 0:
                raise ValueError(f"ladder {name!r}: rung {rung.slug!r} has bad score {rung.score}")
        if not any(r.correct for r in rungs):
            raise ValueError(f"ladder {name!r} has no correct rung")
        if isinstance(canonical, str):
            if canonical not in CANONICALISERS:
                raise ValueError(
                    f"ladder {name!r}: unknown canonicaliser {canonical!r}; "
                    f"expected one of {', '.join(CANONICALISERS)} or a function"
                )
            self.canonical_name, self._canonical = canonical, CANONICALISERS[canonical]
        elif callable(canonical):
            self._canonical = canonical
        else:
            raise TypeError(f"ladder {name!r}: canonical must be a name or a function")
        self.canonical_id = _canonical_id(self._canonical, name)
        if not isinstance(canonical, str):  # module.qualname, as the fingerprint names it
            self.canonical_name = self.canonical_id.partition("@")[0]
        if not isinstance(guard, AnswerGuard):
            raise TypeError(f"ladder {name!r}: guard must be an AnswerGuard")
        if guard.rung_names or guard.verdict_syntax:  # checks that read the rung labels
            guard = guard.for_labels([label for r in rungs for label in (r.slug, r.name)])
        self.name = name
        self.rungs = rungs
        self.task = task
        #: Which predictions a judge never sees (:mod:`rewardkit.guards`).
        self.guard = guard
        self._index = {r.slug: i for i, r in enumerate(rungs)}
        # A judge may write the slug or the display name ("Less specific"), in any case.
        self._labels: dict[str, str] = {}
        for r in rungs:
            self._labels.setdefault(label_words(r.slug), r.slug)
        for r in rungs:
            self._labels.setdefault(label_words(r.name), r.slug)
        #: The words labels are made of (a prefilter for reading prose).
        self._words = frozenset(w for key in self._labels for w in key.split())

    def __repr__(self) -> str:
        return f"Ladder({self.name!r}, {list(self.slugs)!r})"

    def __len__(self) -> int:
        return len(self.rungs)

    def __iter__(self):
        return iter(self.rungs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ladder) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.name, self.rungs, self.canonical_name, self.guard)

    # -- order and arrays -------------------------------------------------------------------

    @cached_property
    def slugs(self) -> tuple[str, ...]:
        return tuple(r.slug for r in self.rungs)

    @cached_property
    def scores(self) -> np.ndarray:
        """Specificity score per rung, in ladder order (read-only)."""
        return _frozen(np.array([r.score for r in self.rungs], dtype=np.float64))

    @cached_property
    def correct(self) -> np.ndarray:
        """Whether each rung counts as correct, in ladder order (read-only)."""
        return _frozen(np.array([r.correct for r in self.rungs], dtype=bool))

    @cached_property
    def max_score(self) -> float:
        return float(self.scores[self.correct].max())

    def rung(self, slug: str) -> Rung:
        return self.rungs[self.index(slug)]

    def index(self, slug: str) -> int:
        """Position of ``slug`` on the ladder (0 is the worst rung)."""
        try:
            return self._index[slug]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown verdict {slug!r} for ladder {self.name!r}; "
                f"expected one of {', '.join(self.slugs)}"
            ) from None

    def encode(self, verdicts: Iterable[str | None]) -> np.ndarray:
        """Slugs to rung codes (int16); ``None`` (a missing verdict) becomes ``MISSING``."""
        index = self._index
        try:
            codes = [MISSING if v is None else index[v] for v in verdicts]
        except (KeyError, TypeError):
            bad = next(v for v in verdicts if v is not None and v not in index)
            self.index(bad)  # raises the clear error
            raise
        return np.array(codes, dtype=np.int16)

    def decode(self, codes: Iterable[int]) -> list[str | None]:
        """Rung codes back to slugs; ``MISSING`` becomes ``None``."""
        slugs = self.slugs
        return [None if c == MISSING else slugs[c] for c in np.asarray(codes).tolist()]

    # -- judge-facing text ------------------------------------------------------------------

    @property
    def choices(self) -> list[str]:
        """The labels a judge may answer with (the slugs, worst first)."""
        return list(self.slugs)

    def definitions(self) -> str:
        """One line per rung, best first, as a judge should read them."""
        return "\n".join(f"- {r.slug}: {r.description or r.name}" for r in reversed(self.rungs))

    def json_schema(self, choices: Sequence[str] | None = None) -> dict:
        """A JSON schema for a structured judge reply: ``{"verdict": <one of the labels>}``
        (``choices``, by default the slugs)."""
        return {
            "type": "object",
            "properties": {"verdict": {"type": "string", "enum": list(choices or self.choices)}},
            "required": ["verdict"],
            "additionalProperties": False,
        }

    def canonical(self, text: str) -> str:
        """The form under which predictions (and ground truths) that mean the same thing are
        judged once and cached: ``exact`` by default; the SpeciaRL ladder uses ``label``."""
        return self._canonical(text)

    def label(self, text: str) -> str | None:
        """The slug that ``text`` names as a whole - a slug or a display name, in any case,
        with ``_``, ``-`` or spaces between words, surrounding markdown emphasis, quotes and
        one trailing period ignored - or ``None``."""
        key = label_key(text)
        return None if key is None else self._labels.get(key)

    def parse(self, reply: str, *, thinking: bool = False) -> str | None:
        """Read a judge's reply as a verdict slug, or ``None`` when it is not exactly one
        verdict: ``reading(reply, thinking=thinking).verdict``."""
        return self.reading(reply, thinking=thinking).verdict

    def reading(self, reply: str, *, thinking: bool = False) -> Reading:
        """Read a judge's reply: a :class:`~rewardkit.replies.Reading` with the verdict slug,
        or ``None`` and why there is none. The rule is one verdict or none:

        - the reply is read as a person sees it (NFKD, invisible characters dropped, look-alike
          letters read as Latin, lines split on ``\\n`` only);
        - think tags are a failure unless ``thinking`` (then one block, and the text after it);
        - the verdict is the whole reply as one label (:meth:`label`), a JSON object's
          ``"verdict"`` (duplicate keys fail), or a last line ``VERDICT: <label>``;
        - every other statement of a verdict - an earlier VERDICT line, a label alone on a
          line, "final verdict: X", "the answer is X", a negated label - must agree with it.

        A label word inside prose is not a verdict; two verdicts are a failure, never the
        higher one. See :mod:`rewardkit.replies`. A ladder subclass may override this.
        """
        return read_reply(self.label, reply, thinking=thinking, words=self._words)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


SPECIARL = Ladder(
    "speciarl",
    [
        Rung(
            "wrong",
            "Wrong",
            0.0,
            False,
            "incorrect, contradicts the ground truth, unrelated, malformed, or hedges between "
            "several options",
        ),
        Rung("abstain", "Abstain", 1.0, True, "declines to answer (e.g. 'none', 'I don't know')"),
        Rung(
            "generic",
            "Generic",
            2.0,
            True,
            "correct but far broader than the ground truth (e.g. 'dog' for a samoyed)",
        ),
        Rung(
            "less_specific",
            "Less specific",
            3.0,
            True,
            "correct and close to the ground truth, one level broader (e.g. 'spitz' for a samoyed)",
        ),
        Rung(
            "specific",
            "Specific",
            4.0,
            True,
            "names the ground truth exactly or by a synonym (common or scientific name)",
        ),
        Rung(
            "more_specific",
            "More specific",
            4.0,
            True,
            "a correct subtype of the ground truth, finer than it",
        ),
    ],
    task="open-world fine-grained classification",
    canonical="label",
    # Class names always hold a letter or digit and never read as a reasoning opener: refusing
    # content-free answers costs no honest answer, and symbol-only ones ("$", "+") reach the
    # taxonomy judge as abstentions otherwise (docs/judges/redteam.md, the default decided).
    guard=AnswerGuard(content_free=True),
)

BINARY = Ladder(
    "binary",
    [
        Rung("wrong", "Wrong", 0.0, False, "the answer is incorrect"),
        Rung("correct", "Correct", 1.0, True, "the answer is correct"),
    ],
    task="verifiable answers that are right or wrong",
)
