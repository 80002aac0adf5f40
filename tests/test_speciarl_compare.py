"""The side-by-side table of --show-config against the authors' configuration: generated, current
in docs/speciarl.md, and 'differs' only where docs/speciarl.md says what stays different."""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECIARL = ROOT / "examples" / "speciarl"
DOC = ROOT / "docs" / "speciarl.md"
sys.path.insert(0, str(SPECIARL))

import compare_config as C  # noqa: E402
import presets as P  # noqa: E402

# What stays different, by setting, and the presets where it does (docs: "What still differs").
DIFFERS = {
    "max prompt tokens": "paper",
    "KL clamp": "paper",
    "advantage epsilon": "paper",
    "length-balanced batches": "paper",
    "micro-batch per GPU": "paper-dapo",
    "training images": {"paper-aircraft", "paper-flowers102", "paper-food101", "paper-pets"},
}


def test_the_docs_hold_the_current_table(tmp_path, capsys):
    assert C.main(["--check", str(DOC)]) == 0
    stale = tmp_path / "speciarl.md"
    stale.write_text(DOC.read_text().replace("| LoRA rank | 64 |", "| LoRA rank | 65 |"))
    assert C.main(["--check", str(stale)]) == 1
    assert "the table is stale" in capsys.readouterr().err
    assert C.main(["--write", str(stale)]) == 0
    assert stale.read_text() == DOC.read_text()


def test_only_the_documented_differences_differ():
    found: dict[str, set[str]] = {}
    for name in sorted(P.PRESETS):
        if name == "gpu-smoke":
            continue
        keys = None if name == "paper" else C._variant_keys(name)
        for label, _, _, _, (status, note) in C.rows_for(name, keys):
            assert status in ("same", "equivalent", "differs"), (name, label)
            if status == "differs":
                assert note, (name, label)  # every difference says why
                found.setdefault(label, set()).add(name)
    expected = {k: {v} if isinstance(v, str) else v for k, v in DIFFERS.items()}
    assert found == expected
    assert all(status != "differs" for *_, (status, _) in C.eval_rows())
    doc = DOC.read_text()
    for label in ("Prompt length", "KL clamp", "Advantage epsilon", "Length-balanced batches"):
        assert f"**{label}.**" in doc, label


def test_every_authors_value_is_on_the_line_it_cites():
    entries = []
    for section in ("defaults", "evaluation"):
        entries += list(P.AUTHORS[section].values())
    for run in P.AUTHORS["runs"].values():
        entries += list(run["values"].values())
    assert len(entries) > 100
    for e in entries:
        assert e["line"] > 0 and e["text"]
        value = e["value"]
        if "derived" in e:  # read from the line's effect, not its text: the reason says how
            continue
        if isinstance(value, bool):
            assert str(value).lower() in e["text"].lower(), e
        elif isinstance(value, (int, float)):
            numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", e["text"])]
            assert float(value) in numbers, e
    assert P.AUTHORS["commit"] == "b18e45bfe74ba1cc38b3d6cbeb728a3b2242810d"
    json.dumps(P.AUTHORS)  # plain data
