"""Every example in README.md and docs/ runs, and prints what it says it prints.

In ```python blocks, ``print(...)  # -> expected`` (or ``# -> expected`` on the next line)
states the printed line. Every block runs on its own, in a fresh namespace, as a reader would
paste it (imports included); the example plugin's module is importable as if installed, as the
plugin guide's install step would make it. Blocks run in a temp folder that holds the
repository's ``examples`` and ``plugins`` (linked), so what they write (``runs/...``) stays out of
the checkout. ```sh blocks (installs, make) are not run.
"""

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _check_readme():
    """tools/check_readme.py (what ``make package`` runs on the installed wheel): the one
    reading of code blocks and their stated output, shared with these tests."""
    spec = importlib.util.spec_from_file_location("check_readme", ROOT / "tools/check_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TOOL = _check_readme()
BLOCK, expectations = _TOOL.BLOCK, _TOOL.expectations


def blocks(page: Path, lang: str) -> list[str]:
    return [code for kind, code in BLOCK.findall(page.read_text()) if kind == lang]


def test_every_page_has_examples():
    missing = [
        p.name for p in PAGES if not (blocks(p, "python") or blocks(p, "bash") or blocks(p, "sh"))
    ]
    assert not missing, f"pages without examples: {missing}"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temp folder with the repository's examples and plugins, as the working directory."""
    for name in ("examples", "plugins"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples(page, monkeypatch, workdir):
    monkeypatch.syspath_prepend(str(ROOT / "plugins" / "rewardkit-math" / "src"))
    for code in blocks(page, "python"):
        namespace: dict = {"__name__": "__docs__"}
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, str(page), "exec"), namespace)
        printed = buffer.getvalue().splitlines()
        expected = expectations(code)
        # Only prints with a stated result are compared; they must appear in order.
        got = iter(printed)
        for want in expected:
            assert any(line.rstrip() == want for line in got), (
                f"{page.name}: expected printed line {want!r}; printed:\n" + "\n".join(printed)
            )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_examples(page, workdir):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for code in blocks(page, "bash"):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{page.name}:\n{code}\n{done.stderr}"
        assert done.stdout.strip(), f"{page.name}: example printed nothing:\n{code}"
