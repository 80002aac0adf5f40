"""The TRL reward in-process, pinned exactly: the cross-process gather with two ranks as two
threads (an all-gather through a barrier), a real one-process gloo group, the question column,
the spec file and the logged metrics - the cases `make mutate` found the suite let change.
(tests/test_trl.py runs the same gather in two real processes under torchrun.)"""

import json
import sys
import threading
from types import SimpleNamespace

import pytest

import rewardkit as rk
from rewardkit.adapters import trl
from rewardkit.adapters.trl import GroupLayoutError, TRLReward
from rewardkit.judges.base import Judge
from rewardkit.ladders import SPECIARL

from .conftest import ANIMALS

HANG = 120  # s: guards a rank that never reaches the gather (a deadlock), not a time limit


def reward(**options):
    return rk.LadderReward("taxonomy", "speciarl", taxonomy=str(ANIMALS), **options)


def answers(*words):
    return [f"<answer>{w}</answer>" if w else "no answer" for w in words]


class TwoRanks:
    """Ranks as threads of this process: ``_world`` answers per thread and ``_all_gather`` is
    an all-gather through a barrier, as torch.distributed's ``all_gather_object``."""

    def __init__(self, monkeypatch, world=2):
        self.world, self.local = world, threading.local()
        self.parts: list = [None] * world
        self.gathers, self.gathered = 0, set()
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(world, timeout=HANG)
        monkeypatch.setattr(trl, "_world", lambda: (self.local.rank, world))
        monkeypatch.setattr(trl, "_all_gather", self.gather)

    def gather(self, obj, world):
        assert world == self.world
        self.parts[self.local.rank] = obj
        self.barrier.wait()  # every rank has put its part
        out = list(self.parts)
        self.barrier.wait()  # every rank has read them all
        with self.lock:
            self.gathers += 1
            self.gathered.add(self.local.rank)
        return out

    def run(self, calls):
        """``calls[rank]()`` on each rank at once: their results, or the error every rank
        raised (an AssertionError when the ranks fail differently)."""
        results: list = [None] * self.world
        errors: list = [None] * self.world

        def rank(r):
            self.local.rank = r
            try:
                results[r] = calls[r]()
            except BaseException as e:  # noqa: BLE001 - handed to the test below
                errors[r] = e
                if r not in self.gathered:
                    self.barrier.abort()  # the other ranks stop waiting for this one

        threads = [threading.Thread(target=rank, args=(r,), daemon=True) for r in range(self.world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG)
        assert not any(t.is_alive() for t in threads), "a rank hung in the gather"
        if any(e is not None for e in errors):
            kinds = {(type(e), str(e)) for e in errors}
            assert len(kinds) == 1, f"the ranks failed differently: {errors}"
            raise errors[0]
        return results


# Three groups of 4 over two ranks of 6: the middle group straddles the ranks. Whole, its
# best answer is rank 1's "samoyed" (specific); rewarded on each rank alone, rank 0's "spitz"
# would earn 1 as the best of its half.
PROMPTS = ["p0"] * 4 + ["p1"] * 4 + ["p2"] * 4
COMPLETIONS = answers(
    "dog", "spitz", "samoyed", None,
    "dog", "spitz", "samoyed", "dog",
    "spitz", "spitz", "dog", "cat",
)  # fmt: skip
JOINED = [0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_a_group_split_across_ranks_is_rewarded_whole(monkeypatch):
    ranks = TwoRanks(monkeypatch)
    logged: list[dict] = [{}, {}]

    def call(r):
        part = slice(6 * r, 6 * r + 6)
        return TRLReward(reward(), num_generations=4)(
            PROMPTS[part],
            COMPLETIONS[part],
            label=["samoyed"] * 6,
            log_metric=logged[r].__setitem__,
        )

    out = ranks.run([lambda: call(0), lambda: call(1)])
    assert out == [JOINED[:6], JOINED[6:]]
    assert ranks.gathers == 2
    assert reward()(COMPLETIONS, ["samoyed"] * 12, 4) == JOINED
    # Rank 0's batch of 6 holds no whole number of groups of 4: no group metrics, its own mean.
    assert logged[0]["speciarl_taxonomy/reward_mean"] == pytest.approx(0.0)
    assert logged[1]["speciarl_taxonomy/reward_mean"] == pytest.approx(0.5)
    assert not any(k.startswith("speciarl_taxonomy/grpo/") for k in logged[0])


def test_the_eval_group_size_applies_to_a_split_eval_batch(monkeypatch):
    ranks = TwoRanks(monkeypatch)
    prompts = ["a", "a", "b", "b", "c", "c"]
    completions = answers("dog", "spitz", "samoyed", "dog", "cat", "dog")
    args = SimpleNamespace(num_generations=4, num_generations_eval=2)

    def call(r):
        part = slice(3 * r, 3 * r + 3)
        return TRLReward(reward(), args)(prompts[part], completions[part], label=["samoyed"] * 3)

    assert ranks.run([lambda: call(0), lambda: call(1)]) == [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]


def test_a_layout_broken_across_ranks_fails_on_every_rank(monkeypatch):
    ranks = TwoRanks(monkeypatch)
    prompts = ["a", "a", "b", "a", "b", "b"]  # rank 1 starts with the wrong prompt

    def call(r):
        part = slice(3 * r, 3 * r + 3)
        return TRLReward(reward(), num_generations=2)(
            prompts[part], answers("dog", "dog", "dog", "dog", "dog", "dog")[part],
            label=["samoyed"] * 3,
        )  # fmt: skip

    with pytest.raises(GroupLayoutError) as e:
        ranks.run([lambda: call(0), lambda: call(1)])
    assert str(e.value) == (
        "speciarl_taxonomy: 6 completions do not form contiguous groups of 2 sharing one prompt "
        "and label; rewardkit expects GRPOTrainer's layout (num_generations contiguous "
        "completions per prompt)"
    )


def test_whole_groups_on_every_rank_need_no_gather(monkeypatch):
    ranks = TwoRanks(monkeypatch)

    def call(r):
        return TRLReward(reward(), num_generations=2)(
            ["a", "a"], answers("dog", "spitz") if r == 0 else answers("cat", "samoyed"),
            label=["samoyed"] * 2,
        )  # fmt: skip

    assert ranks.run([lambda: call(0), lambda: call(1)]) == [[0.0, 1.0], [0.0, 1.0]]
    assert ranks.gathers == 0


# -- one process ---------------------------------------------------------------------------------


def test_one_process_is_rank_0_of_1_without_torch_distributed(monkeypatch):
    assert trl._world() == (0, 1)  # torch.distributed is there, no group is initialised
    monkeypatch.setitem(sys.modules, "torch.distributed", None)  # import fails
    assert trl._world() == (0, 1)


def test_a_real_process_group_of_one(tmp_path):
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        assert trl._world() == (0, 1)
        assert trl._all_gather({"codes": [1, 2]}, 1) == [{"codes": [1, 2]}]
        r = TRLReward(reward(), num_generations=2)
        assert r(["a", "a"], answers("dog", "spitz"), label=["samoyed"] * 2) == [0.0, 1.0]
    finally:
        dist.destroy_process_group()


# -- the config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, options",
    [(None, {}), (SimpleNamespace(), {}), (SimpleNamespace(num_generations=0), {})],
    ids=["nothing", "no num_generations", "num_generations 0"],
)
def test_the_group_size_must_be_given(args, options):
    with pytest.raises(ValueError) as e:
        TRLReward(reward(), args, **options)
    assert str(e.value) == "give the GRPOConfig (args=...) or num_generations=..."


def test_group_sizes_from_the_config():
    assert TRLReward(reward(), SimpleNamespace(num_generations=4)).group_sizes == [4]
    same = SimpleNamespace(num_generations=4, num_generations_eval=4)
    assert TRLReward(reward(), same).group_sizes == [4]
    assert TRLReward(reward(), num_generations=3).group_sizes == [3]
    assert TRLReward(
        reward(), SimpleNamespace(num_generations=8), num_generations=2
    ).group_sizes == [2]


def test_the_missing_label_column_lists_the_dataset_columns_exactly():
    r = TRLReward(reward(), num_generations=1)
    trainer = {k: None for k in ("trainer_state", "log_extra", "log_metric", "completion_ids")}
    with pytest.raises(KeyError) as e:
        r(["p"], ["x"], **trainer, truth=["a"], answer=["b"])
    assert e.value.args[0] == (
        "speciarl_taxonomy: the dataset has no 'label' column with the ground truth (columns: "
        "answer, truth); set label_key="
    )
    with pytest.raises(KeyError) as e:
        r(["p"], ["x"], **trainer)
    assert "(columns: none)" in e.value.args[0]


def test_the_label_is_part_of_the_group_key():
    r = TRLReward(reward(), num_generations=2)
    with pytest.raises(GroupLayoutError):
        r(["p", "p"], answers("dog", "dog"), label=["samoyed", "siberian husky"])
    assert r(["p"] * 4, answers("dog", "spitz", "spitz", "samoyed"), label=["samoyed"] * 4) == [
        0.0, 1.0, 0.0, 1.0,
    ]  # fmt: skip


# -- the question a judge reads ------------------------------------------------------------------


class QuestionJudge(Judge):
    """Generic for every answer, and records the questions it was asked with."""

    name = "questions"
    ladder = SPECIARL
    uses_question = True

    def __init__(self):
        super().__init__()
        self.seen = []

    def judge_unique(self, pairs):
        self.seen.extend(q for _, _, q in pairs)
        return ["generic"] * len(pairs)


def test_a_judge_reads_the_question_column_or_else_the_prompt_text():
    judge = QuestionJudge()
    r = TRLReward(rk.LadderReward(judge, "speciarl"), num_generations=1)
    r(["p1", "p2"], answers("fox", "owl"), label=["x", "y"], question=["q1", "q2"])
    assert judge.seen == ["q1", "q2"]
    judge.seen.clear()
    chat = [[{"role": "user", "content": "q3"}], [{"role": "user", "content": "q4"}]]
    r(chat, answers("fox", "owl"), label=["x", "y"])
    assert judge.seen == ["q3", "q4"]
    judge.seen.clear()
    own = TRLReward(rk.LadderReward(judge, "speciarl"), num_generations=1, question_key="asked")
    own(["p1"], answers("fox"), label=["x"], asked=["q5"], question=["not this"])
    assert judge.seen == ["q5"]


def test_a_judge_that_ignores_the_question_is_not_given_one():
    r = TRLReward(reward(), num_generations=1)
    assert r(["p"], answers("samoyed"), label=["samoyed"], question=[None]) == [1.0]


def test_the_prompt_text_of_chat_prompts():
    prompt = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "t"}, "raw"]},
        {"role": "user", "content": [{"type": "text", "text": 5}, {"type": "text", "text": None}]},
        "not a message",
        {"role": "user", "content": None},
        {"role": "user", "content": ""},
        {"role": "user", "content": "u"},
    ]
    assert trl._prompt_text(prompt) == "s\nt\nu"
    assert trl._prompt_text("plain") == "plain"
    assert trl._prompt_text(None) == ""


