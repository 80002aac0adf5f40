"""The declared options themselves: checks, text, paths, and the built-ins' declarations
agreeing with the constructors they feed."""

import inspect

import pytest

import rewardkit as rk
from rewardkit.errors import OptionError
from rewardkit.options import REQUIRED, Option, Options

RATE = Option("rate", float, 0.2, "a share", nullable=True, minimum=0, maximum=1)
COUNT = Option("count", int, 3, "how many", minimum=0)
FLAG = Option("flag", bool, False, "on or off")
NAME = Option("name", str, help="a name")
BOTH = Options(RATE, COUNT, FLAG, NAME)


@pytest.mark.parametrize(
    "values,error",
    [
        ({"name": "x", "count": True}, "option 'count' must be an integer >= 0, got True"),
        ({"name": "x", "count": 2.5}, "option 'count' must be an integer >= 0, got 2.5"),
        ({"name": "x", "count": -1}, "option 'count' must be an integer >= 0, got -1"),
        (
            {"name": "x", "rate": 1.5},
            "option 'rate' must be a finite number >= 0 and <= 1 or null, got 1.5",
        ),
        ({"name": "x", "rate": float("nan")}, "option 'rate' must be a finite number"),
        ({"name": "x", "flag": 1}, "option 'flag' must be true or false, got 1"),
        ({"name": None}, "option 'name' must be a string, got None"),
        ({"name": "x", "Count": 1}, "does not take option 'Count'; its options: rate, count"),
        ({}, "x needs option 'name' (a name)"),
    ],
)
def test_bad_values_are_errors_naming_the_option_and_owner(values, error):
    with pytest.raises(OptionError) as info:
        BOTH.validate(values, "x")
    assert error in str(info.value) and str(info.value).startswith("x")


def test_validate_fills_defaults_widens_ints_and_passes_objects():
    ladder = rk.SPECIARL
    assert BOTH.validate({"name": "n", "rate": 1}, "x") == {
        "name": "n", "rate": 1.0, "count": 3, "flag": False,
    }  # fmt: skip
    assert BOTH.validate({"name": ladder}, "x", fill=False) == {"name": ladder}
    assert BOTH.validate({"name": "n", "rate": None}, "x", fill=False) == {
        "name": "n",
        "rate": None,
    }
    assert type(BOTH.validate({"name": "n", "rate": 1}, "x")["rate"]) is float


def test_text_is_read_as_the_declared_type():
    assert [RATE.parse(t, "x") for t in ("0.5", "none", "null", "unscored")] == [
        0.5,
        None,
        None,
        None,
    ]
    assert [FLAG.parse(t, "x") for t in ("true", "no", "1")] == [True, False, True]
    assert NAME.parse("none", "x") == "none"  # a string's text is itself
    assert Option("o", object, None).parse("plain text", "x") == "plain text"
    assert Option("o", dict, None).parse('{"a": 1}', "x") == {"a": 1}
    with pytest.raises(OptionError, match="^x: option 'count' must be an integer >= 0, got 'two'$"):
        COUNT.parse("two", "x")
    secret = Option("key", int, help="k", secret=True)
    with pytest.raises(
        OptionError, match="^x: option 'key' must be an integer, got a secret value$"
    ):
        secret.parse("hunter2", "x")


def test_environment_variables_and_public_values(monkeypatch):
    options = Options(Option("token", str, secret=True, env="RK_TEST_TOKEN"), COUNT)
    monkeypatch.setenv("RK_TEST_TOKEN", "t0k")
    assert options.validate({}, "x") == {"token": "t0k", "count": 3}
    assert options.public({"token": "t0k", "count": 1}) == {"count": 1}


def test_absolute_paths_keep_urls_and_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.txt").write_text("x")
    options = Options(
        Option("cache", str, None, path=True),
        Option("prompt", str, None, path="existing"),
        Option("model", str),
    )
    values = {"cache": "c.sqlite", "prompt": "p.txt", "model": "m"}
    assert options.absolute(values) == {
        "cache": str(tmp_path / "c.sqlite"), "prompt": str(tmp_path / "p.txt"), "model": "m",
    }  # fmt: skip
    kept = {"cache": "redis://127.0.0.1:6379/0", "prompt": "speciarl"}
    assert options.absolute(kept) == kept


