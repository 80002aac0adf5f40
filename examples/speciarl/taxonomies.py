"""Taxonomies for the taxonomy judge, where a data set gives a hierarchy.

- CUB-200: species -> genus, family, order from the eBird taxonomy in ``birdnames`` (MIT), the
  scientific name as a synonym, under one root "Aves" (synonym "bird"). eBird lists no common
  names for genera and families, so a family whose species' common names mostly end in one word
  ("Black-footed Albatross", "Laysan Albatross") takes that word as a synonym ("albatross"),
  where no other family claims it: coarse answers ("bird", "albatross", "warbler") are judged,
  not called wrong. CUB's older common names that eBird no longer uses stay without parents
  (reported as unmatched): the judge can then only call them specific or wrong.
- FGVC-Aircraft: manufacturer > family > variant, from the data set's own label files.
- StanfordCars: make > model > model-and-year, from the class names.
- OxfordPets: cat or dog > breed, from annotations/list.txt.
- Flowers102 and Food101 have no hierarchy: use an LLM judge for them.

Each builder returns the ``{"paths": ..., "synonyms": ...}`` dict ``rk.Taxonomy.from_dict`` reads.
"""

from __future__ import annotations

import csv
from pathlib import Path

from loaders import DataError, _lines

import rewardkit as rk

# Makes of more than one word in StanfordCars' class names.
MULTI_WORD_MAKES = ("AM General", "Aston Martin", "Land Rover", "Rolls-Royce", "Mercedes-Benz")


def _dedupe(path: list[str]) -> list[str]:
    """Drop a name equal (after normalisation) to its parent ("DC-3" family > "DC-3")."""
    out: list[str] = []
    for name in path:
        if not out or rk.normalize(name) != rk.normalize(out[-1]):
            out.append(name)
    return out


def cub_taxonomy(class_names: list[str]) -> tuple[dict, list[str]]:
    """(taxonomy dict, CUB names not found in eBird)."""
    import birdnames

    table = Path(birdnames.__file__).parent / "data" / "processed" / "ebird_2024_taxonomy.csv"
    by_name: dict[str, dict] = {}
    heads: dict[str, dict[str, int]] = {}  # family -> head word of its species' names -> count
    with open(table, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_name.setdefault(rk.normalize(row["ebird_common_name"]), row)
            head = rk.normalize(row["ebird_common_name"]).split(" ")[-1]
            family = heads.setdefault(row["ebird_family"], {})
            family[head] = family.get(head, 0) + 1
    paths, synonyms, unmatched = [], {"Aves": ["bird"]}, []
    families = set()
    for name in class_names:
        row = by_name.get(rk.normalize(name))
        if row is None:
            unmatched.append(name)
            paths.append([name])
            continue
        paths.append(["Aves", row["ebird_order"], row["ebird_family"], row["genus"], name])
        synonyms[name] = [row["scientific_name"]]
        families.add(row["ebird_family"])
    synonyms.update(_family_names(heads, families))
    return {"paths": paths, "synonyms": synonyms}, unmatched


def _family_names(heads: dict[str, dict[str, int]], wanted: set[str]) -> dict[str, list[str]]:
    """A common name for a family: the last word shared by at least 60% of its species' common
    names, when that word is no other family's majority word (and not a species' own name)."""
    majority = {}
    for family, counts in heads.items():
        word, n = max(counts.items(), key=lambda kv: kv[1])
        if n >= 0.6 * sum(counts.values()):
            majority.setdefault(word, []).append(family)
    return {
        families[0]: [word]
        for word, families in majority.items()
        if len(families) == 1 and families[0] in wanted
    }


def aircraft_taxonomy(root: str | Path) -> dict:
    data = Path(root) / "data"
    levels: dict[str, dict[str, str]] = {"manufacturer": {}, "family": {}, "variant": {}}
    for level in levels:
        for split in ("trainval", "test"):
            path = data / f"images_{level}_{split}.txt"
            if not path.is_file():
                continue
            for row in _lines(path):
                levels[level][row[0]] = " ".join(row[1:-1])
        if not levels[level]:
            raise DataError(f"missing file: {data / f'images_{level}_trainval.txt'}")
    paths = {
        tuple(_dedupe([levels["manufacturer"][i], levels["family"][i], variant]))
        for i, variant in levels["variant"].items()
        if i in levels["manufacturer"] and i in levels["family"]
    }
    return {"paths": sorted(list(p) for p in paths), "synonyms": {}}


def cars_taxonomy(class_names: list[str]) -> dict:
    paths = set()
    for name in class_names:
        make = next((m for m in MULTI_WORD_MAKES if name.startswith(m + " ")), name.split()[0])
        words = name.split()
        model = " ".join(words[:-1]) if words[-1].isdigit() and len(words[-1]) == 4 else name
        paths.add(tuple(_dedupe([make, model, name])))
    return {"paths": sorted(list(p) for p in paths), "synonyms": {}}


def pets_taxonomy(root: str | Path) -> dict:
    path = Path(root) / "annotations" / "list.txt"
    paths = set()
    for row in _lines(path):
        if row[0].startswith("#"):
            continue
        name, _, species = row[0], row[1], row[2]
        breed = name.rsplit("_", 1)[0].replace("_", " ")
        paths.add(("cat" if species == "1" else "dog", breed))
    if not paths:
        raise DataError(f"{path} lists no images")
    return {"paths": sorted(list(p) for p in paths), "synonyms": {}}
