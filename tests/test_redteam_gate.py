"""The gate in training: ``require_card`` lets a trainer start only on a card that passed and
was made for its judge identity, ladder (and guard) and rule - in the TRL reward, the OpenRLHF
reward file, verl's reward manager, the own GRPO loop and ``rewardkit serve``; the commands
``openrlhf-reward`` and ``serve`` refuse with ``--require-card`` before writing or binding."""

import json
import runpy

import pytest

import rewardkit as rk
from rewardkit.cli import main
from rewardkit.guards import AnswerGuard
from rewardkit.judges.openai_compat import openai_judge
from rewardkit.redteam import Card, CardError, check_card

from .conftest import ANIMALS
from .judge_server import JudgeServer

ROWS = [{"label": "samoyed"}, {"label": "american robin"}]


def reward_for(taxonomy=ANIMALS, rule="speciarl"):
    return rk.LadderReward("taxonomy", rule, taxonomy=str(taxonomy))


@pytest.fixture(scope="module")
def card_folder(tmp_path_factory):
    """A passing card of the taxonomy judge with the SpeciaRL ladder and rule."""
    folder = tmp_path_factory.mktemp("card")
    card = rk.redteam(reward_for(), ROWS, group_size=4)
    assert card.status == "pass"
    card.save(folder)
    return folder


@pytest.fixture(scope="module")
def other_taxonomy(tmp_path_factory):
    """The same taxonomy with one synonym more: another judge identity."""
    data = json.loads(ANIMALS.read_text())
    data["synonyms"]["siamese cat"] = ["siamese"]
    path = tmp_path_factory.mktemp("taxonomy") / "animals.json"
    path.write_text(json.dumps(data))
    return path


MISMATCH = "was made for another reward: the judge differs [(]card: 'taxonomy'"


def test_a_card_lets_its_own_reward_start(card_folder):
    check_card(card_folder, reward_for())
    check_card(card_folder / "card.json", reward_for())  # the file or its folder


def test_another_judge_rule_or_guard_is_refused(card_folder, other_taxonomy, tmp_path):
    with pytest.raises(CardError, match=MISMATCH):
        check_card(card_folder, reward_for(other_taxonomy))
    with pytest.raises(CardError, match="the rule differs .*'Exact"):
        check_card(card_folder, reward_for(rule="exact"))
    options = rk.LadderReward(
        rk.TaxonomyJudge(ANIMALS), rk.SpeciaRL(no_answer=0.0)
    )  # the same rule, another format penalty
    with pytest.raises(CardError, match="the rule differs"):
        check_card(card_folder, options)
    strict = rk.redteam(reward_for(), ROWS, group_size=4, guard=AnswerGuard().with_checks("all"))
    assert strict.status == "pass"
    strict.save(tmp_path / "strict")
    with pytest.raises(CardError, match="the answer guard differs .*'rung_names'"):
        check_card(tmp_path / "strict", reward_for())


def shout(values):  # a setting of a rule, named by the rule's identity
    return values


def test_a_rule_identity_holds_no_address():
    from rewardkit.redteam.card import _rule_state, rule_identity

    class Scaled(rk.SpeciaRL):
        def __init__(self, scale, **policy):
            super().__init__(**policy)
            self.scale = scale

    state = json.dumps(_rule_state(Scaled(shout)))
    assert "tests.test_redteam_gate.shout" in state and "0x" not in state
    assert rule_identity(Scaled(shout))["hash"] != rule_identity(Scaled(len))["hash"]


def test_a_failed_missing_or_foreign_card_is_refused(tmp_path):
    failed = rk.redteam(reward_for(), ROWS, group_size=4, guard=AnswerGuard())
    assert failed.status == "fail"  # symbol-only answers: the taxonomy judge's abstentions
    failed.save(tmp_path / "failed")
    with pytest.raises(CardError, match="failed the gate: empty_symbols: 33.3% false positives"):
        check_card(tmp_path / "failed", reward_for())
    with pytest.raises(CardError, match="no robustness card at"):
        check_card(tmp_path / "nothing.json", reward_for())
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something/2"}))
    with pytest.raises(CardError, match="not a robustness card of schema"):
        check_card(tmp_path / "other.json", reward_for())


def test_an_llm_judge_card_carries_its_verdict_cache_identity(tmp_path):
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        judge = openai_judge("judge-a", server.url, api_key_env=None, max_failure_rate=None)
        card = rk.redteam(judge, ROWS, group_size=4)
    assert card.judge["identity"] == judge.identity and card.judge["kind"] == "verdict cache"
    card.save(tmp_path)
    check_card(tmp_path, rk.LadderReward(judge, "speciarl"))
    other = openai_judge("judge-b", server.url, api_key_env=None)
    with pytest.raises(CardError, match="the judge differs"):
        check_card(tmp_path, rk.LadderReward(other, "speciarl"))


