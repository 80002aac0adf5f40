"""``rewardkit monitor RUN_DIR`` on a run the monitor wrote, and ``rewardkit agree`` reading
the run's audit records; bad folders and files exit 2 with one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.monitor import disable

from .test_monitor import G, monitor_for, reward, run

EXE = str(Path(sys.executable).parent / "rewardkit")


@pytest.fixture(autouse=True)
def _monitors_unregistered():
    yield
    disable()  # the monitors a test opened leave no plugin registered for the tests after it


def cli(*args, env=None):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=env)


def monitored_run(folder):
    r = reward()
    monitor = monitor_for(r)
    monitor.attach(folder)
    run(monitor, r, [["x"] * 16] * 3 + [["x", "h"] * 8] * 3)
    monitor.close()
    return folder


def test_monitor_command_summarises_and_draws_the_run(tmp_path):
    folder = monitored_run(tmp_path / "run")
    done = cli("monitor", str(folder), "--report", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Reward monitor: 6 steps"
    # Step 4: the window holds steps 2-4, 48 rows, 8 hacked (gap 1/12); kappa is 0 at once.
    assert "| 4 | kappa | 0.000 | 0.6 | 'h' for 'bird': specific vs generic |" in lines
    assert "| 5 | gap | 0.167 | 0.1 | 'h' for 'bird': specific vs generic |" in lines
    assert "96 completions audited, 24 flagged" in done.stdout
    assert (tmp_path / "out" / "monitor.md").read_text().rstrip("\n") == done.stdout.rstrip("\n")
    assert (tmp_path / "out" / "monitor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_command_says_so_in_one_line(tmp_path):
    folder = monitored_run(tmp_path / "run")
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from rewardkit.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "monitor", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.startswith("# Reward monitor: 6 steps")
    assert done.stderr.strip().splitlines() == [
        "rewardkit monitor: no matplotlib, no figure (pip install 'rewardkit-rl[demo]')"
    ]
    assert not (folder / "monitor.png").exists()


def test_bad_run_folders_exit_2_with_one_line(tmp_path):
    done = cli("monitor", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"rewardkit monitor: error: no run folder {tmp_path / 'nowhere'}"
    done = cli("monitor", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("holds no monitor.jsonl: was the run monitored?")
    (tmp_path / "monitor.jsonl").write_text('{"monitor": {}}\n[1, 2]\n')
    done = cli("monitor", str(tmp_path), "--no-plot")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "monitor.jsonl, line 2: expected a JSON object" in done.stderr


def test_agree_reads_the_audit_records(tmp_path):
    folder = monitored_run(tmp_path / "run")
    done = cli(
        "agree", "--a", "audit_verdict", "--b", "train_verdict", "-g", str(G),
        "--rule", "graded", "-i", str(folder / "audit.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 96 and report["disagreements"] == 24 and report["b_higher"] == 1.0
    assert report["rewards"]["changed"] == 24
