"""Label taxonomies: a tree of names with synonyms, read from JSON or YAML.

File format::

    {"paths": [["animal", "dog", "spitz", "samoyed"], ["animal", "dog", "retriever"]],
     "synonyms": {"samoyed": ["samoyed dog"], "dog": ["canine"]}}

A path lists names from the root down; any name may end a path, so inner nodes can be
ground truths too. Names are matched after :func:`normalize`.

>>> t = Taxonomy([["animal", "dog", "spitz", "samoyed"]], {"dog": ["canine"]})
>>> t.lookup("Canine") == t.lookup("dog"), t.name(t.parent(t.lookup("samoyed")))
(True, 'spitz')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

from .errors import TaxonomyError, UnknownLabelError

__all__ = ["normalize", "Taxonomy", "TaxonomyError", "UnknownLabelError"]

_NON_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Case-fold; hyphens, underscores and other punctuation become spaces; whitespace
    collapses; trim.

    >>> normalize("  Black-footed_ALBATROSS!! ")
    'black footed albatross'
    """
    return _NON_WORD.sub(" ", text.casefold()).strip()


class Taxonomy:
    """A forest of names. Nodes are integer ids; every synonym resolves to its node."""

    def __init__(
        self,
        paths: Iterable[Sequence[str]],
        synonyms: Mapping[str, Iterable[str]] | None = None,
        *,
        source: str = "taxonomy",
    ) -> None:
        self.source = source
        self._names: list[str] = []  # display name per node
        self._parent: list[int] = []  # -1 for a root
        self._depth: list[int] = []  # 0 for a root
        self._ids: dict[str, int] = {}  # normalised name or synonym -> node
        for i, path in enumerate(paths):
            if isinstance(path, str) or not isinstance(path, Sequence) or not path:
                raise TaxonomyError(f"{source}: paths[{i}] must be a non-empty list of names")
            parent = -1
            for name in path:
                parent = self._add(name, parent, f"paths[{i}]")
        for key, aliases in (synonyms or {}).items():
            node = self._ids.get(normalize(key)) if isinstance(key, str) else None
            if node is None:
                raise TaxonomyError(f"{source}: synonyms for {key!r}, which no path names")
            if isinstance(aliases, str) or not isinstance(aliases, Iterable):
                raise TaxonomyError(f"{source}: synonyms[{key!r}] must be a list of names")
            for alias in aliases:
                self._alias(alias, node, f"synonyms[{key!r}]")
        if not self._names:
            raise TaxonomyError(f"{source}: no names (paths is empty)")

    # -- construction -------------------------------------------------------------------------

    def _key(self, name: object, where: str) -> str:
        if not isinstance(name, str) or not normalize(name):
            raise TaxonomyError(f"{self.source}: {where} holds an empty or non-text name {name!r}")
        return normalize(name)

    def _add(self, name: object, parent: int, where: str) -> int:
        key = self._key(name, where)
        node = self._ids.get(key)
        if node is None:
            node = len(self._names)
            self._names.append(name)  # type: ignore[arg-type]
            self._parent.append(parent)
            self._depth.append(0 if parent < 0 else self._depth[parent] + 1)
            self._ids[key] = node
        elif self._parent[node] != parent:
            was = self._parent[node]
            raise TaxonomyError(
                f"{self.source}: {where}: {name!r} is placed under "
                f"{self._label(parent)} but elsewhere under {self._label(was)}"
            )
        return node

    def _alias(self, alias: object, node: int, where: str) -> None:
        key = self._key(alias, where)
        other = self._ids.setdefault(key, node)
        if other != node:
            raise TaxonomyError(
                f"{self.source}: {where}: synonym {alias!r} already names {self._names[other]!r}"
            )

    def _label(self, node: int) -> str:
        return "the root" if node < 0 else repr(self._names[node])

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "taxonomy") -> Taxonomy:
        if not isinstance(data, Mapping) or "paths" not in data:
            raise TaxonomyError(f"{source}: expected an object with a 'paths' list")
        unknown = set(data) - {"paths", "synonyms"}
        if unknown:
            raise TaxonomyError(f"{source}: unknown keys {sorted(unknown)}")
        synonyms = data.get("synonyms") or {}
        if not isinstance(synonyms, Mapping):
            raise TaxonomyError(f"{source}: 'synonyms' must be an object of name -> list")
        if not isinstance(data["paths"], list):
            raise TaxonomyError(f"{source}: 'paths' must be a list of lists of names")
        return cls(data["paths"], synonyms, source=source)

    @classmethod
    def load(cls, path: str | PathLike) -> Taxonomy:
        """Read a taxonomy from a ``.json`` or ``.yaml``/``.yml`` file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise TaxonomyError(f"cannot read taxonomy file {str(path)!r}: {e.strerror}") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise TaxonomyError(
                    f"{path}: reading YAML needs PyYAML (pip install 'rewardkit-rl[yaml]')"
                ) from None
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise TaxonomyError(f"{path}: not valid YAML: {e}") from None
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise TaxonomyError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(data, source=str(path))

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize(name) in self._ids

    def find(self, normalized: str) -> int | None:
        """The node an already-normalised name or synonym resolves to, or ``None``."""
        return self._ids.get(normalized)

    def lookup(self, name: str) -> int:
        """The node of a name or synonym; :class:`UnknownLabelError` names it if absent."""
        node = self._ids.get(normalize(name)) if isinstance(name, str) else None
        if node is None:
            raise UnknownLabelError(f"label {name!r} is not in {self.source}")
        return node

    def name(self, node: int) -> str:
        return self._names[node]

    def parent(self, node: int) -> int:
        """The parent node, or -1 for a root."""
        return self._parent[node]

    def ancestors(self, node: int) -> frozenset[int]:
        """Every node above ``node`` (built on demand: memory stays linear in the taxonomy)."""
        seen: list[int] = []
        parent = self._parent[node]
        while parent >= 0:
            seen.append(parent)
            parent = self._parent[parent]
        return frozenset(seen)

    def is_ancestor(self, ancestor: int, node: int) -> bool:
        """Whether ``ancestor`` lies above ``node`` (a walk of at most the depth difference)."""
        depth, parent = self._depth, self._parent
        if ancestor < 0 or depth[ancestor] >= depth[node]:
            return False
        while depth[node] > depth[ancestor]:
            node = parent[node]
        return node == ancestor

    @property
    def names(self) -> list[str]:
        return list(self._names)
