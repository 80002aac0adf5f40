"""Loaders for the SpeciaRL data sets, from local folders in their released layouts.

Each loader returns ``Sample(image, label, split)`` rows with the label as a clean class name.
A missing or malformed file raises :class:`DataError` naming the file. Nothing downloads.

| data set | folder layout read |
|---|---|
| CUB-200-2011 | images.txt, classes.txt, image_class_labels.txt, train_test_split.txt, images/ |
| FGVC-Aircraft | data/images_variant_{split}.txt, data/images/<id>.jpg |
| OxfordPets | annotations/{trainval,test}.txt, images/<name>.jpg |
| Food101 | meta/{train,test}.txt, meta/labels.txt (or classes.txt), images/<class>/<id>.jpg |
| Flowers102 | jpg/image_<n>.jpg, imagelabels.mat, setid.mat, cat_to_name.json (or names.txt) |
| StanfordCars | devkit/cars_meta.mat, devkit/cars_{split}_annos.mat, cars_{split}/ |

The .mat files need scipy. Flowers102 ships no class names: the usual 102-name list goes in
cat_to_name.json. StanfordCars' test labels come from cars_test_annos_withlabels.mat.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sample", "DataError", "clean_cub_label", "load", "LOADERS", "cub_subset"]


@dataclass(frozen=True)
class Sample:
    image: str
    label: str
    split: str


class DataError(FileNotFoundError):
    """A data folder is missing a file, or a file is malformed."""


def _lines(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            rows.append(line.split())
            rows[-1].append(number)  # type: ignore[arg-type]
    return rows


def _need(row: list, n: int, path: Path) -> list:
    if len(row) - 1 < n:
        raise DataError(f"{path}, line {row[-1]}: expected {n} fields, got {' '.join(row[:-1])!r}")
    return row


def clean_cub_label(name: str) -> str:
    """``001.Black_footed_Albatross`` -> ``Black footed Albatross`` (as the SpeciaRL code does)."""
    return re.sub(r"^\d+\.", "", name).replace("_", " ").strip()


def load_cub(root: Path, split: str) -> list[Sample]:
    files = {
        k: root / f"{k}.txt"
        for k in ("images", "classes", "image_class_labels", "train_test_split")
    }
    images = {r[0]: r[1] for r in (_need(r, 2, files["images"]) for r in _lines(files["images"]))}
    classes = {
        r[0]: clean_cub_label(" ".join(r[1:-1]))
        for r in (_need(r, 2, files["classes"]) for r in _lines(files["classes"]))
    }
    labels = {
        r[0]: r[1]
        for r in (
            _need(r, 2, files["image_class_labels"]) for r in _lines(files["image_class_labels"])
        )
    }
    out = []
    for row in _lines(files["train_test_split"]):
        image_id, is_train, number = _need(row, 2, files["train_test_split"])[:3]
        if ("train" if is_train == "1" else "test") != split:
            continue
        try:
            out.append(
                Sample(str(root / "images" / images[image_id]), classes[labels[image_id]], split)
            )
        except KeyError as e:
            raise DataError(
                f"{files['train_test_split']}, line {number}: image {image_id} has "
                f"no entry {e} in images.txt / image_class_labels.txt / classes.txt"
            ) from None
    return out


def cub_subset(samples: list[Sample], n: int = 3000, seed: int = 42) -> list[Sample]:
    """The paper's training subset: ``n`` images drawn at random with ``seed`` (the exact
    images may differ from the authors' draw)."""
    if len(samples) < n:
        return list(samples)
    return random.Random(seed).sample(samples, n)


def load_aircraft(root: Path, split: str) -> list[Sample]:
    path = root / "data" / f"images_variant_{split}.txt"
    out = []
    for row in _lines(path):
        _need(row, 2, path)
        image_id, variant = row[0], " ".join(row[1:-1])
        out.append(Sample(str(root / "data" / "images" / f"{image_id}.jpg"), variant, split))
    return out


def load_pets(root: Path, split: str) -> list[Sample]:
    path = root / "annotations" / ("trainval.txt" if split == "train" else "test.txt")
    out = []
    for row in _lines(path):
        if row[0].startswith("#"):
            continue
        name = _need(row, 4, path)[0]
        breed = name.rsplit("_", 1)[0].replace("_", " ")
        out.append(Sample(str(root / "images" / f"{name}.jpg"), breed, split))
    return out


