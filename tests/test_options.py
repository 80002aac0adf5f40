"""Declared options end to end: a plugin's judge declares its options and gets its flags, its
checks and its entry in `rewardkit plugins` without touching rewardkit; its secret never
reaches a spec file, a reward file or a log."""

import ast
import io
import json
import logging
import sys

import pytest

import rewardkit as rk
from rewardkit.cli import main
from rewardkit.errors import JudgeError, OptionError
from rewardkit.options import Option, Options

from .conftest import ANIMALS

SECRET = "tok-7f3a9c"  # the stub service's token: must never be printed or written


class StubJudge(rk.Judge):
    """A judge behind a service that wants a token; every pair gets ``verdict``."""

    name = "stub"
    ladder = rk.SPECIARL
    options = Options(
        Option(
            "verdict",
            str,
            "specific",
            "the verdict of every pair",
            choices=("specific", "generic", "wrong"),
        ),  # fmt: skip
        Option("token", str, help="the service token", secret=True, env="STUB_TOKEN"),
        Option("labels", str, None, "a file of labels", path=True),
    )

    def __init__(self, verdict, token, labels):
        super().__init__()
        self.verdict, self._token, self.labels = verdict, token, labels

    def judge_unique(self, pairs):
        if self._token != SECRET:
            raise JudgeError("the service refused the token")
        return [self.verdict] * len(pairs)


class PlainJudge(rk.Judge):
    """A judge registered without declared options: they come from its signature."""

    name = "plain"
    ladder = rk.SPECIARL

    def __init__(self, verdict="specific"):
        super().__init__()
        self.verdict = verdict

    def judge_unique(self, pairs):
        return [self.verdict] * len(pairs)


class StubPlugin:
    @rk.hookimpl
    def register_judges(self, register):
        register("stub", StubJudge)
        register("plain", PlainJudge)


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.delenv("STUB_TOKEN", raising=False)
    plugin = StubPlugin()
    rk.plugins.pm.register(plugin, name="stub-options")
    yield plugin
    rk.plugins.pm.unregister(plugin)


ROWS = "".join(json.dumps({"label": "samoyed", "prediction": p}) + "\n" for p in ("dog", "cat"))