def test_the_group_key_is_a_stable_8_byte_digest():
    key = trl._prompt_key([{"role": "user", "content": "q", "name": "n"}], "samoyed")
    assert key.hex() == "e1dd4f32f253b949"
    # Dict order does not matter; objects (images) count by type only.
    assert key == trl._prompt_key([{"name": "n", "content": "q", "role": "user"}], "samoyed")
    image = [{"role": "user", "content": [{"type": "image", "image": object()}]}]
    again = [{"role": "user", "content": [{"type": "image", "image": object()}]}]
    other = [{"role": "user", "content": [{"type": "image", "image": 1j}]}]
    assert trl._prompt_key(image, "y") == trl._prompt_key(again, "y")
    assert trl._prompt_key(image, "y") != trl._prompt_key(other, "y")
    assert trl._prompt_key("p", "a") != trl._prompt_key("p", "b")
    # A lone surrogate (a JSON dataset's "\\ud800") is a text like any other.
    assert trl._prompt_key("\ud800", "y") != trl._prompt_key("\ud801", "y")


# -- the spec file and the log -------------------------------------------------------------------


def test_the_spec_is_written_once_by_rank_0(tmp_path, monkeypatch):
    args = SimpleNamespace(num_generations=4, num_generations_eval=2, output_dir=str(tmp_path))
    r = TRLReward(reward(), args)
    r(["a", "a"], answers("dog", "spitz"), label=["samoyed"] * 2)
    spec = json.loads((tmp_path / "reward_spec.json").read_text())
    assert spec["group_size"] == 4 and spec["rule"] == "speciarl"
    (tmp_path / "reward_spec.json").unlink()
    r(["a", "a"], answers("dog", "spitz"), label=["samoyed"] * 2)
    assert list(tmp_path.iterdir()) == []  # once per reward
    monkeypatch.setattr(trl, "_world", lambda: (1, 2))
    TRLReward(reward(), args)(["a"] * 4, answers("a", "b", "c", "d"), label=["samoyed"] * 4)
    assert list(tmp_path.iterdir()) == []  # not by rank 1


