"""Installed plugins that break: one whose import or hook raises is named with how to leave it
out, the other commands keep working; a plugin list naming no installed plugin is said."""

import json

import pytest

from .newcomer_support import rewardkit


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
