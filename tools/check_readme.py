"""Run the README's examples from the current folder, with the rewardkit this Python has.

Every ```python block runs in a fresh interpreter and must print each line it states
(``print(...)  # -> expected``); every ```bash block runs with ``bash -euo pipefail`` and must
print something. Used by ``make package`` (the wheel installed in a fresh virtual environment,
run from outside the source tree) and by the tests (from a temp folder): the README's
commands need no file of the clone.

    python tools/check_readme.py README.md
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def expectations(code: str) -> list[str]:
    """The printed lines a block states, in order."""
    out, lines = [], code.splitlines()
    for i, line in enumerate(lines):
        inline = re.search(r"print\(.*\)\s*#\s*->\s?(.*)$", line)
        if inline:
            out.append(inline.group(1).rstrip())
        elif re.match(r"\s*#\s*->", line) and i and "print(" in lines[i - 1]:
            out.append(line.split("->", 1)[1].strip())
    return out


def check(page: str) -> list[str]:
    """What went wrong running the examples of ``page`` (empty when all ran as stated)."""
    text = Path(page).read_text(encoding="utf-8")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    problems = []
    for kind, code in BLOCK.findall(text):
        if kind == "python":
            argv = [sys.executable, "-c", code]
        elif kind == "bash":
            argv = ["bash", "-euo", "pipefail", "-c", code]
        else:
            continue
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        printed = iter(line.rstrip() for line in done.stdout.splitlines())
        missing = [want for want in expectations(code) if want not in printed]
        if done.returncode or missing or not done.stdout.strip():
            problems.append(
                f"{kind} block failed (status {done.returncode}, missing {missing}):\n{code}\n"
                f"stdout:\n{done.stdout}stderr:\n{done.stderr}"
            )
    return problems


if __name__ == "__main__":
    found = [p for page in sys.argv[1:] for p in check(page)]
    print("\n".join(found) or f"{', '.join(sys.argv[1:])}: every example ran", file=sys.stderr)
    sys.exit(1 if found else 0)
