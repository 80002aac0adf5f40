"""Example data that ships with rewardkit, so every example runs from any folder.

- ``animals.json``: a small taxonomy (dogs, cats, birds) for the taxonomy judge;
- ``rollouts.jsonl``: 16 rows of ``prompt_id``, ``label`` and ``prediction`` - four groups
  of four - as ``rewardkit judge`` reads them;
- ``redteam.jsonl``: labelled rows for ``rewardkit redteam``.

``rewardkit data NAME`` prints a file's path, ``rewardkit data --copy DIR`` copies them all.

>>> import rewardkit as rk
>>> judge = rk.TaxonomyJudge(path("animals.json"))
>>> judge.judge([("samoyed", "spitz")])
['less_specific']
>>> sorted(paths())
['animals.json', 'redteam.jsonl', 'rollouts.jsonl']
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

__all__ = ["FILES", "path", "paths", "copy"]

#: The example files, by name.
FILES = ("animals.json", "rollouts.jsonl", "redteam.jsonl")


def path(name: str) -> str:
    """The path of the example file ``name`` (one of :data:`FILES`)."""
    if name not in FILES:
        raise LookupError(f"no example file {name!r}; rewardkit has {', '.join(FILES)}")
    return str(resources.files(__name__).joinpath(name))


def paths() -> dict[str, str]:
    """Every example file's path, by name."""
    return {name: path(name) for name in FILES}


def copy(folder: str | Path) -> list[str]:
    """Copy the example files into ``folder`` (made if missing); their new paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    return [str(shutil.copyfile(path(name), target / name)) for name in FILES]