def test_no_spec_without_an_output_folder_or_a_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    TRLReward(reward(), SimpleNamespace(num_generations=1))(["p"], ["x"], label=["samoyed"])
    judge_object = rk.LadderReward(QuestionJudge(), "speciarl")  # no spec: built from objects
    args = SimpleNamespace(num_generations=1, output_dir=str(tmp_path / "out"))
    TRLReward(judge_object, args)(["p"], ["x"], label=["y"], question=["q"])
    assert list(tmp_path.iterdir()) == []


def test_the_log_has_the_local_group_metrics_and_rewards():
    metrics, extra = {}, {}
    r = TRLReward(reward(), SimpleNamespace(num_generations=4, num_generations_eval=2))
    out = r(
        ["a", "a"],
        answers("dog", "spitz"),
        label=["samoyed"] * 2,
        log_metric=metrics.__setitem__,
        log_extra=extra.__setitem__,
    )
    assert out == [0.0, 1.0]
    assert metrics["speciarl_taxonomy/reward_mean"] == 0.5
    assert metrics["speciarl_taxonomy/grpo/zero_variance_groups"] == 0.0  # one group of 2
    assert metrics["speciarl_taxonomy/grpo/group_best_rung"] == 3.0  # less_specific
    assert extra == {"verdict": ["generic", "less_specific"], "judge_error": ["", ""]}