def load_food(root: Path, split: str) -> list[Sample]:
    meta = root / "meta"
    names = meta / "labels.txt" if (meta / "labels.txt").is_file() else meta / "classes.txt"
    classes = [" ".join(r[:-1]) for r in _lines(names)]
    by_key = {c.lower().replace(" ", "_"): c for c in classes}
    path = meta / f"{split}.txt"
    out = []
    for row in _lines(path):
        item = row[0]
        key = item.split("/")[0]
        if key not in by_key:
            raise DataError(f"{path}, line {row[-1]}: class {key!r} is not in {names}")
        out.append(Sample(str(root / "images" / f"{item}.jpg"), by_key[key], split))
    return out


def _loadmat(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError(f"reading {path} needs scipy (pip install scipy)") from None
    return loadmat(str(path), squeeze_me=True)


def load_flowers(root: Path, split: str) -> list[Sample]:
    labels = _loadmat(root / "imagelabels.mat")["labels"]
    setid = _loadmat(root / "setid.mat")
    names_json, names_txt = root / "cat_to_name.json", root / "names.txt"
    if names_json.is_file():
        names = {int(k): v for k, v in json.loads(names_json.read_text()).items()}
    elif names_txt.is_file():
        names = {i + 1: " ".join(r[:-1]) for i, r in enumerate(_lines(names_txt))}
    else:
        raise DataError(
            f"missing file: {names_json} (or {names_txt}): Flowers102 ships no "
            "class names; put the usual 102-name list there"
        )
    key = {"train": "trnid", "val": "valid", "test": "tstid"}[split]
    return [
        Sample(str(root / "jpg" / f"image_{int(i):05d}.jpg"), names[int(labels[int(i) - 1])], split)
        for i in setid[key]
    ]


def load_cars(root: Path, split: str) -> list[Sample]:
    devkit = root / "devkit"
    meta = _loadmat(devkit / "cars_meta.mat")["class_names"]
    annos = devkit / f"cars_{split}_annos.mat"
    if split == "test" and (devkit / "cars_test_annos_withlabels.mat").is_file():
        annos = devkit / "cars_test_annos_withlabels.mat"
    records = _loadmat(annos)["annotations"]
    out = []
    for rec in records:
        if "class" not in rec.dtype.names:
            raise DataError(f"{annos} has no class labels (use cars_test_annos_withlabels.mat)")
        out.append(
            Sample(
                str(root / f"cars_{split}" / str(rec["fname"])),
                str(meta[int(rec["class"]) - 1]),
                split,
            )
        )
    return out


LOADERS = {
    "cub": load_cub,
    "aircraft": load_aircraft,
    "pets": load_pets,
    "food101": load_food,
    "flowers102": load_flowers,
    "cars": load_cars,
}


def load(
    name: str, root: str | Path, split: str = "test", split_file: str | Path | None = None
) -> list[Sample]:
    """Samples of data set ``name`` (one of ``LOADERS``) under ``root``; with ``split_file``,
    the split it lists instead of the data set's own (see :func:`load_split_file`)."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(LOADERS)}")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"missing data folder: {root}")
    if split_file is not None:
        return load_split_file(split_file, root, split)
    return LOADERS[name](root, split)


def load_split_file(path: str | Path, root: Path, split: str) -> list[Sample]:
    """The images of ``split`` listed in a split file, paths relative to ``root``:

    - a CSV with a header naming ``image`` (or ``path``), ``label`` (or ``classname``) and
      ``split`` columns, one row per image (the paper names its files ``split_coop.csv``
      but does not publish them or their columns: write yours in this form);
    - CoOp's JSON (``split_zhou_OxfordFlowers.json``, ``split_zhou_Food101.json``):
      ``{"train": [[image, class index, class name], ...], "val": [...], "test": [...]}``.

    The files come with CoOp (github.com/KaiyangZhou/CoOp, DATASETS.md); the SpeciaRL authors
    do not ship theirs. Labels are used as written (underscores read as spaces)."""
    import json as _json

    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing split file: {path}")
    rows: list[tuple[str, str]] = []
    if path.suffix == ".json":
        try:
            data = _json.loads(path.read_text(encoding="utf-8"))
            rows = [(item[0], item[2]) for item in data[split]]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise DataError(f"{path}: not a CoOp split file with a {split!r} list ({e})") from None
    else:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = {name.lower(): name for name in reader.fieldnames or []}
            image = fields.get("image") or fields.get("path")
            label = fields.get("label") or fields.get("classname")
            column = fields.get("split")
            if not (image and label and column):
                raise DataError(
                    f"{path}: a split CSV needs image (or path), label (or classname) and "
                    f"split columns, has {reader.fieldnames}"
                )
            rows = [(r[image], r[label]) for r in reader if r[column] == split]
    if not rows:
        raise DataError(f"{path}: no images in split {split!r}")
    return [Sample(str(root / image), label.replace("_", " "), split) for image, label in rows]
