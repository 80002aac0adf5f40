"""What a newcomer meets first: a missing extra, a judge that cannot be built, a broken plugin,
a typo in a plugin list - each one line on stderr naming what to do (exit 2), never a
traceback; and the command line's own log lines and levels."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.errors import MissingExtra, RewardkitError
from rewardkit.extras import missing_extra, require

from .conftest import ANIMALS

ROW = json.dumps({"label": "samoyed", "prediction": "dog"}) + "\n"


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


MISSING = [
    (
        ["--judge", "openai", "--model", "m", "--api-base", "http://127.0.0.1:9/v1"],
        "aiohttp",
        "the openai judge needs aiohttp: pip install 'rewardkit-rl[openai]'",
    ),
    (
        ["--judge", "litellm", "--model", "openai/m"],
        "litellm",
        "the litellm judge needs litellm: pip install 'rewardkit-rl[litellm]'",
    ),
    (
        ["--judge", "hf", "--model", "m"],
        "torch",
        "the hf judge needs torch: pip install 'rewardkit-rl[torch]'",
    ),
    (
        ["--judge", "hf", "--model", "m"],
        "transformers",
        "the hf judge needs transformers: pip install 'rewardkit-rl[torch]'",
    ),
    (
        ["--judge", "vllm", "--model", "m"],
        "vllm",
        "the vllm judge needs vllm: pip install 'rewardkit-rl[vllm]'",
    ),
    (
        ["--judge", "math"],
        "math_verify",
        "the math judge needs math-verify: pip install 'rewardkit-rl[math]'",
    ),
]


@pytest.mark.parametrize("args, module, line", MISSING, ids=[m[1] for m in MISSING])
def test_a_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch, capsys, args, module, line):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW)
    monkeypatch.setitem(sys.modules, module, None)  # as if its extra were not installed
    code = main(["judge", *args, "-i", str(rows)])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"rewardkit judge: error: {line}\n")


def test_serve_without_aiohttp_names_the_extra(tmp_path):
    done = rewardkit(
        tmp_path, "serve", "--taxonomy", ANIMALS, "-g", "4", "--port", "0", blocked=["aiohttp"]
    )
    line = "aiohttp is not installed: pip install 'rewardkit-rl[openai]'"
    assert one_error(done, "serve") == line


def test_require_raises_an_import_error_that_is_rewardkit_s():
    with pytest.raises(MissingExtra) as caught:
        require("no_such_module_xyz", "openai", "the thing")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, RewardkitError)
    line = "the thing needs no_such_module_xyz: pip install 'rewardkit-rl[openai]'"
    assert str(caught.value) == line
    assert caught.value.name == "no_such_module_xyz"
    assert require("json") is None  # installed: nothing happens


def test_missing_extra_translates_only_optional_modules():
    error = missing_extra(ModuleNotFoundError("No module named 'yaml'", name="yaml"))
    assert str(error) == "pyyaml is not installed: pip install 'rewardkit-rl[yaml]'"
    assert missing_extra(ModuleNotFoundError("No module named 'x'", name="x")) is None
    assert missing_extra(ValueError("yaml")) is None


def test_litellm_model_without_a_provider_is_one_line(tmp_path, capsys):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW)
    code = main(["judge", "--judge", "litellm", "--model", "fake", "-i", str(rows)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")  # and none of LiteLLM's help banners on stdout
    assert err == (
        "rewardkit judge: error: litellm judge at openai (model 'fake'): LiteLLM cannot tell "
        "the provider of model 'fake': name it as PROVIDER/MODEL (openai/gpt-4o-mini, "
        "anthropic/claude-3-5-haiku-latest, hosted_vllm/NAME with an api_base)\n"
    )


@pytest.mark.parametrize(
    "args, flag",
    [
        (["judge"], "--taxonomy"),
        (["judge", "--judge", "openai", "--model", "m"], "--api-base"),
        (["judge", "--judge", "hf"], "--model"),
        (["agree", "--a", "verdict", "--judge-b", "taxonomy"], "--option-b"),
    ],
    ids=["no-taxonomy", "no-api-base", "no-model", "agree-no-taxonomy"],
)
def test_a_judge_that_cannot_be_built_says_what_to_pass(tmp_path, capsys, args, flag):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"label": "samoyed", "prediction": "dog", "verdict": "generic"}))
    assert main([*map(str, args), "-i", str(rows)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"rewardkit {args[0]}: error: ") and "needs" in err
    assert f"{flag} " in err or err.endswith(f"{flag}\n"), err  # the flag to pass


def test_an_option_the_judge_does_not_take_is_named(tmp_path, capsys):
    from rewardkit.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROW)
    args = ["judge", "--taxonomy", str(ANIMALS), "--judge-option", "colour=1", "-i", str(rows)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("rewardkit judge: error: judge 'taxonomy' does not take option 'colour'")
    assert err.count("\n") == 1


def fake_plugin(site, name, code):
    """An installed plugin package ``name`` (its dist-info and module) in the folder
    ``site``, found through its ``rewardkit`` entry point as pip would leave it."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rewardkit]\n{name} = {name}_plugin\n")
    (site / f"{name}_plugin.py").write_text(code)


