"""A new judge transport is one module plus its registration: a plugin's transport, handed to
LLMJudge, declares its options and gets its flags, its checks, the prompted judge's labels and
canonical keys, the call policy, the verdict cache and an identity of its own."""

import asyncio
import io
import json
import sys

import pytest

import rewardkit as rk
from rewardkit.cli import main
from rewardkit.judges.llm import LLMJudge
from rewardkit.judges.llm_options import CALL, MODEL
from rewardkit.judges.taxonomy import TaxonomyJudge
from rewardkit.judges.transport import Constraint, Reply
from rewardkit.options import Option, declares

from .conftest import ANIMALS


class LookupTransport:
    """A "model server" that answers from a taxonomy: it reads the pair out of the prompt's
    JSON input and replies with the label the constraint allows for the verdict, bare or as the
    JSON object the constraint's schema describes (``style``)."""

    name = "lookup"

    def __init__(self, model: str, taxonomy: str, style: str = "label") -> None:
        self.model, self.style = model, style
        self.endpoint = f"lookup:{taxonomy}"
        self.taxonomy = TaxonomyJudge(taxonomy)
        self.constraints: list[Constraint] = []
        self.closed = 0

    def identity(self) -> dict:
        return {"transport": self.name, "model": self.model, "style": self.style}

    async def complete(self, messages: list[dict], constraint: Constraint, timeout: float) -> Reply:
        self.constraints.append(constraint)
        content = messages[-1]["content"]  # the prompt's JSON input, wherever it stands
        pair, _ = json.JSONDecoder().raw_decode(content, content.index('{"ground_truth"'))
        verdict = self.taxonomy.verdict(pair["ground_truth"], pair["prediction"])
        label = constraint.choices[constraint.ladder.index(verdict)]
        if self.style == "json":
            enum = constraint.json_schema()["properties"]["verdict"]["enum"]
            assert label in enum
            return Reply(json.dumps({"verdict": label}), prompt_tokens=7, completion_tokens=3)
        return Reply(label, prompt_tokens=7, completion_tokens=1)

    async def aclose(self) -> None:
        self.closed += 1


TRANSPORTS: list[LookupTransport] = []


@declares(
    MODEL,
    Option("taxonomy", str, help="taxonomy file", path=True),
    Option("style", str, "label", "how the server replies", choices=("label", "json")),
    CALL,
)
def lookup_judge(*, model, taxonomy, style, **options):
    transport = LookupTransport(model, taxonomy, style)
    TRANSPORTS.append(transport)
    return LLMJudge(transport, **options)


class LookupPlugin:
    @rk.hookimpl
    def register_judges(self, register):
        register("lookup", lookup_judge)


@pytest.fixture
def plugin():
    TRANSPORTS.clear()
    plugin = LookupPlugin()
    rk.plugins.pm.register(plugin, name="lookup-transport")
    yield plugin
    rk.plugins.pm.unregister(plugin)


PREDICTIONS = ["dog", "Dog", "cat", "samoyed", None, "spitz"]
ROWS = "".join(json.dumps({"label": "samoyed", "prediction": p}) + "\n" for p in PREDICTIONS)


def cli(monkeypatch, capsys, args):
    monkeypatch.setattr(sys, "stdin", io.StringIO(ROWS))
    code = main(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_the_transports_options_are_flags_of_rewardkit_judge(plugin, capsys):
    with pytest.raises(SystemExit) as done:
        main(["judge", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    assert "--style {label,json} how the server replies (default label; judges: lookup)" in out
    assert "judges: openai, litellm, lookup)" in out  # --call-timeout, from the shared CALL


@pytest.mark.parametrize("style", ["label", "json"])
def test_a_plugin_transport_judges_from_its_flags(plugin, monkeypatch, capsys, style):
    args = ["judge", "--judge", "lookup", "--model", "m", "--taxonomy", str(ANIMALS)]
    code, rows, err = cli(monkeypatch, capsys, [*args, "--style", style, "--retries", "0"])
    assert code == 0, err
    verdicts = [r["verdict"] for r in rows]
    assert verdicts == ["generic", "generic", "wrong", "specific", None, "less_specific"]
    (transport,) = TRANSPORTS
    assert transport.style == style
    # "dog" and "Dog" are one judgement under the ladder's canonical form: four calls
    assert len(transport.constraints) == 4
    assert transport.constraints[0].choices == list(rk.SPECIARL.slugs)
    assert transport.closed == 1  # the batch's last act on its event loop
    assert err.splitlines()[-1] == (
        "rewardkit judge: 6 rows: 1 without an answer, 5 judged (5 with a verdict, 0 without), "
        f"4 calls, 0 cache hits, 0 retries, 28 prompt tokens, {4 if style == 'label' else 12} "
        "completion tokens, 0 failures"
    )


def test_the_prompts_labels_reach_the_transport_as_its_constraint(plugin):
    judge = rk.get_judge("lookup", model="m", taxonomy=str(ANIMALS), prompt="speciarl-paper")
    records = judge.judge_records([("samoyed", "spitz"), ("spitz", "samoyed")])
    assert [(r.verdict, r.reply) for r in records] == [
        ("less_specific", "less specific"),
        ("more_specific", "more specific"),
    ]
    (constraint,) = {id(c): c for c in TRANSPORTS[0].constraints}.values()
    assert constraint is judge.constraint
    assert constraint.choices == [
        "wrong", "abstain", "generic", "less specific", "specific", "more specific"
    ]  # fmt: skip
    assert constraint.json_schema()["properties"]["verdict"]["enum"] == constraint.choices


def test_a_missing_option_of_the_transport_is_one_line_saying_what_to_pass(
    plugin, monkeypatch, capsys
):
    code, rows, err = cli(monkeypatch, capsys, ["judge", "--judge", "lookup", "--model", "m"])
    assert (code, rows) == (2, [])
    assert err.splitlines() == [
        "rewardkit judge: error: judge 'lookup' needs --taxonomy (taxonomy file)"
    ]


def test_the_transports_identity_keys_the_verdict_cache(plugin, tmp_path):
    cache = str(tmp_path / "verdicts.sqlite")
    options = {"model": "m", "taxonomy": str(ANIMALS), "cache": cache}
    first = rk.get_judge("lookup", **options)
    assert asyncio.run(first.ajudge([("samoyed", "dog")])) == ["generic"]
    again = rk.get_judge("lookup", **options)
    other = rk.get_judge("lookup", **options, style="json")
    assert again.identity == first.identity != other.identity
    assert again.judge([("samoyed", "dog")]) == other.judge([("samoyed", "dog")]) == ["generic"]
    assert (again.stats.cache_hits, again.stats.calls) == (1, 0)
    assert (other.stats.cache_hits, other.stats.calls) == (0, 1)
