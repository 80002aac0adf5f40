"""What a newcomer meets first: a missing extra, a judge that cannot be built, an option it
does not take - each one line on stderr naming what to install or pass (exit 2), never a
traceback."""

import json
import sys

import pytest

from rewardkit.errors import MissingExtra, RewardkitError
from rewardkit.extras import missing_extra, require

from .conftest import ANIMALS
from .newcomer_support import ROW, cli, one_error, rewardkit

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
