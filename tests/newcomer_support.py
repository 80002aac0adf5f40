"""Helpers of the newcomer tests: ``rewardkit`` run in a fresh process (optional modules
blocked) or in this one, and the one-line error a run must end with."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROW = json.dumps({"label": "samoyed", "prediction": "dog"}) + "\n"


ROOT = Path(__file__).resolve().parent.parent


def rewardkit(tmp_path, *args, blocked=(), env=None, stdin=ROW):
    """Run ``rewardkit ARGS`` in a fresh process with the modules ``blocked`` uninstallable
    (as if their extra were not installed)."""
    code = (
        "import sys\n"
        f"for name in {list(blocked)!r}: sys.modules[name] = None\n"
        "from rewardkit.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "REWARDKIT_LOAD_PLUGINS"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=60,  # guards a hang; each run takes about a second
    )


def one_error(done, command="judge"):
    """The run failed with status 2 and one line on stderr; that line."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"rewardkit {command}: error: ")
    return lines[0].removeprefix(f"rewardkit {command}: error: ")


def cli(monkeypatch, capsys, args, text=""):
    """``rewardkit ARGS`` in process with ``text`` on stdin: (status, stdout, stderr)."""
    import io

    from rewardkit.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
