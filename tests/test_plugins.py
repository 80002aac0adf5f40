import json
import os
import shutil
import subprocess
import sys

import pytest

import rewardkit
from rewardkit import Ladder, Rung, hookimpl
from rewardkit.plugins import (
    PluginError,
    RegistryError,
    get_judge,
    get_ladder,
    get_plugins,
    get_rule,
    judges,
    ladders,
    pm,
    rules,
)

from .conftest import ANIMALS, ROOT

PLUGIN = ROOT / "plugins" / "rewardkit-math"


def test_builtins_are_registered_as_a_plugin():
    names = [p["name"] for p in get_plugins()]
    assert "rewardkit.builtins" in names
    assert set(ladders()) >= {"speciarl", "binary"}
    assert set(rules()) >= {"speciarl", "exact", "correct", "graded", "format"}
    assert "taxonomy" in judges()
    assert get_ladder("speciarl") is rewardkit.SPECIARL
    assert get_rule("graded", scale=None)(["generic"]) == [0.5]
    assert get_judge("taxonomy", taxonomy=ANIMALS).verdict("samoyed", "dog") == "generic"


def test_unknown_names_list_what_is_known():
    with pytest.raises(RegistryError, match="unknown rule 'nope'; known: .*speciarl"):
        get_rule("nope")
    with pytest.raises(RegistryError, match="unknown ladder"):
        get_ladder("nope")


class _RuntimePlugin:
    ladder = Ladder(
        "tri",
        [Rung("bad", "Bad", 0, False), Rung("ok", "OK", 1, True), Rung("great", "Great", 2, True)],
    )

    @hookimpl
    def register_ladders(self, register):
        register(self.ladder)

    @hookimpl
    def register_rewards(self, register):
        register("double_exact", lambda **kw: 2 * rewardkit.Exact(**kw))


def test_a_plugin_registered_at_run_time_is_picked_up_and_dropped():
    plugin = _RuntimePlugin()
    pm.register(plugin, name="runtime-test")
    try:
        assert get_ladder("tri") is plugin.ladder
        assert get_rule("double_exact")(["great", "ok"], ladder=plugin.ladder) == [2, 0]
    finally:
        pm.unregister(plugin)
    with pytest.raises(RegistryError):
        get_ladder("tri")


def test_a_name_registered_twice_is_an_error():
    class Clash:
        @hookimpl
        def register_ladders(self, register):
            register(rewardkit.SPECIARL)

    plugin = Clash()
    pm.register(plugin, name="clash-test")
    try:
        with pytest.raises(RegistryError, match="ladder 'speciarl' is registered twice"):
            get_ladder("speciarl")
    finally:
        pm.unregister(plugin)
    assert get_ladder("speciarl") is rewardkit.SPECIARL


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """The example plugin package, installed with pip into a folder of its own - built from
    a copy, so setuptools' build folder is not written into the checkout."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("plugin") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return target


def run_with(site, code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "REWARDKIT_LOAD_PLUGINS"}
    environ.update(PYTHONPATH=str(site), **env)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=True
    )
    return done.stdout


def test_installed_plugin_is_found_through_its_entry_point(installed_plugin):
    out = run_with(installed_plugin, "from rewardkit.cli import main; main(['plugins'])")
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["math"]["package"] == "rewardkit-math"
    assert plugins["math"]["version"] == "0.1.0"
    assert plugins["math"]["hooks"] == ["register_judges", "register_ladders"]
    assert plugins["math"]["ladders"] == ["math"] and plugins["math"]["judges"] == ["numeric"]
    builtins = plugins["rewardkit.builtins"]
    assert "speciarl" in builtins["rules"] and builtins["metrics"] == ["grpo"]
    assert "vllm" in builtins["judges"] and "math" in builtins["judges"]
    assert builtins["ladders"] == ["binary", "code", "math_answer", "speciarl"]

    code = (
        "import rewardkit as rk\n"
        "judge = rk.get_judge('numeric')\n"
        "v = judge.judge([('42', 'The answer is 42.'), ('42', '42.2'), ('42', 'seven'),"
        " ('1,000', '1000')])\n"
        "print(v)\n"
        "print(rk.SpeciaRL()(v, group_size=4, ladder=rk.get_ladder('math')))\n"
    )
    lines = run_with(installed_plugin, code).splitlines()
    assert lines == ["['correct', 'partial', 'wrong', 'correct']", "[1.0, 0.0, 0.0, 1.0]"]


def test_env_var_limits_which_plugins_load(installed_plugin):
    code = "import rewardkit.plugins as p; print(sorted(x['name'] for x in p.get_plugins()))"
    assert run_with(installed_plugin, code, REWARDKIT_LOAD_PLUGINS="").strip() == (
        "['rewardkit.builtins']"
    )
    assert run_with(installed_plugin, code, REWARDKIT_LOAD_PLUGINS="rewardkit-math").strip() == (
        "['math', 'rewardkit.builtins']"
    )
    # ... or by the name `rewardkit plugins` prints.
    assert run_with(installed_plugin, code, REWARDKIT_LOAD_PLUGINS="math").strip() == (
        "['math', 'rewardkit.builtins']"
    )


def test_plugins_load_lazily(installed_plugin):
    code = (
        "import sys, rewardkit; print('rewardkit_math' in sys.modules);"
        " rewardkit.get_ladder('math'); print('rewardkit_math' in sys.modules)"
    )
    assert run_with(installed_plugin, code).split() == ["False", "True"]


def test_a_misspelled_hook_is_an_error_naming_it():
    class Typo:
        @hookimpl
        def register_reward(self, register):  # the hook is register_rewards
            register("x", rewardkit.Exact)

    plugin = Typo()
    pm.register(plugin, name="typo-test")
    try:
        with pytest.raises(PluginError, match="register_reward.*register_rewards"):
            get_rule("exact")
    finally:
        pm.unregister(plugin)
    assert get_rule("exact")(["specific"]) == [1.0]


def test_a_plugin_metric_is_logged_by_the_pipeline():
    class Lengths:
        @hookimpl
        def register_metrics(self, register):
            register("answers", lambda judged, rewards, g: {"found": float(judged.found.sum())})

    plugin = Lengths()
    pm.register(plugin, name="metric-test")
    try:
        reward = rewardkit.LadderReward("taxonomy", "speciarl", taxonomy=ANIMALS)
        judged = reward.judge_completions(
            ["<answer>dog</answer>", "x", "<answer>spitz</answer>", "<answer>spitz</answer>"],
            ["samoyed"] * 4,
        )
        m = reward.metrics(judged, reward.rewards(judged, 2), 2)
    finally:
        pm.unregister(plugin)
    assert m["answers/found"] == 3.0
    # The built-in GRPO diagnostics: group 1 gets [0, -1] (varies), group 2 [1, 1] (flat).
    assert m["grpo/zero_variance_groups"] == 0.5
    assert m["grpo/no_answer_share"] == 0.25 and m["grpo/unscored_share"] == 0.0
    assert m["grpo/group_best_rung"] == rewardkit.SPECIARL.index("less_specific") - 0.5
