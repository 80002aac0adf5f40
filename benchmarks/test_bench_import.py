"""``import rewardkit`` against ``import numpy`` (its floor) and a bare interpreter start."""

import subprocess
import sys


def start(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bare_interpreter(benchmark, record):
    benchmark.pedantic(start, args=("pass",), rounds=10, iterations=1)
    record("python -c pass", items=1)


def test_import_numpy(benchmark, record):
    benchmark.pedantic(start, args=("import numpy",), rounds=10, iterations=1)
    record("python -c 'import numpy'", items=1, baseline="python -c pass")


def test_import_rewardkit(benchmark, record):
    benchmark.pedantic(start, args=("import rewardkit",), rounds=10, iterations=1)
    record("python -c 'import rewardkit'", items=1, baseline="python -c 'import numpy'")