# -- each training entry point ---------------------------------------------------------------------


def test_trl_reward(card_folder, other_taxonomy):
    from rewardkit.adapters.trl import TRLReward

    TRLReward(reward_for(), num_generations=4, require_card=str(card_folder))
    with pytest.raises(CardError, match=MISMATCH):
        TRLReward(reward_for(other_taxonomy), num_generations=4, require_card=str(card_folder))


def test_openrlhf_reward_file(card_folder, other_taxonomy, tmp_path):
    from rewardkit.adapters.openrlhf import RendezvousReward, write_reward_file

    with pytest.raises(CardError, match=MISMATCH):
        RendezvousReward(reward_for(other_taxonomy), 4, require_card=str(card_folder))
    with pytest.raises(CardError, match=MISMATCH):
        write_reward_file(
            tmp_path / "bad.py",
            group_size=4,
            judge_options={"taxonomy": str(other_taxonomy)},
            require_card=card_folder,
        )
    assert not (tmp_path / "bad.py").exists()
    path = write_reward_file(
        tmp_path / "reward.py",
        group_size=4,
        judge_options={"taxonomy": str(ANIMALS)},
        require_card=card_folder,
    )
    loaded = runpy.run_path(str(path))  # as OpenRLHF loads it: the card is checked again
    assert loaded["SPEC"]["require_card"] == str(card_folder)
    card = Card.load(card_folder)
    card.status = "fail"
    card.save(tmp_path / "now-failed")
    spec = {**loaded["SPEC"], "require_card": str(tmp_path / "now-failed")}
    with pytest.raises(CardError, match="failed the gate"):
        RendezvousReward.from_spec(spec)


def test_verl_manager(card_folder, other_taxonomy):
    pytest.importorskip("verl")
    from omegaconf import OmegaConf

    from rewardkit.adapters.verl_manager import RewardkitRewardManager
    from rewardkit.tiny import word_tokenizer

    tokenizer = word_tokenizer(["classify"])

    def manager(taxonomy):
        kwargs = {"taxonomy": str(taxonomy), "require_card": str(card_folder)}
        config = OmegaConf.create(
            {"reward": {"reward_kwargs": kwargs}, "actor_rollout_ref": {"rollout": {"n": 4}}}
        )
        return RewardkitRewardManager(config, tokenizer)

    manager(ANIMALS)
    with pytest.raises(CardError, match=MISMATCH):
        manager(other_taxonomy)


def test_own_loop(card_folder, other_taxonomy):
    pytest.importorskip("torch")
    from rewardkit.loop import GRPOLoop, LoopConfig
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    tokenizer = word_tokenizer(["classify", "samoyed"])
    data = [{"prompt": "classify", "label": "samoyed"}]
    config = LoopConfig(max_steps=1, kl_coef=0.0, progress=False)
    GRPOLoop(tiny_causal_lm(tokenizer), tokenizer, reward_for(), data, config,
             require_card=card_folder)  # fmt: skip
    with pytest.raises(CardError, match=MISMATCH):  # before the model is touched
        GRPOLoop(None, None, reward_for(other_taxonomy), data, require_card=card_folder)


def test_serve(card_folder, other_taxonomy):
    pytest.importorskip("aiohttp")
    from rewardkit.serve import RewardServer

    RewardServer(reward_for(), group_size=4, require_card=str(card_folder))
    with pytest.raises(CardError, match=MISMATCH):
        RewardServer(reward_for(other_taxonomy), group_size=4, require_card=str(card_folder))


def test_the_cli_refuses_before_writing_or_serving(card_folder, other_taxonomy, tmp_path, capsys):
    args = ["openrlhf-reward", "-o", str(tmp_path / "cli.py"), "-g", "4", "--taxonomy"]
    status = main([*args, str(other_taxonomy), "--require-card", str(card_folder)])
    assert status == 2 and "the judge differs (card: 'taxonomy'" in capsys.readouterr().err
    assert not (tmp_path / "cli.py").exists()
    args = ["serve", "--taxonomy", str(other_taxonomy), "-g", "4", "--port", "0"]
    status = main([*args, "--require-card", str(card_folder)])  # refused before binding
    assert status == 2 and "the judge differs (card: 'taxonomy'" in capsys.readouterr().err
