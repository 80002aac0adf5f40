"""What the command line says while it works: loggers named after their modules,
``--log-level`` anywhere, failures of one cause summarised, serve's requests at debug and
its two JSON endpoints answering verdicts one way."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ANIMALS
from .newcomer_support import ROW


def test_repeated_failures_are_summarised_not_one_line_each(caplog):
    import rewardkit as rk
    from rewardkit.judges.openai_compat import openai_judge

    from .judge_server import JudgeServer

    pairs = [("samoyed", f"dog {i}") for i in range(25)]
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        server.faults = ["ok"] + ["nolabel"] * 24  # one verdict, then 24 replies off the ladder
        judge = openai_judge(
            "m", server.url, api_key_env=None, concurrency=1, max_failure_rate=None
        )
        with caplog.at_level("DEBUG", "rewardkit.judges.calls"):
            verdicts = judge.judge(pairs)
    assert verdicts.count(None) == 24 and judge.stats.errors == {"off ladder": 24}
    records = [r for r in caplog.records if "judge failed on" in r.getMessage()]
    assert len(records) == 24 and {r.name for r in records} == {"rewardkit.judges.calls"}
    warned = [r.getMessage() for r in records if r.levelname == "WARNING"]
    assert len(warned) == 4  # the first three, then the tenth
    assert warned[2].endswith("(off ladder: 3 failures; more are logged at 10, 100, ...)")
    assert warned[3].endswith("(off ladder: 10 failures)")


def test_every_logger_is_named_after_its_module():
    src = Path(__file__).resolve().parent.parent / "src" / "rewardkit"
    fixed = {}
    for path in src.rglob("*.py"):
        for name in re.findall(r"getLogger\(\s*([^)\s][^)]*)\)", path.read_text()):
            if name != "__name__":
                fixed.setdefault(name, []).append(path.relative_to(src).as_posix())
    # The two that are not a module's own: the level --log-level sets for all of rewardkit,
    # and aiohttp's server logger, which serve filters.
    assert fixed == {'"rewardkit"': ["cli/logs.py"], '"aiohttp.server"': ["serve.py"]}


@pytest.fixture
def rewardkit_level():
    """The level of the ``rewardkit`` loggers, restored after a test that sets it."""
    import logging

    logger = logging.getLogger("rewardkit")
    level = logger.level
    yield logger
    logger.setLevel(level)


@pytest.mark.parametrize("where", ["before", "after"])
def test_log_level_is_a_global_option(tmp_path, capsys, rewardkit_level, where):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW)
    args, level = ["judge", "--taxonomy", str(ANIMALS), "-i", str(rows)], ["--log-level", "INFO"]
    assert main(level + args if where == "before" else args + level) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "generic"
    assert rewardkit_level.level == 20  # INFO
    with pytest.raises(SystemExit) as exit_:
        main(["judge", "--log-level", "loud"])
    assert exit_.value.code == 2
    assert "--log-level: invalid choice: 'loud'" in capsys.readouterr().err


def post(url, body):
    import urllib.request

    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:  # guards a hung server
        return json.loads(answer.read())


def test_serve_logs_requests_at_debug_and_answers_verdicts_one_way(tmp_path):
    import urllib.request

    process = subprocess.Popen(
        [sys.executable, "-m", "rewardkit.cli", "serve", "--log-level", "debug", "--taxonomy",
         str(ANIMALS), "--rule", "exact", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        ready = process.stderr.readline()  # the line that says where it listens
        url = re.search(r"http://\S+", ready).group(0)
        with urllib.request.urlopen(f"{url}/health", timeout=30) as answer:
            assert answer.status == 200
        completions = ["<answer>dog</answer>", "no answer"]
        rewarded = post(f"{url}/v1/reward", {"completions": completions, "labels": ["samoyed"] * 2})
        pairs = [{"label": "samoyed", "prediction": p} for p in ("dog", None)]
        judged = post(f"{url}/v1/judge", {"pairs": pairs})
    finally:
        process.terminate()
        rest = process.communicate(timeout=30)[1]
    assert process.returncode == 0
    assert re.search(r"rewardkit serve: DEBUG rewardkit.serve: GET /health 200 [\d.]+ ms\n", rest)
    assert re.search(r"DEBUG rewardkit.serve: POST /v1/reward 200 [\d.]+ ms\n", rest)
    # Both endpoints: a verdict or null, and why there is none at the same index.
    assert rewarded == {
        "rewards": [0.0, -1.0], "verdicts": ["generic", None], "errors": [None, "no answer"]
    }  # fmt: skip
    assert judged["verdicts"] == ["generic", None] and judged["errors"][0] is None
    assert judged["errors"][1] == "no answer"