def test_composed_options_replace_in_place_and_flags():
    combined = Options(Options(COUNT, RATE), Option("count", int, 5))
    assert combined.names == ["count", "rate"] and combined["count"].default == 5
    assert Option("max_tokens", int, 16).cli_flag == "--max-tokens"
    assert Option("timeout", float, 1.0, flag="call-timeout").cli_flag == "--call-timeout"
    assert Option("limits", object, None).cli_flag is None
    with pytest.raises(ValueError, match="type must be one of"):
        Option("x", tuple)


def test_options_of_a_plain_callable_come_from_its_signature():
    def factory(a, b=2, *, c=None, **rest):
        return a

    options = Options.of(factory)
    assert options.names == ["a", "b", "c"] and options.extra == "taken by the factory"
    assert options["a"].default is REQUIRED and options["b"].default == 2
    with pytest.raises(OptionError, match="^rule 'f' needs option 'a'$"):
        options.validate({}, "rule 'f'")


def _parameters(*functions):
    """The keyword parameters ``functions[0]`` takes, following ``**kwargs`` down the chain."""
    out = {}
    for function in functions:
        kinds = inspect.signature(function).parameters.values()
        for p in kinds:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                out.setdefault(p.name, p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in kinds):
            break
    return out


def _constructors():
    from rewardkit.judges.hf import HFJudge
    from rewardkit.judges.litellm_judge import litellm_judge
    from rewardkit.judges.llm import LLMJudge
    from rewardkit.judges.openai_compat import openai_judge
    from rewardkit.judges.vllm_judge import VLLMJudge
    from rewardkit.verifiers.code import CodeJudge
    from rewardkit.verifiers.math import MathJudge

    yield "judge", "taxonomy", [rk.TaxonomyJudge.__init__]
    yield "judge", "openai", [openai_judge, LLMJudge.__init__]
    yield "judge", "litellm", [litellm_judge, LLMJudge.__init__]
    yield "judge", "hf", [HFJudge.__init__]
    yield "judge", "vllm", [VLLMJudge.__init__]
    yield "judge", "math", [MathJudge.__init__]
    yield "judge", "code", [CodeJudge.__init__]
    for name in ("speciarl", "exact", "correct", "graded", "format"):
        rule = rk.plugins.rules()[name]
        yield "rule", name, [rule.__init__, rk.RewardRule.__init__]
    for name in ("think_answer_format", "soft_overlong"):
        yield "rule", name, [rk.plugins.rules()[name].__init__]


def test_the_built_ins_declare_what_their_constructors_take_with_the_same_defaults():
    """A constructor's new option not declared, or a declared default that differs from the
    constructor's, fails here (the flags and the spec checks come from the declarations)."""
    for kind, name, functions in _constructors():
        declared = (rk.plugins.judge_options if kind == "judge" else rk.plugins.rule_options)(name)
        parameters = _parameters(*functions)
        parameters.pop("transport", None)  # LLMJudge's: the factory builds it
        if name == "vllm":
            parameters["model"] = parameters.pop("llm")  # the factory's model
        for option in declared:
            assert option.name in parameters, f"{kind} {name}: {option.name} reaches nothing"
            default = parameters[option.name]
            if default is inspect.Parameter.empty:
                assert option.required, f"{kind} {name}: {option.name} must be required"
                continue
            if option.name == "ladder":
                default = default.name
            assert option.default == default, f"{kind} {name}: {option.name}"
        undeclared = set(parameters) - set(declared.names)
        assert not undeclared, f"{kind} {name} takes undeclared {sorted(undeclared)}"


def test_every_registered_rule_and_judge_checks_its_options():
    for name in rk.plugins.rules():
        with pytest.raises(OptionError, match=f"^rule '{name}' does not take option 'nope'"):
            rk.get_rule(name, nope=1)
    open_ended = [n for n in rk.plugins.judges() if rk.plugins.judge_options(n).extra]
    assert open_ended == ["vllm"]  # its other options go to vllm.LLM
    for name in set(rk.plugins.judges()) - {"vllm"}:
        with pytest.raises(OptionError, match=f"^judge '{name}' does not take option 'nope'"):
            rk.get_judge(name, nope=1)


def test_a_rule_subclass_with_its_own_constructor_is_not_held_to_inherited_options():
    class Weighted(rk.Exact):  # a plugin's rule: its own __init__, no declaration
        def __init__(self, weight=1.0):
            super().__init__()
            self.weight = weight

    class Declared(rk.Exact):  # the base's constructor: the base's declaration holds
        pass

    assert Options.of(Weighted).names == ["weight"]
    assert Options.of(Declared) is rk.RewardRule.options
    assert Options.of(rk.Graded) is rk.Graded.options
