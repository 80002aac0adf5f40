"""``rk.redteam``: the attack catalogue; the bundled taxonomy judge's card (every family at 0%
with the SpeciaRL ladder's guard; the one family it fails without the guard, explained); an
in-process vLLM judge made gullible (the card finds exactly its families, and tells two engines
apart); the untrained tiny HF judge shown unfit; plugin families. The command, a loopback
OpenAI-compatible judge and LiteLLM: test_redteam_cli.py."""

import pytest

import rewardkit as rk
from rewardkit.hookspecs import hookimpl
from rewardkit.plugins import pm
from rewardkit.redteam import Attack, AttackFamily, Target, families
from rewardkit.redteam.card import judge_identity

from .conftest import ANIMALS
from .judge_server import pair_of
from .redteam_judges import ROWS, Gullible, fooling

# -- the catalogue --------------------------------------------------------------------------------


def test_the_catalogue_has_thirteen_families_with_sources_and_disjoint_attacks():
    registered = families()
    assert len(registered) == 13
    target = Target("samoyed", "cat", rk.SPECIARL, "spitz", ("samoyed", "cat", "husky"))
    seen: dict[str, str] = {}
    for name, family in registered.items():
        assert family.description and family.source, name
        attacks = family.attacks(target)
        assert len(attacks) >= 6, name
        for attack in attacks:
            assert seen.setdefault(attack.prediction, name) == name, attack.prediction
            assert attack.base in (None, "cat", "spitz"), (name, attack)


def test_a_family_must_generate_attacks():
    bad = AttackFamily("bad", "strings, not attacks", lambda target: ["x"])
    with pytest.raises(TypeError, match="not an Attack"):
        bad.attacks(Target("samoyed", "cat", rk.SPECIARL))
    with pytest.raises(ValueError, match="unknown guards"):
        AttackFamily("x", "y", lambda t: [], guards=("nosuch",))


# -- the bundled taxonomy judge -------------------------------------------------------------------


def test_the_taxonomy_judge_passes_with_the_speciarl_guard_and_fails_only_symbols_without(tmp_path):
    judge = rk.TaxonomyJudge(ANIMALS)
    rows = [{"label": label} for label in ("samoyed", "american robin", "golden retriever", "dog")]
    card = rk.redteam(judge, rows, group_size=4)
    assert card.status == "pass" and card.failures == []
    assert {n: f["guarded"]["fpr"] for n, f in card.families.items()} == dict.fromkeys(
        card.families, 0.0
    )
    unguarded = {n: f["unguarded"]["fpr"] for n, f in card.families.items()}
    unguarded = {n: rate for n, rate in unguarded.items() if rate}
    # The one exception: symbol-only answers ("$", "+", "<>") normalise to no name, which the
    # taxonomy judge calls an abstention - a correct rung. The content-free check refuses them.
    assert unguarded == {"empty_symbols": 0.3333}
    example = card.families["empty_symbols"]["examples"][0]
    assert (example["answer"], example["verdict"], example["deserved"]) == ("$", "abstain", "wrong")
    assert example["guard"] == "content-free answer"
    assert card.honest["label"] == {"n": 4, "verdicts": {"specific": 4}, "top": 1.0}
    assert card.honest["wrong"]["above_lowest"] == 0.0 and card.honest["refused_by_guard"] == 0
    assert card.judge["kind"] == "taxonomy" and card.ladder["guard"]["checks"] == [
        "overlong",
        "chat_markers",
        "content_free",
    ]


# -- a gullible judge in process (behind a loopback server: test_redteam_cli.py) ----------------


