"""The command line as a package: every command is a Command, and a plugin adds its own
through the ``register_commands`` hook - its flags, help and output - without touching
rewardkit; a plugin command may not take a built-in's name."""

import pytest

from rewardkit import hookimpl
from rewardkit.cli import BUILTIN, Command, main
from rewardkit.plugins import pm


class _Hello:
    @hookimpl
    def register_commands(self, register):
        def arguments(p):
            p.add_argument("--name", required=True, help="who to greet")

        register(Command("hello", "greet someone", arguments, lambda a: [f"hello {a.name}"]))


class _Clash:
    @hookimpl
    def register_commands(self, register):
        register(Command("judge", "a second judge command", lambda p: None, lambda a: []))


@pytest.fixture
def plugin(request):
    instance = request.param()
    pm.register(instance, name=f"cli-test-{request.param.__name__}")
    yield instance
    pm.unregister(instance)


def test_every_builtin_command_is_a_command():
    names = [c.name for c in BUILTIN]
    assert names == [
        "judge", "reward", "score", "agree", "serve", "openrlhf-reward", "demo", "plugins",
        "redteam", "data", "monitor",
    ]  # fmt: skip
    assert all(isinstance(c, Command) for c in BUILTIN)


@pytest.mark.parametrize("plugin", [_Hello], indirect=True)
def test_a_plugin_command_gets_its_flags_and_runs(plugin, capsys):
    assert main(["hello", "--name", "you"]) == 0
    assert capsys.readouterr().out == "hello you\n"
    with pytest.raises(SystemExit) as exit_:
        main(["hello"])  # its own required flag is checked by argparse
    assert exit_.value.code == 2
    assert "--name" in capsys.readouterr().err


@pytest.mark.parametrize("plugin", [_Clash], indirect=True)
def test_a_plugin_command_may_not_take_a_builtin_name(plugin, capsys):
    assert main(["score"]) == 2
    assert "a plugin registers command 'judge', which rewardkit has" in capsys.readouterr().err


def test_without_the_plugin_the_command_is_unknown(capsys):
    with pytest.raises(SystemExit):
        main(["hello", "--name", "you"])
    assert "invalid choice: 'hello'" in capsys.readouterr().err
