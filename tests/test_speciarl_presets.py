"""Every SpeciaRL preset trains, and for as many steps as the authors' run; TRL takes every
setting a preset states (and the TRL defaults it names are TRL's); the paper runs that had no
preset - graded scales, the noise ablation, per-data-set training - build as the authors' did."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from .conftest import ANIMALS
from .test_speciarl_recipe import big_cub, dry_run, make_cub  # noqa: F401

SPECIARL = Path(__file__).resolve().parent.parent / "examples" / "speciarl"
sys.path.insert(0, str(SPECIARL))

import presets as P  # noqa: E402

# The authors' runs, in optimiser steps: images // train_batch_size generation steps per epoch,
# train_batch_size // ppo_mini_batch_size optimiser steps each, 15 epochs.
PAPER_STEPS = {
    "paper": 330,
    "paper-drgrpo": 330,
    "paper-dapo": 330,
    "paper-n5": 330,
    "paper-n15": 330,
    "paper-rft": 330,
    "paper-graded1": 330,
    "paper-graded2": 330,
    "paper-graded3": 330,
    "paper-data128": 15,  # 128 // 128 = 1 step per epoch, one mini-batch
    "paper-data1024": 120,
    "paper-data2048": 240,
    "paper-noise5": 120,  # trained on the 1,024-image file
    "paper-noise10": 120,
    "paper-noise25": 120,
    "paper-cub-st": 300,  # 3000 // 512 = 5 steps per epoch, 4 mini-batches of 128
    "paper-mixed": 330,
}
UNPUBLISHED = {"paper-aircraft", "paper-flowers102", "paper-food101", "paper-pets", "gpu-smoke"}


@pytest.mark.parametrize("name", sorted(P.PRESETS))
def test_every_preset_trains_as_many_steps_as_the_paper(name):
    preset = P.PRESETS[name]
    plan = P.schedule(preset)
    assert plan.generation_steps_per_epoch > 0 and plan.total_optimizer_steps > 0
    paper = P.paper_schedule(preset)
    if name in UNPUBLISHED:
        assert paper is None
        return
    assert paper["images"] == plan.images == P.train_images(preset)
    assert paper["generation_steps_per_epoch"] == plan.generation_steps_per_epoch
    assert paper["total_generation_steps"] == plan.total_generation_steps
    assert paper["total_optimizer_steps"] == plan.total_optimizer_steps == PAPER_STEPS[name]
    assert set(PAPER_STEPS) | UNPUBLISHED == set(P.PRESETS)


@pytest.mark.parametrize("name", sorted(P.PRESETS))
def test_the_schedule_is_trls_sampler_arithmetic(name):
    from trl.trainer.utils import RepeatSampler

    preset = P.PRESETS[name]
    batch = P.batch(preset)
    g = preset["num_generations"]
    sampler = RepeatSampler(
        range(P.train_images(preset)),
        mini_repeat_count=g,
        batch_size=batch["completions_per_step"] // g,
        repeat_count=batch["steps_per_generation"],
    )
    per_process = len(sampler) // preset["world_size"]
    batches = per_process // (preset["per_device_train_batch_size"] * batch["steps_per_generation"])
    accumulation = batch["gradient_accumulation_steps"]
    plan = P.schedule(preset)
    assert batches // accumulation == plan.optimizer_steps_per_epoch
    assert batches % accumulation == 0


def test_the_old_128_image_setting_trains_nothing():
    from trl.trainer.utils import RepeatSampler

    old = dict(P.PRESETS["paper-data128"], prompts_per_step=256)
    assert len(RepeatSampler(range(128), mini_repeat_count=10, batch_size=256)) == 0
    with pytest.raises(P.ScheduleError, match="128 training images give no generation step"):
        P.schedule(old)
    with pytest.raises(P.ScheduleError, match="do not split into mini-batches"):
        P.schedule(dict(old, prompts_per_step=200))


CUB_PRESETS = sorted(n for n, p in P.PRESETS.items() if list(p["train_sets"]) == ["cub"])


def test_every_cub_preset_dry_run_has_the_papers_schedule(big_cub, tmp_path, capsys):  # noqa: F811
    assert len(CUB_PRESETS) == 16
    for name in CUB_PRESETS:
        summary, _ = dry_run(
            capsys,
            "--preset",
            name,
            "--data-root",
            str(big_cub),
            "--judge",
            "taxonomy",
            "--output-dir",
            str(tmp_path / name),
        )
        assert summary["schedule_as_paper"] is True, name
        assert summary["train_images"] == P.train_images(P.PRESETS[name]), name


def test_trl_takes_every_setting_and_its_named_defaults_are_trls(tmp_path):
    from trl import GRPOConfig

    defaults = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}
    for key, (_, trl_default, _) in P.TRL_NAMED.items():
        assert defaults[key] == trl_default, key
    for name, preset in P.PRESETS.items():
        kwargs = P.trl_kwargs(preset)
        config = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kwargs)
        for key, value in kwargs.items():
            assert getattr(config, key) == value, (name, key)
    assert P.trl_kwargs(P.PRESETS["paper-dapo"])["delta"] == 10.0  # verl clip_ratio_c=10


def test_graded_scales_by_rule_option(capsys, tmp_path):
    import train

    args = ["--judge", "taxonomy", "--judge-option", f"taxonomy={ANIMALS}", "--rule", "graded"]
    parser, parsed = train.parse_args(["--preset", "paper", *args, "--rule-option", "scale=2"])
    preset = train.resolve(parsed)
    assert preset["rule_options"] == {"unscored": 0.0, "scale": P.SCALES["2"]}
    reward = train.build_reward(parsed, preset, None)
    answers = ["animal", "dog", "spitz", "samoyed", "cat", "none"]
    completions = [f"<answer>{a}</answer>" for a in answers] + ["no tag"]
    # scale 2: abstain 0, generic 0.5, less specific 0.75, specific 1; no answer -1
    assert reward(completions, ["samoyed"] * 7) == [0.5, 0.5, 0.75, 1.0, 0.0, 0.0, -1.0]
    assert P.PRESETS["paper-graded3"]["rule_options"]["scale"]["generic"] == 0


def test_the_noise_ablation_and_per_data_set_presets(big_cub, tmp_path, capsys):  # noqa: F811
    summary, _ = dry_run(
        capsys, "--preset", "paper-noise10", "--data-root", str(big_cub), "--judge", "taxonomy"
    )
    assert summary["judge"] == "noisy(taxonomy,0.1)" and summary["train_images"] == 1024
    pets = tmp_path / "pets"
    names = [f"{breed}_{i}" for breed in ("Abyssinian", "basset_hound") for i in range(160)]
    (pets / "annotations").mkdir(parents=True)
    (pets / "images").mkdir()
    (pets / "annotations" / "trainval.txt").write_text("".join(f"{n} 1 1 1\n" for n in names))
    for n in names:
        (pets / "images" / f"{n}.jpg").write_bytes(b"")
    summary, _ = dry_run(
        capsys, "--preset", "paper-pets", "--data-root", str(pets), "--output-dir", str(tmp_path)
    )
    assert summary["train_images"] == 320 and summary["classes"] == 2
    assert summary["judge_spec"]["model"] == "Qwen/Qwen3-30B-A3B-Instruct-2507-FP8"
    assert summary["schedule"]["generation_steps_per_epoch"] == 1  # 320 // 256
    assert summary["paper_schedule"] is None  # the authors' subset sizes are not published
    import train

    with pytest.raises(SystemExit):  # six data sets: --data NAME=ROOT for each
        train.main(["--preset", "paper-mixed", "--data-root", str(pets), "--dry-run"])
    assert "give --data NAME=ROOT" in capsys.readouterr().err


def test_the_mixed_preset_draws_each_set_in_the_authors_order(tmp_path):
    import random

    import train

    cub = make_cub(tmp_path / "cub", per_class=200)  # 796 training images
    parser, args = train.parse_args(["--preset", "paper-mixed", "--data", f"cub={cub}"])
    preset = dict(train.resolve(args), train_sets={"cub": 500})
    samples = train.training_samples(preset, args, parser)
    from loaders import load

    pool = load("cub", cub, "train")
    assert samples == random.Random(42).sample(pool, 500)  # the authors' seeded draw
    assert json.loads(json.dumps(P.PRESETS["paper-mixed"]["train_sets"])) == {
        "cub": 500,
        "food101": 500,
        "flowers102": 500,
        "pets": 500,
        "aircraft": 500,
        "cars": 500,
    }


def test_a_smaller_micro_batch_keeps_the_schedule(capsys):
    import train

    assert train.main(["--preset", "paper", "--per-device-batch", "16", "--show-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["batch"]["gradient_accumulation_steps"] == 20
    assert config["trainer"]["per_device_train_batch_size"] == 16
    assert config["schedule"]["total_optimizer_steps"] == 330
    assert train.main(["--preset", "paper", "--per-device-batch", "24", "--show-config"]) == 2
    assert "do not split over 4 processes x 24 per device" in capsys.readouterr().err
