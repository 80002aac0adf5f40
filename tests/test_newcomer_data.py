"""Example data in the package: the README's and the docs' examples need no file of the clone,
``rewardkit data`` prints and copies the files, every one is package data."""

import json
import re
import subprocess
import sys
from pathlib import Path

from .newcomer_support import ROOT


def test_the_readme_examples_run_from_an_empty_folder(tmp_path):
    # No clone beside them: the data comes from the package (make package does the same with
    # the wheel installed in a fresh virtual environment).
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_readme.py"), str(ROOT / "README.md")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # guards a hang; the README's examples take a few seconds
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []  # and they leave nothing behind


def test_rewardkit_data_prints_and_copies_the_example_files(tmp_path, capsys):
    from rewardkit.cli import main

    assert main(["data"]) == 0
    paths = capsys.readouterr().out.splitlines()
    assert [Path(p).name for p in paths] == ["animals.json", "rollouts.jsonl", "redteam.jsonl"]
    assert all(Path(p).is_file() for p in paths)
    assert main(["data", "rollouts.jsonl"]) == 0
    one = capsys.readouterr().out.strip()
    assert one == paths[1] and len(Path(one).read_text().splitlines()) == 16
    assert main(["data", "--copy", str(tmp_path / "mine")]) == 0
    copies = capsys.readouterr().out.splitlines()
    assert copies == [str(tmp_path / "mine" / Path(p).name) for p in paths]
    assert (tmp_path / "mine" / "animals.json").read_bytes() == Path(paths[0]).read_bytes()


def test_every_example_file_is_package_data():
    import fnmatch

    pyproject = (ROOT / "pyproject.toml").read_text()
    line = re.search(r"^\[tool.setuptools.package-data\]\nrewardkit = (\[.*\])$", pyproject, re.M)
    patterns = json.loads(line.group(1))
    data = ROOT / "src" / "rewardkit" / "data"
    files = [f"data/{p.name}" for p in data.iterdir() if p.suffix != ".py" and p.is_file()]
    assert sorted(files) == ["data/animals.json", "data/redteam.jsonl", "data/rollouts.jsonl"]
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []
    assert (ROOT / "examples" / "data").resolve() == data  # the examples read the same files


def test_no_example_in_the_docs_reads_data_from_the_clone():
    block = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [
        f"{page.relative_to(ROOT)}: {line.strip()}"
        for page in pages
        for _, code in block.findall(page.read_text())
        for line in code.splitlines()
        if "examples/data" in line or "birds.json" in line and "examples/speciarl" not in line
    ]
    assert found == []  # rewardkit.data.path("animals.json"), "$(rewardkit data animals.json)"