BROKEN_IMPORT = "import no_such_module_of_the_plugin\n"
BROKEN_HOOK = (
    "from rewardkit import hookimpl\n"
    "@hookimpl\n"
    "def register_rewards(register):\n"
    "    raise RuntimeError('the plugin is broken')\n"
)
GOOD = (
    "from rewardkit import hookimpl, Exact\n"
    "@hookimpl\n"
    "def register_rewards(register):\n"
    "    register('good_exact', Exact)\n"
)


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "badimport", BROKEN_IMPORT)
    fake_plugin(site, "badhook", BROKEN_HOOK)
    fake_plugin(site, "good", GOOD)
    return site


def test_a_broken_plugin_is_named_and_left_out_and_commands_keep_working(tmp_path, site):
    judged = json.dumps({"verdict": "specific"}) + "\n"
    done = rewardkit(
        tmp_path, "reward", "--rule", "good_exact", env={"PYTHONPATH": str(site)}, stdin=judged
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"verdict": "specific", "reward": 1.0}
    assert done.stderr.splitlines() == [
        "rewardkit: WARNING rewardkit.plugins: plugin 'badimport' (package badimport 0.1) cannot "
        "be loaded and is left out: ModuleNotFoundError: No module named "
        "'no_such_module_of_the_plugin'; leave it out quietly with "
        "REWARDKIT_DISABLE_PLUGINS=badimport, or uninstall it",
        "rewardkit: WARNING rewardkit.plugins: plugin 'badhook' is left out: register_rewards "
        "raised RuntimeError: the plugin is broken; leave it out quietly with "
        "REWARDKIT_DISABLE_PLUGINS=badhook, or uninstall it",
    ]
    listed = json.loads(rewardkit(tmp_path, "plugins", env={"PYTHONPATH": str(site)}).stdout)
    errors = {p["name"]: p.get("error") for p in listed}
    assert errors["badhook"] == "register_rewards raised RuntimeError: the plugin is broken"
    assert errors["badimport"].startswith("ModuleNotFoundError: No module named")
    assert errors["good"] is None and errors["rewardkit.builtins"] is None