# -- rules that read the completions: texts and token lengths --------------------------------------


def shaped():
    """Correct + the think-answer format (reads texts) + DAPO's overlong ramp (reads lengths:
    tokens when TRL gives completion_ids, else characters)."""
    rule = rk.Correct() + rk.ThinkAnswerFormat() + rk.SoftOverlong(l_max=20, l_cache=4)
    return rk.LadderReward(rk.TaxonomyJudge(ANIMALS), rule)


THINKS = [
    "<think>x</think><answer>spitz</answer>",
    "<answer>samoyed</answer>",
    "<answer>cat</answer>",
]
IDS = [[0] * 16, [0] * 18, [0] * 21]  # 0, -0.5 and -1 off the ramp; the texts are 38, 24, 20 chars


def test_trl_token_lengths_reach_the_rules():
    r = TRLReward(shaped(), num_generations=3)
    out = r(["p"] * 3, THINKS, label=["samoyed"] * 3, completion_ids=IDS)
    assert out == [2.0, -0.5, -2.0]  # correct + format + ramp
    # Without completion_ids the ramp counts characters: 38 and 24 are over, 20 is at 16..20.
    assert r(["p"] * 3, THINKS, label=["samoyed"] * 3) == [1.0, -1.0, -2.0]


def test_texts_and_lengths_are_gathered_with_a_split_group(monkeypatch):
    ranks = TwoRanks(monkeypatch)
    thinks, ids = THINKS * 2, IDS * 2  # groups of 2 over ranks of 3: the second one straddles

    def call(r, tokens):
        part = slice(3 * r, 3 * r + 3)
        given = {"completion_ids": ids[part]} if tokens else {}
        return TRLReward(shaped(), num_generations=2)(
            ["a", "a", "b", "b", "c", "c"][part], thinks[part], label=["samoyed"] * 3, **given
        )

    out = ranks.run([lambda: call(0, True), lambda: call(1, True)])
    assert out == [[2.0, -0.5, -2.0], [2.0, -0.5, -2.0]]
    assert ranks.gathers == 2
    # Without completion_ids the texts are still gathered, and the ramp counts characters.
    out = ranks.run([lambda: call(0, False), lambda: call(1, False)])
    assert out == [[1.0, -1.0, -2.0], [1.0, -1.0, -2.0]]


