"""Doctests run in a temp folder that holds the repository's examples (linked), so they pass
from any working directory and what they write stays out of the checkout."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _doctest_folder(request, tmp_path, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
        monkeypatch.chdir(tmp_path)