def cli(monkeypatch, capsys, args, text=ROWS):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_plugin_judge_gets_its_flags_in_judge_help(plugin, capsys):
    with pytest.raises(SystemExit) as done:
        main(["judge", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "--verdict {specific,generic,wrong}" in out
    assert "--token TOKEN" in out and "the service token (judges: stub)" in out
    assert "--labels LABELS" in out


def test_a_plugin_judge_runs_from_its_flags_and_its_secret_is_never_printed(
    plugin, monkeypatch, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    args = ["judge", "--judge", "stub", "--token", SECRET, "--verdict", "generic", "--explain"]
    code, out, err = cli(monkeypatch, capsys, args)
    assert code == 0, err
    assert [json.loads(line)["verdict"] for line in out.splitlines()] == ["generic", "generic"]
    assert SECRET not in out + err + caplog.text


def test_an_option_the_judge_does_not_take_is_one_line_naming_it_and_the_judge(
    plugin, monkeypatch, capsys
):
    code, out, err = cli(
        monkeypatch,
        capsys,
        [
            "judge",
            "--judge",
            "stub",
            "--token",
            SECRET,
            "--judge-option",
            "colour=red",
        ],  # fmt: skip
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rewardkit judge: error: judge 'stub' does not take option 'colour'; its options: "
        "--verdict, --token, --labels"
    ]
    # another judge's flag
    code, _, err = cli(monkeypatch, capsys, ["judge", "--judge", "stub", "--model", "m"])
    assert code == 2 and err.splitlines() == [
        "rewardkit judge: error: judge 'stub' does not take --model; its options: "
        "--verdict, --token, --labels"
    ]
    # a value the option does not allow
    code, _, err = cli(monkeypatch, capsys, ["judge", "--judge", "stub", "--judge-option",
                                             "verdict=maybe", "--token", SECRET])  # fmt: skip
    assert code == 2 and err.splitlines() == [
        "rewardkit judge: error: judge 'stub': --judge-option verdict must be one of specific, "
        "generic, wrong, got 'maybe'"
    ]


def test_a_missing_required_option_is_one_line_saying_what_to_pass(plugin, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, ["judge", "--judge", "stub"])
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rewardkit judge: error: judge 'stub' needs --token or $STUB_TOKEN (the service token)"
    ]
    monkeypatch.setenv("STUB_TOKEN", SECRET)  # the environment variable is enough
    code, out, err = cli(monkeypatch, capsys, ["judge", "--judge", "stub"])
    assert code == 0 and [json.loads(x)["verdict"] for x in out.splitlines()] == ["specific"] * 2


def test_a_missing_taxonomy_says_to_pass_it(monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, ["judge"])
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rewardkit judge: error: judge 'taxonomy' needs --taxonomy (taxonomy file (.json, .yaml))"
    ]


def test_a_judge_without_declared_options_takes_its_signature_by_judge_option(
    plugin, monkeypatch, capsys
):
    args = ["judge", "--judge", "plain", "--judge-option", "verdict=wrong"]
    code, out, err = cli(monkeypatch, capsys, args)
    assert code == 0, err
    assert [json.loads(x)["verdict"] for x in out.splitlines()] == ["wrong", "wrong"]
    code, _, err = cli(monkeypatch, capsys, ["judge", "--judge", "plain", "--verdict", "wrong"])
    assert code == 2 and err.splitlines() == [
        "rewardkit judge: error: judge 'plain' does not take --verdict; its options: "
        "--judge-option verdict=VALUE"
    ]


def test_the_secret_never_reaches_a_spec_file_or_a_reward_file(plugin, tmp_path, monkeypatch):
    reward = rk.LadderReward("stub", "speciarl", token=SECRET, labels="labels.txt")
    reward.to_spec(group_size=2).save(tmp_path / "reward_spec.json")
    text = (tmp_path / "reward_spec.json").read_text()
    assert SECRET not in text
    assert json.loads(text)["judge_options"] == {"labels": "labels.txt"}
    assert SECRET not in repr(reward.spec) and "labels.txt" in repr(reward.spec)
    with pytest.raises(OptionError, match=r"^judge 'stub' needs option 'token' or \$STUB_TOKEN"):
        rk.LadderReward.from_spec(rk.RewardSpec.load(tmp_path / "reward_spec.json"))
    monkeypatch.setenv("STUB_TOKEN", SECRET)  # where the spec is loaded, the variable holds it
    again = rk.LadderReward.from_spec(rk.RewardSpec.load(tmp_path / "reward_spec.json"))
    assert again(["<answer>dog</answer>"] * 2, ["samoyed"] * 2, group_size=2) == [1.0, 1.0]


def test_openrlhf_reward_file_has_no_secret_and_absolute_paths(
    plugin, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUB_TOKEN", SECRET)
    args = ["openrlhf-reward", "-o", "reward.py", "-g", "2", "--judge", "stub"]
    code, out, err = cli(monkeypatch, capsys, [*args, "--token", SECRET, "--labels", "l.txt"])
    assert code == 0, err
    text = (tmp_path / "reward.py").read_text()
    assert SECRET not in text + out + err
    line = next(x for x in text.splitlines() if x.startswith("SPEC = json.loads("))
    spec = json.loads(ast.literal_eval(line[len("SPEC = json.loads(") : -1]))
    assert spec["reward"]["judge_options"] == {"labels": str(tmp_path / "l.txt")}


def test_rewardkit_plugins_lists_the_declared_options(plugin, monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, ["plugins"])
    assert code == 0
    stub = next(p for p in json.loads(out) if p["name"] == "stub-options")
    assert stub["judges"] == ["plain", "stub"]
    token = stub["options"]["judge stub"]["options"][1]
    assert token == {
        "name": "token",
        "type": "a string",
        "required": True,
        "help": "the service token",
        "secret": True,
        "env": "STUB_TOKEN",
        "flag": "--token",
    }
    plain = stub["options"]["judge plain"]["options"]
    assert plain == [{"name": "verdict", "type": "any value", "default": "specific", "flag": None}]
    builtins = next(p for p in json.loads(out) if p["name"] == "rewardkit.builtins")
    timeout = [o for o in builtins["options"]["judge openai"]["options"] if o["name"] == "timeout"]
    assert timeout == [{"name": "timeout", "type": "a finite number > 0", "default": 60.0,
                        "help": "seconds per call", "flag": "--call-timeout"}]  # fmt: skip


def test_a_secret_value_of_the_wrong_type_is_not_shown(plugin):
    with pytest.raises(OptionError) as info:
        rk.get_judge("stub", token=982451653)
    assert str(info.value) == "judge 'stub': option 'token' must be a string, got a int"


def test_reward_takes_rule_options_as_flags(monkeypatch, capsys):
    rows = "".join(json.dumps({"verdict": v}) + "\n" for v in ("generic", "specific", "wrong"))
    scale = json.dumps({s: float(i) for i, s in enumerate(rk.SPECIARL.slugs)})
    code, out, err = cli(monkeypatch, capsys, ["reward", "--rule", "graded", "--scale", scale],
                         rows)  # fmt: skip
    assert code == 0, err
    index = rk.SPECIARL.slugs.index
    expected = [float(index("generic")), float(index("specific")), float(index("wrong"))]
    assert [json.loads(x)["reward"] for x in out.splitlines()] == expected
    code, out, err = cli(monkeypatch, capsys, ["reward", "--rule", "soft_overlong"], rows)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rewardkit reward: error: rule 'soft_overlong' needs --l-max (DAPO's L_max: the "
        "longest completion)"
    ]
    code, _, err = cli(
        monkeypatch, capsys, ["reward", "--rule", "format", "--no-answer", "0"], rows
    )
    assert code == 2 and err.splitlines() == [
        "rewardkit reward: error: rule 'format' does not take --no-answer; its options: "
        "--found, --missing"
    ]


def test_the_old_timeout_spelling_of_judge_still_works_and_says_its_new_name(monkeypatch, capsys):
    args = ["judge", "--taxonomy", str(ANIMALS), "--timeout", "5"]
    code, _, err = cli(monkeypatch, capsys, args)
    assert code == 2  # it reaches the per-call time-out, which the taxonomy judge does not take
    deprecated, error = err.splitlines()  # the first a log line, as logging is set up
    assert deprecated.endswith(" --timeout is deprecated here: it is now --call-timeout")
    assert error == (
        "rewardkit judge: error: judge 'taxonomy' does not take --call-timeout; its options: "
        "--taxonomy"
    )


def test_openrlhf_reward_flags_have_one_meaning_and_the_old_timeout_still_works(
    tmp_path, monkeypatch, capsys
):
    args = ["openrlhf-reward", "-o", str(tmp_path / "r.py"), "-g", "2", "--taxonomy", str(ANIMALS)]
    more = ["--timeout", "7", "--unscored-reward", "0.5", "--unscored", "0.25", "--call-timeout"]
    code, _, err = cli(monkeypatch, capsys, [*args, *more, "3"])
    assert code == 2  # the per-call time-out is a model judge's, not the taxonomy judge's
    assert err.splitlines()[-1] == (
        "rewardkit openrlhf-reward: error: judge 'taxonomy' does not take --call-timeout; "
        "its options: --taxonomy"
    )
    code, _, err = cli(monkeypatch, capsys, [*args, *more[:-1]])
    assert code == 0, err
    assert err.splitlines()[0].endswith("--timeout is deprecated here: it is now --group-timeout")
    line = next(x for x in (tmp_path / "r.py").read_text().splitlines() if x.startswith("SPEC ="))
    spec = json.loads(ast.literal_eval(line[len("SPEC = json.loads(") : -1]))
    assert (spec["timeout"], spec["unscored"]) == (7.0, 0.5)
    assert spec["reward"]["rule_options"] == {"unscored": 0.25}


def test_agree_reads_a_judges_options_as_it_declares_them(monkeypatch, capsys):
    rows = "".join(
        json.dumps({"label": "samoyed", "prediction": p, "verdict": v}) + "\n"
        for p, v in (("dog", "generic"), ("samoyed", "specific"))
    )
    args = ["agree", "--a", "verdict", "--judge-b", "taxonomy", "--taxonomy", str(ANIMALS)]
    code, out, err = cli(monkeypatch, capsys, [*args, "--option-b", "colour=1"], rows)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "rewardkit agree: error: judge 'taxonomy' does not take option 'colour'; its options: "
        "--option-b taxonomy=VALUE"
    ]
    code, out, err = cli(monkeypatch, capsys, args, rows)
    assert code == 0, err
    assert json.loads(out)["n"] == 2