def test_the_layout_error_names_both_group_sizes():
    args = SimpleNamespace(num_generations=4, num_generations_eval=2)
    with pytest.raises(GroupLayoutError) as e:
        TRLReward(reward(), args)(
            ["a", "b", "c"], answers("dog", "dog", "dog"), label=["samoyed"] * 3
        )
    assert str(e.value) == (
        "speciarl_taxonomy: 3 completions do not form contiguous groups of 4 or 2 sharing one "
        "prompt and label; rewardkit expects GRPOTrainer's layout (num_generations contiguous "
        "completions per prompt)"
    )


def test_a_required_card_is_checked_against_this_reward(tmp_path):
    from rewardkit.redteam import CardError

    rows = [{"label": "samoyed"}, {"label": "american robin"}]
    card = rk.redteam(reward(), rows, group_size=4)
    assert card.status == "pass"
    (tmp_path / "card.json").write_text(card.to_json())  # the card alone, no plot
    assert TRLReward(
        reward(), num_generations=4, require_card=tmp_path / "card.json"
    ).group_sizes == [4]
    with pytest.raises(CardError) as e:
        TRLReward(reward(), num_generations=4, require_card=tmp_path / "none.json")
    assert str(e.value) == f"require_card: no robustness card at {tmp_path / 'none.json'}"
    with pytest.raises(CardError) as e:
        TRLReward(rk.LadderReward("taxonomy", "exact", taxonomy=str(ANIMALS)), num_generations=4,
                  require_card=tmp_path / "card.json")  # fmt: skip
    assert "was made for another reward: the rule differs" in str(e.value)


# -- the monitor, through the reward's own call ----------------------------------------------------


class Says(Judge):
    """One verdict for every answer; records the questions it was asked with."""

    ladder = SPECIARL
    uses_question = True

    def __init__(self, verdict):
        super().__init__()
        self.name, self.verdict, self.seen = f"says_{verdict}", verdict, []

    def judge_unique(self, pairs):
        self.seen.extend(q for _, _, q in pairs)
        return [self.verdict] * len(pairs)


def monitored(tmp_path, policy="warn", rate=1.0):
    """A reward whose judge pays every answer as specific (the hole), watched by a monitor
    whose audit judge calls them generic; the static graded rule, so the gap shows."""
    from rewardkit.monitor import Alarms, Audit, Monitor

    train, auditor = rk.LadderReward(Says("specific"), "graded"), Says("generic")
    audit = Audit(auditor, rate=rate, background=False)
    monitor = Monitor(train, audit=audit, alarms=Alarms(min_rows=2, policy=policy))
    args = SimpleNamespace(num_generations=2, output_dir=str(tmp_path))
    return TRLReward(train, args, monitor=monitor), auditor


def batch(**logs):
    return dict(
        prompts=["a", "a", "b", "b"],
        completions=answers("dog", "spitz", "cat", "samoyed"),
        label=["samoyed"] * 4,
        question=["qa", "qa", "qb", "qb"],
        **logs,
    )


