"""A rule-based judge over a label taxonomy: no model, offline, fast.

>>> judge = TaxonomyJudge(Taxonomy([["animal", "dog", "spitz", "samoyed"]]))
>>> judge([("samoyed", "Samoyed"), ("samoyed", "spitz"), ("samoyed", "dog"),
...        ("spitz", "samoyed"), ("samoyed", "I don't know"), ("samoyed", "cat")])
['specific', 'less_specific', 'generic', 'more_specific', 'abstain', 'wrong']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from os import PathLike
from typing import cast

from ..ladders import SPECIARL
from ..taxonomy import Taxonomy, normalize
from .base import Judge

__all__ = ["TaxonomyJudge", "ABSTENTIONS"]

#: Predictions that abstain (compared after normalisation), beside the empty string.
ABSTENTIONS = frozenset(
    normalize(s)
    for s in (
        "none",
        "unknown",
        "i don't know",
        "i do not know",
        "not sure",
        "no idea",
        "cannot tell",
        "can't tell",
        "n/a",
    )
)
_SEPARATORS = re.compile(r"\s+or\s+|,|;|/|\s+and\s+", re.IGNORECASE)
_PUNCT_SEPARATOR = re.compile(r"[,;/]")
_ARTICLE = re.compile(r"^(?:a|an|the) ")

# What a prediction resolves to, beside a taxonomy node id (>= 0).
_ABSTAIN = -1
_UNKNOWN = -2  # not a name: wrong
_SEVERAL = -3  # two or more names joined ("robin or cardinal"): wrong
_CACHE_LIMIT = 1 << 18  # resolved predictions kept (each at most _CACHED_CHARS long)
_CACHED_CHARS = 256
_LABEL_LIMIT = 1 << 16  # ground-truth spellings kept


class TaxonomyJudge(Judge):
    """Places predictions on the SpeciaRL ladder by their place in a taxonomy.

    Against ground truth g, prediction p is: ``abstain`` if empty or an abstention;
    ``specific`` if it names g (or a synonym); ``more_specific`` if it names a descendant of g;
    ``less_specific`` if g's parent; ``generic`` if a higher ancestor; otherwise ``wrong``
    (including several names joined by "or", ",", ";", "/" or "and", unless the whole string
    is itself a name - which a list split by "," ";" "/" never is). A leading article ("a",
    "an", "the") is ignored. A ground truth that is not in the taxonomy raises
    :class:`~rewardkit.taxonomy.UnknownLabelError`.
    """

    name = "taxonomy"
    ladder = SPECIARL

    def __init__(self, taxonomy: Taxonomy | str | PathLike) -> None:
        super().__init__()
        self.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
        self._predictions: dict[str, int] = {}
        self._labels: dict[str, int] = {}

    def check_labels(self, labels: Sequence[str]) -> None:
        """Raise :class:`~rewardkit.taxonomy.UnknownLabelError` for the first label not in
        the taxonomy - call it on a data set before training."""
        for label in labels:
            self._label(label)

    def _label(self, label: str) -> int:
        node = self._labels.get(label)
        if node is None:
            node = self.taxonomy.lookup(label)
            if len(self._labels) >= _LABEL_LIMIT:  # spellings a client may vary without end
                self._labels.clear()
            self._labels[label] = node
        return node

    def _resolve(self, prediction: str) -> int:
        text = normalize(prediction)
        if not text or text in ABSTENTIONS:
            return _ABSTAIN
        # "," ";" "/" never join the words of one name, so a list split by them is checked
        # before the whole string: "samoyed; dog" is two options, not the synonym "samoyed dog".
        if _PUNCT_SEPARATOR.search(prediction) and self._several(prediction):
            return _SEVERAL
        node = self.taxonomy.find(text)
        if node is None and _ARTICLE.match(text):
            node = self.taxonomy.find(_ARTICLE.sub("", text, count=1))
        if node is not None:
            return node
        return _SEVERAL if self._several(prediction) else _UNKNOWN

    def _several(self, prediction: str) -> bool:
        parts = (normalize(p) for p in _SEPARATORS.split(prediction))
        return sum(self.taxonomy.find(p) is not None for p in parts if p) >= 2

    def verdict(self, ground_truth: str, prediction: str) -> str:
        """The verdict of one pair."""
        return self._verdicts([(ground_truth, prediction)])[0]

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return cast("list[str | None]", self._verdicts(pairs))  # every pair gets a verdict

    def _verdicts(self, pairs: Sequence[tuple[str, ...]]) -> list[str]:
        taxonomy = self.taxonomy
        cache = self._predictions
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        out: list[str] = []
        append = out.append
        for truth, prediction in pairs:
            g = self._labels.get(truth)
            if g is None:
                g = self._label(truth)
            p = cache.get(prediction)
            if p is None:
                p = self._resolve(prediction)
                if len(prediction) <= _CACHED_CHARS:  # long answers are rare: not kept
                    cache[prediction] = p
            if p == g:
                append("specific")
            elif p < 0:
                append("abstain" if p == _ABSTAIN else "wrong")
            elif taxonomy.is_ancestor(g, p):
                append("more_specific")
            elif p == taxonomy.parent(g):
                append("less_specific")
            elif taxonomy.is_ancestor(p, g):
                append("generic")
            else:
                append("wrong")
        return out

    async def ajudge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return self.judge_unique(pairs)  # pure CPU and fast: no thread needed