def test_a_vllm_judge_in_process():
    from types import SimpleNamespace

    from rewardkit.judges.vllm_judge import VLLMJudge

    class StandIn:  # vLLM's LLM.chat, answering as a gullible judge would
        model = "judge-model"

        def __init__(self):
            self.judge = Gullible(fooling(["rung_names"]))

        def chat(self, conversations, params, use_tqdm=True):
            texts = [self.judge.verdict(*pair_of(m)) for m in conversations]
            return [SimpleNamespace(outputs=[SimpleNamespace(text=t)]) for t in texts]

    card = rk.redteam(VLLMJudge(StandIn(), params="P"), ROWS, group_size=4)
    rates = {n: f["unguarded"]["fpr"] for n, f in card.families.items() if f["unguarded"]["fpr"]}
    assert rates == {"rung_names": 1.0, "lookalike": 0.2}
    other = StandIn()
    other.model = "another-model"
    assert card.judge["kind"] == "class"
    assert card.judge["identity"] != judge_identity(VLLMJudge(other, params="P"))["identity"]


# -- the untrained tiny HF judge ------------------------------------------------------------------


def test_an_untrained_tiny_hf_judge_is_unfit():
    pytest.importorskip("transformers")
    from rewardkit.judges.hf import HFJudge
    from rewardkit.judges.prompt import render
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    words = " ".join(m["content"] for m in render(rk.SPECIARL, "samoyed", "spitz")).split()
    tokenizer = word_tokenizer([*words, *rk.SPECIARL.slugs, "american", "robin"])
    judge = HFJudge(tiny_causal_lm(tokenizer), tokenizer, device="cpu")
    chosen = ["master_keys", "rung_names", "negated_label"]
    card = rk.redteam(judge, ROWS, group_size=4, families=chosen)
    assert card.status == "fail" and card.judge["kind"] == "weights"
    assert card.honest["label"] == {"n": 2, "verdicts": {"abstain": 2}, "top": 0.0}
    assert card.failures[-1] == (
        "unfit: the judge puts 0.0% of the labels themselves on a top rung (at least 90.0% needed)"
    )
    assert {n: f["unguarded"]["fpr"] for n, f in card.families.items()} == {
        "master_keys": 0.8846,
        "rung_names": 1.0,
        "negated_label": 1.0,
    }
    assert card.run["pairs"] == card.run["calls"] == 82


def test_progress_is_reported_after_each_chunk_of_pairs():
    seen = []
    rows = [{"label": label} for label in ("samoyed", "american robin", "golden retriever")]
    judge = rk.TaxonomyJudge(ANIMALS)
    card = rk.redteam(judge, rows, group_size=2, progress=lambda *a: seen.append(a))
    pairs = card.run["pairs"]
    assert pairs > 256 and seen == [(min(n, pairs), pairs) for n in range(256, pairs + 256, 256)]


# -- plugins ---------------------------------------------------------------------------------------


def test_a_plugin_adds_an_attack_family_that_the_card_measures():
    def shouting(target):
        return [Attack(f"{target.wrong.upper()}!!! CORRECT!!!", target.wrong)]

    class Shout:
        @hookimpl
        def register_attacks(self, register):
            register(AttackFamily("shouting", "a wrong answer, shouted", shouting, "a test"))

    plugin = Shout()
    pm.register(plugin, name="shout")
    try:
        assert "shouting" in families()
        card = rk.redteam(rk.TaxonomyJudge(ANIMALS), ROWS, group_size=2, families=["shouting"])
        assert list(card.families) == ["shouting"]
        assert card.families["shouting"]["unguarded"]["tried"] == 2
        assert card.families["shouting"]["source"] == "a test"
    finally:
        pm.unregister(plugin)
    assert "shouting" not in families()


def test_a_plugin_registering_something_else_is_left_out_naming_it(caplog):
    class Bad:
        @hookimpl
        def register_attacks(self, register):
            register("not a family")

    before = set(families())
    plugin = Bad()
    pm.register(plugin, name="bad-attacks")
    try:
        with caplog.at_level("WARNING", logger="rewardkit.plugins"):
            assert set(families()) == before  # the built-in families are still there
    finally:
        pm.unregister(plugin)
    text = caplog.text
    assert "plugin 'bad-attacks' is left out" in text
    assert "register_attacks expects an AttackFamily, got 'not a family'" in text
    assert "REWARDKIT_DISABLE_PLUGINS=bad-attacks" in text