FIGURES = ("audit/", "window/", "reward/")


def logged_figures(r, metrics):
    """The monitor's figures TRL was given: those under FIGURES with a value, as floats."""
    expected = {
        f"{r.__name__}/{k}": float(v)
        for k, v in r.monitor.last.items()
        if k.startswith(FIGURES) and v is not None
    }
    logged = {k: v for k, v in metrics.items() if k.split("/", 1)[1].startswith(FIGURES)}
    assert logged == expected
    return expected


def test_the_monitor_watches_each_step_and_its_figures_are_logged(tmp_path):
    r, auditor = monitored(tmp_path)
    plain = TRLReward(rk.LadderReward(Says("specific"), "graded"), num_generations=2)
    metrics, extra = {}, {}
    out = r(**batch(log_metric=metrics.__setitem__, log_extra=extra.__setitem__))
    assert out == plain(**batch()) == [1.0] * 4  # warn: the rewards stay
    assert r.monitor.last["step"] == 1  # no trainer state: counted from 0
    assert sorted(auditor.seen) == ["qa", "qa", "qb", "qb"]  # the question column reaches it
    expected = logged_figures(r, metrics)
    assert expected[f"{r.__name__}/reward/train"] == 1.0
    assert expected[f"{r.__name__}/audit/gap"] == 0.5  # specific paid 1, generic 0.5
    assert extra["audit_verdict"] == ["generic"] * 4
    r(**batch(trainer_state=SimpleNamespace(global_step=6)))
    assert r.monitor.last["step"] == 7  # TRL's step, from 0
    r(**batch())
    assert r.monitor.last["step"] == 8
    steps = (tmp_path / "monitor.jsonl").read_text().splitlines()  # records in output_dir
    assert [json.loads(line).get("step") for line in steps][-3:] == [1, 7, 8]


def test_rows_left_unaudited_have_no_audit_verdict(tmp_path):
    r, _ = monitored(tmp_path, rate=0.0)
    metrics, extra = {}, {}
    r(**batch(log_metric=metrics.__setitem__, log_extra=extra.__setitem__))
    assert extra["audit_verdict"] == ["", "", "", ""]
    assert r.monitor.last["audit/gap"] is None  # nothing audited: no gap, and none logged
    assert f"{r.__name__}/audit/gap" not in logged_figures(r, metrics)


def test_an_alarm_under_stop_ends_training_at_the_next_step(tmp_path):
    from rewardkit.errors import RewardHackingAlarm

    r, _ = monitored(tmp_path, policy="stop")
    assert r(**batch()) == [1.0] * 4  # the alarm fires on this step, which is kept
    with pytest.raises(RewardHackingAlarm, match="training stopped by the reward monitor: "):
        r(**batch())


def test_under_filter_the_filtered_rewards_are_the_ones_returned(tmp_path):
    r, _ = monitored(tmp_path, policy="filter")
    r(**batch())  # the alarm: from now on, flagged answers get the audit judge's rung
    out = r(**batch())
    assert out != [1.0] * 4 and r.monitor.last["reward/train"] == 1.0
    assert sum(out) / len(out) == r.monitor.last["reward/used"]


def test_rank_0_alone_watches_and_only_whole_local_groups(monkeypatch, tmp_path):
    ranks = TwoRanks(monkeypatch)
    built = {}

    def call(rank):
        r, _ = monitored(tmp_path / str(rank))
        built[rank] = r
        part = slice(3 * rank, 3 * rank + 3)  # groups of 2 over ranks of 3: none whole on 0
        return r(PROMPTS[:6][part], COMPLETIONS[:6][part], label=["samoyed"] * 3)

    ranks.run([lambda: call(0), lambda: call(1)])
    assert built[1].monitor is None and built[0].monitor is not None
    assert built[0].monitor.last == {}  # no whole group here: nothing watched
    ranks.run([lambda: built[0](**batch()), lambda: built[1](**batch())])  # whole groups
    assert built[0].monitor.last["step"] == 2  # the second step of training
