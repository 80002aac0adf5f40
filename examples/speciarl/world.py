"""A miniature open-world, fine-grained classification world for the SpeciaRL CPU demo.

Birds from the eBird taxonomy (``data/demo_birds.json``: order > family > genus > species).
An "image" is a short string of evidence tokens: the bird's order, family and genus - always
present - and its species, present only with probability ``visible``; otherwise the species
token is a blur (``s?``). Two noise tokens follow. (The evidence tokens are the names' own
tokens: recognising a feature is reduced to copying it, which a tiny model learns quickly.) So the
coarse levels are always recoverable, the species only sometimes, and for a blurred input the
honest best answer is the genus (Less specific on the ladder).

The policy answers with one name token (spaces become ``_``); the taxonomy judge places it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import rewardkit as rk

TAXONOMY = Path(__file__).parent / "data" / "demo_birds.json"
NOISE = 20
ABSTAIN = "none"


@dataclass(frozen=True)
class Example:
    prompt: str
    label: str
    visible: bool
    path: tuple[str, str, str, str]  # order, family, genus, species


def token(name: str) -> str:
    """A taxonomy name as one policy token."""
    return name.replace(" ", "_")


class World:
    def __init__(self, taxonomy_path: Path = TAXONOMY) -> None:
        import json

        data = json.loads(Path(taxonomy_path).read_text())
        self.taxonomy = rk.Taxonomy.from_dict(data, source=str(taxonomy_path))
        self.paths = [tuple(p) for p in data["paths"]]
        # Names level by level (orders, families, genera, species), each sorted.
        self.names = [n for i in range(4) for n in sorted({p[i] for p in self.paths})]
        self.siblings = {p[3]: [q[3] for q in self.paths if q[2] == p[2]] for p in self.paths}

    def vocabulary(self) -> list[str]:
        names = [token(n) for n in self.names]
        return ["classify", "s?", ABSTAIN, *names, *(f"n{i}" for i in range(NOISE))]

    def sample(self, n: int, rng: random.Random, visible: float) -> list[Example]:
        out = []
        for _ in range(n):
            path = rng.choice(self.paths)
            shown = rng.random() < visible
            feats = [token(name) for name in path[:3]]
            feats.append(token(path[3]) if shown else "s?")
            feats += [f"n{rng.randrange(NOISE)}" for _ in range(2)]
            out.append(Example("classify " + " ".join(feats), path[3], shown, path))
        return out

    def warm_start_answer(self, example: Example, rng: random.Random, mix: dict) -> str:
        """An SFT target drawn from ``mix`` (level -> probability): often coarser than the
        evidence allows. ``guess`` names a random species of the right genus."""
        level = rng.choices(list(mix), weights=list(mix.values()))[0]
        order, family, genus, species = example.path
        return {
            "species": token(species),
            "guess": token(rng.choice(self.siblings[species])),
            "genus": token(genus),
            "family": token(family),
            "order": token(order),
            "abstain": ABSTAIN,
        }[level]
