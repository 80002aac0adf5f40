"""RewardSpec: JSON round trips, strict reading, and every adapter building through it."""

import json

import pytest

import rewardkit as rk
from rewardkit.spec import RewardSpec, SpecError

from .conftest import ANIMALS

COMPLETIONS = [f"<answer>{a}</answer>" for a in ("dog", "spitz", "cat", "samoyed")]


def test_round_trip_and_rebuild(tmp_path):
    reward = rk.LadderReward("taxonomy", "graded", taxonomy=ANIMALS, rule_options={"no_answer": 0})
    spec = reward.to_spec(group_size=4)
    assert spec.judge_options == {"taxonomy": str(ANIMALS)} and spec.group_size == 4
    assert RewardSpec.from_json(spec.to_json()) == spec
    spec.save(tmp_path / "reward_spec.json")
    again = rk.LadderReward.from_spec(RewardSpec.load(tmp_path / "reward_spec.json"))
    labels = ["samoyed"] * 4
    assert again(COMPLETIONS + ["x"], labels + ["samoyed"]) == reward(
        COMPLETIONS + ["x"], labels + ["samoyed"]
    )
    assert again.rule.no_answer == 0.0


def test_rewards_built_from_objects_have_no_spec():
    reward = rk.LadderReward(rk.TaxonomyJudge(ANIMALS), "speciarl")
    assert reward.spec is None
    with pytest.raises(TypeError, match="no spec"):
        reward.to_spec()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"judge": "taxonomy", "rules": "speciarl"}, "unknown key\\(s\\) rules"),
        ({"judge": 3}, "judge must be a registered name"),
        ({"group_size": 0}, "group_size must be a positive integer"),
        ({"group_size": True}, "group_size must be a positive integer"),
        ({"judge_options": {"x": float("nan")}}, "must be JSON data"),
        ({"judge_options": []}, "judge_options must be an object"),
    ],
)
def test_bad_specs_are_clear_errors(data, message):
    with pytest.raises(SpecError, match=message):
        RewardSpec.from_dict(data)


def test_flat_options_as_verl_passes_them():
    spec, own = RewardSpec.from_options(
        {"rule": "exact", "taxonomy": "t.json", "unscored": 0.5, "group_size": 5},
        own=("unscored",),
    )
    assert own == {"unscored": 0.5}
    assert spec.rule == "exact" and spec.group_size == 5
    assert spec.judge_options == {"taxonomy": "t.json"}


def test_the_cli_rebuilds_judge_and_rule_from_a_spec(tmp_path, monkeypatch, capsys):
    from rewardkit.cli import main

    RewardSpec(judge_options={"taxonomy": str(ANIMALS)}, group_size=2).save(tmp_path / "s.json")
    rows = [{"label": "samoyed", "prediction": p} for p in ("dog", "spitz")]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert (
        main(
            [
                "judge",
                "--spec",
                str(tmp_path / "s.json"),
                "-i",
                str(tmp_path / "rows.jsonl"),
                "-o",
                str(tmp_path / "j.jsonl"),
            ]
        )
        == 0
    )
    assert (
        main(["reward", "--spec", str(tmp_path / "s.json"), "-i", str(tmp_path / "j.jsonl")]) == 0
    )
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["reward"] for r in out] == [0.0, 1.0]
    (tmp_path / "bad.json").write_text('{"judge": "taxonomy", "oops": 1}')
    assert (
        main(["reward", "--spec", str(tmp_path / "bad.json"), "-i", str(tmp_path / "j.jsonl")]) == 2
    )
    assert "unknown key(s) oops" in capsys.readouterr().err


def test_the_own_loop_writes_its_spec(tmp_path):
    import torch  # noqa: F401  (the loop's extra)

    from rewardkit.loop import GRPOLoop, LoopConfig
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    tokenizer = word_tokenizer(["classify", "samoyed", "dog", "<answer>", "</answer>"])
    model = tiny_causal_lm(tokenizer, seed=0)
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS))
    config = LoopConfig(
        max_steps=1,
        num_generations=2,
        prompts_per_step=1,
        max_new_tokens=3,
        output_dir=str(tmp_path),
    )
    GRPOLoop(model, tokenizer, reward, [{"prompt": "classify", "label": "samoyed"}], config).train()
    spec = RewardSpec.load(tmp_path / "reward_spec.json")
    assert spec == reward.to_spec(group_size=2)
