from pathlib import Path

import pytest

from rewardkit import Taxonomy

ROOT = Path(__file__).resolve().parent.parent
ANIMALS = ROOT / "examples" / "data" / "animals.json"


@pytest.fixture
def animals() -> Taxonomy:
    return Taxonomy.load(ANIMALS)