def test_disabled_plugins_are_left_out_quietly(tmp_path, site):
    env = {"PYTHONPATH": str(site), "REWARDKIT_DISABLE_PLUGINS": "badimport, badhook"}
    done = rewardkit(tmp_path, "plugins", env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert sorted(p["name"] for p in json.loads(done.stdout)) == ["good", "rewardkit.builtins"]


def test_a_plugin_list_naming_no_installed_plugin_is_said(tmp_path, site):
    env = {"PYTHONPATH": str(site), "REWARDKIT_LOAD_PLUGINS": "good,nosuch"}
    done = rewardkit(tmp_path, "plugins", env=env)
    assert done.returncode == 0
    assert sorted(p["name"] for p in json.loads(done.stdout)) == ["good", "rewardkit.builtins"]
    assert done.stderr == (
        "rewardkit: WARNING rewardkit.plugins: REWARDKIT_LOAD_PLUGINS names 'nosuch', which is "
        "no installed plugin (installed: badhook, badimport, good)\n"
    )


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


ROOT = Path(__file__).resolve().parent.parent


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


def cli(monkeypatch, capsys, args, text=""):
    """``rewardkit ARGS`` in process with ``text`` on stdin: (status, stdout, stderr)."""
    import io

    from rewardkit.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_two_saved_judge_runs_are_compared_without_a_hand_merge(tmp_path, monkeypatch, capsys):
    from rewardkit.data import path

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    rollouts = path("rollouts.jsonl")
    judge = ["judge", "--taxonomy", ANIMALS, "-i", rollouts]
    assert cli(monkeypatch, capsys, [*judge, "-o", a])[0] == 0
    assert cli(monkeypatch, capsys, [*judge, "--verdict-field", "again", "-o", b])[0] == 0
    again = [json.loads(line) for line in b.read_text().splitlines()]
    assert "verdict" not in again[0] and again[0]["again"] == "generic"
    code, out, err = cli(
        monkeypatch, capsys, ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", b]
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["names"] == ["verdict", "again"] and report["rows"] == 16
    assert report["kappa"] == 1.0 and report["unscored"] == {"verdict": 1, "again": 1}
    # Files that do not hold the same rows are refused, naming the lines.
    short = tmp_path / "short.jsonl"
    short.write_text("".join(b.read_text().splitlines(keepends=True)[:3]))
    code, _, err = cli(
        monkeypatch,
        capsys,
        ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", short],
    )
    assert (code, err) == (
        2,
        f"rewardkit agree: error: {a} has 16 rows, {short} 3: not one run each\n",
    )
    swapped = tmp_path / "swapped.jsonl"
    lines = b.read_text().splitlines(keepends=True)
    swapped.write_text("".join([lines[1], lines[0], *lines[2:]]))
    code, _, err = cli(
        monkeypatch,
        capsys,
        ["agree", "--a", "verdict", "--b", "again", "-i", a, "--input-b", swapped],
    )
    assert code == 2 and err == (
        f"rewardkit agree: error: {a}, line 1 and {swapped}, line 1: different predictions "
        "('dog', 'spitz'); the two files must hold the same rows\n"
    )


class _TriPlugin:
    """A plugin ladder (low < mid < high) and a judge on it that echoes the prediction."""

    def __init__(self):
        import rewardkit as rk

        self.ladder = rk.Ladder(
            "tri",
            [
                rk.Rung("low", "Low", 0, False, "wrong"),
                rk.Rung("mid", "Mid", 1, True, "close"),
                rk.Rung("high", "High", 2, True, "right"),
            ],
        )

    @property
    def hooks(self):
        import rewardkit as rk

        ladder = self.ladder

        class Echo(rk.Judge):
            def __init__(self):
                super().__init__()
                self.ladder = ladder

            def judge_unique(self, pairs):
                return [prediction for _, prediction in pairs]

        class Hooks:
            @rk.hookimpl
            def register_ladders(self, register):
                register(ladder)

            @rk.hookimpl
            def register_judges(self, register):
                register("tri_echo", Echo)

        return Hooks()


@pytest.fixture
def tri_plugin():
    from rewardkit.plugins import pm

    hooks = _TriPlugin().hooks
    pm.register(hooks, name="tri-test")
    yield
    pm.unregister(hooks)


def test_a_plugin_ladder_travels_down_the_pipe(tri_plugin, monkeypatch, capsys):
    rows = "".join(
        json.dumps({"label": "x", "prediction": p}) + "\n" for p in ["low", "high", "mid", "high"]
    )
    code, judged, err = cli(monkeypatch, capsys, ["judge", "--judge", "tri_echo"], rows)
    assert code == 0, err
    assert [json.loads(line)["ladder"] for line in judged.splitlines()] == ["tri"] * 4
    code, rewarded, err = cli(
        monkeypatch, capsys, ["reward", "--rule", "speciarl", "-g", "4"], judged
    )
    assert code == 0, err
    assert [json.loads(line)["reward"] for line in rewarded.splitlines()] == [0.0, 1.0, 0.0, 1.0]
    code, scored, err = cli(monkeypatch, capsys, ["score"], rewarded)
    assert code == 0, err
    assert json.loads(scored)["counts"] == {"low": 1, "mid": 1, "high": 2}
    # A --ladder that contradicts the rows, and verdicts of a ladder the rows do not name.
    code, _, err = cli(monkeypatch, capsys, ["score", "--ladder", "speciarl"], judged)
    assert (code, err) == (
        2,
        "rewardkit score: error: --ladder speciarl, but <stdin>, line 1 was judged on ladder "
        "'tri'\n",
    )
    bare = judged.replace(', "ladder": "tri"', "")
    code, _, err = cli(monkeypatch, capsys, ["score"], bare)
    assert code == 2 and err.endswith(
        "(verdicts of another ladder? give --ladder NAME; rewardkit plugins lists the ladders)\n"
    )
    assert cli(monkeypatch, capsys, ["score", "--ladder", "tri"], bare)[0] == 0


def test_options_a_run_does_not_use_are_said_once(tmp_path, monkeypatch, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"label": "samoyed", "prediction": "dog", "verdict": "generic"}))
    code, _, err = cli(
        monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS, "--tag", "x", "-i", rows]
    )
    assert code == 0
    assert err.splitlines()[0] == (
        "rewardkit judge: --tag ignored: it reads the answer out of --completion-field, not given"
    )
    args = ["agree", "--a", "verdict", "--option-a", "k=1", "--judge-b", "taxonomy"]
    args += ["--taxonomy", ANIMALS, "--cache", tmp_path / "c.sqlite", "--rule", "exact", "-i", rows]
    code, out, err = cli(monkeypatch, capsys, args)
    assert code == 0 and json.loads(out)["rows"] == 1
    assert err.splitlines() == [
        "rewardkit agree: --rule ignored: reward effects need --group-size",
        "rewardkit agree: --option-a ignored: judge A's verdicts come from the column --a",
        "rewardkit agree: --cache ignored: no judge run takes it (taxonomy)",
    ]
    assert not (tmp_path / "c.sqlite").exists()


