"""Build the demo's bird taxonomy from the eBird 2024 taxonomy shipped by ``birdnames`` (MIT).

    pip install birdnames && python examples/speciarl/make_taxonomy.py

Writes ``data/demo_birds.json``: 3 orders x 2 families x 2 genera x 5 species (60 species),
with each species' scientific name as a synonym. The file is committed, so the demo itself
needs no ``birdnames``.
"""

import csv
import json
from collections import defaultdict
from pathlib import Path

ORDERS = ["Passeriformes", "Piciformes", "Accipitriformes"]
FAMILIES, GENERA, SPECIES = 2, 2, 5


def ebird_rows():
    import birdnames

    path = Path(birdnames.__file__).parent / "data" / "processed" / "ebird_2024_taxonomy.csv"
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def main() -> None:
    tree = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for row in ebird_rows():
        name, sci = row["ebird_common_name"], row["scientific_name"]
        if not name or len(sci.split()) != 2 or "/" in name or "(" in name or " x " in sci:
            continue  # species only: no hybrids, slashes or forms
        tree[row["ebird_order"]][row["ebird_family"]][row["genus"]].append((name, sci))
    paths, synonyms = [], {}
    for order in ORDERS:
        families = []
        for family, genera in sorted(tree[order].items()):
            rich = [g for g, sp in sorted(genera.items()) if len(sp) >= SPECIES]
            if len(rich) >= GENERA:
                families.append((family, rich[:GENERA]))
            if len(families) == FAMILIES:
                break
        for family, genera in families:
            for genus in genera:
                for name, sci in sorted(tree[order][family][genus])[:SPECIES]:
                    paths.append([order, family, genus, name])
                    synonyms[name] = [sci]
    out = Path(__file__).parent / "data" / "demo_birds.json"
    out.write_text(json.dumps({"paths": paths, "synonyms": synonyms}, indent=1) + "\n")
    print(f"wrote {out}: {len(paths)} species")


if __name__ == "__main__":
    main()