def test_progress_is_drawn_with_progress_or_on_a_terminal(tmp_path, monkeypatch, capsys):
    rows = "".join(
        json.dumps({"label": "samoyed", "prediction": f"dog {i}"}) + "\n" for i in range(300)
    )
    code, out, err = cli(monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS, "--progress"], rows)
    assert code == 0 and len(out.splitlines()) == 300
    assert err.splitlines()[-2:] == [
        "rewardkit judge: 300/300 distinct pairs (100%)",
        "rewardkit judge: 300 rows: 0 without an answer, 300 judged "
        "(300 with a verdict, 0 without)",
    ]
    code, _, err = cli(monkeypatch, capsys, ["judge", "--taxonomy", ANIMALS], rows)
    assert code == 0 and "distinct pairs" not in err  # stderr is no terminal here


def test_the_core_stays_light_with_the_progress_bar():
    code = "import sys, rewardkit.cli; print('tqdm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]  # rewardkit draws its own bar (cli/progress.py)


def test_the_judge_summary_adds_up_with_failures_and_a_stopped_run_claims_nothing(
    tmp_path, monkeypatch, capsys
):
    import rewardkit as rk

    from .judge_server import JudgeServer

    predictions = ["dog", "spitz", "cat", None, "dog", "samoyed"]
    rows = "".join(json.dumps({"label": "samoyed", "prediction": p}) + "\n" for p in predictions)
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        base = ["judge", "--judge", "openai", "--model", "m", "--api-base", server.url]
        server.faults = ["ok", "nolabel", "nolabel"]  # dog judged, spitz and cat off the ladder
        code, out, err = cli(monkeypatch, capsys, [*base, "--concurrency", "1"], rows)
        assert code == 0, err
        assert [json.loads(line)["verdict"] for line in out.splitlines()] == [
            "generic", None, None, None, "generic", "specific"
        ]  # fmt: skip
        summary = err.splitlines()[-1]
        assert summary.startswith(
            "rewardkit judge: 6 rows: 1 without an answer, 5 judged (3 with a verdict, 2 without), "
            "4 calls, 0 cache hits, 0 retries, "
        )
        assert summary.endswith(", 2 failures (off ladder 2)")
        server.faults = ["401"]  # a key the server refuses: the run stops at once
        code, out, err = cli(monkeypatch, capsys, base, rows)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("rewardkit judge: error: openai judge at ")
    assert "failures" not in err and "judged" not in err


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


def test_agree_without_matplotlib_writes_the_report_and_names_the_extra(
    tmp_path, monkeypatch, capsys
):
    rows = "".join(json.dumps({"a": v, "b": v}) + "\n" for v in ["generic", "wrong"])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = cli(
        monkeypatch, capsys, ["agree", "--a", "a", "--b", "b", "--report", tmp_path], rows
    )
    assert code == 0 and json.loads(out)["rows"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agreement.json", "agreement.md"]
    assert err == (
        "rewardkit agree: no confusion.png: matplotlib is not installed: "
        "pip install 'rewardkit-rl[demo]'\n"
    )


def test_the_demo_without_torch_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the demo command sets the script's argv
    monkeypatch.setattr(sys, "path", list(sys.path))  # and the script its folder on the path
    code, out, err = cli(monkeypatch, capsys, ["demo", "--preset", "quick"])
    assert (code, out) == (2, "")
    assert (
        err == "rewardkit demo: error: torch is not installed: pip install 'rewardkit-rl[torch]'\n"
    )
