"""The SpeciaRL GPU recipe's parts that run here: data loaders on generated folders in each
data set's layout, the taxonomies, the dry run of the paper preset, and the smoke preset on CPU."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECIARL = ROOT / "examples" / "speciarl"
sys.path.insert(0, str(SPECIARL))

import loaders  # noqa: E402
import taxonomies  # noqa: E402

import rewardkit as rk  # noqa: E402

CUB_CLASSES = [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
    "003.Sooty_Albatross",
    "004.Whip_poor_Will",
]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_cub(root: Path, per_class: int = 3) -> Path:
    from PIL import Image

    images, labels, split = [], [], []
    n = 0
    for c, name in enumerate(CUB_CLASSES, 1):
        for k in range(per_class):
            n += 1
            rel = f"{name}/{name.split('.')[1]}_{k}.jpg"
            (root / "images" / name).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (c * 40, 0, 0)).save(root / "images" / rel)
            images.append(f"{n} {rel}")
            labels.append(f"{n} {c}")
            split.append(f"{n} {int(k < per_class - 1)}")
    write(root / "images.txt", "\n".join(images) + "\n")
    write(root / "classes.txt", "\n".join(f"{i} {c}" for i, c in enumerate(CUB_CLASSES, 1)))
    write(root / "image_class_labels.txt", "\n".join(labels) + "\n")
    write(root / "train_test_split.txt", "\n".join(split) + "\n")
    return root


def test_cub_loader_cleans_labels_and_splits(tmp_path):
    root = make_cub(tmp_path / "CUB_200_2011")
    train, test = loaders.load("cub", root, "train"), loaders.load("cub", root, "test")
    assert len(train) == 8 and len(test) == 4
    assert {s.label for s in test} == {
        "Black footed Albatross",
        "Laysan Albatross",
        "Sooty Albatross",
        "Whip poor Will",
    }
    assert all(Path(s.image).is_file() for s in train)
    subset = loaders.cub_subset(train, 5, seed=42)
    assert len(subset) == 5 and subset == loaders.cub_subset(train, 5, seed=42)


def test_missing_and_malformed_files_are_named(tmp_path):
    root = make_cub(tmp_path / "cub")
    (root / "classes.txt").unlink()
    with pytest.raises(loaders.DataError, match=r"missing file: .*classes\.txt"):
        loaders.load("cub", root, "train")
    make_cub(root)
    write(root / "images.txt", "1\n")
    with pytest.raises(loaders.DataError, match=r"images\.txt, line 1: expected 2 fields"):
        loaders.load("cub", root, "train")
    with pytest.raises(loaders.DataError, match="missing data folder"):
        loaders.load("cub", tmp_path / "nope", "train")
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        loaders.load("imagenet", root)


def test_aircraft_loader_and_taxonomy(tmp_path):
    data = tmp_path / "fgvc" / "data"
    ids = ["0034309", "0034958", "0037511"]
    rows = {
        "variant": ["737-800", "DC-3", "A320"],
        "family": ["Boeing 737", "DC-3", "A320"],
        "manufacturer": ["Boeing", "Douglas Aircraft Company", "Airbus"],
    }
    for level, names in rows.items():
        for split in ("trainval", "test"):
            write(
                data / f"images_{level}_{split}.txt",
                "".join(f"{i} {n}\n" for i, n in zip(ids, names)),
            )
    samples = loaders.load("aircraft", tmp_path / "fgvc", "test")
    assert [s.label for s in samples] == ["737-800", "DC-3", "A320"]
    tax = rk.Taxonomy.from_dict(taxonomies.aircraft_taxonomy(tmp_path / "fgvc"))
    judge = rk.TaxonomyJudge(tax)
    assert judge.judge(
        [("737-800", "Boeing 737"), ("737-800", "Boeing"), ("DC-3", "DC-3"), ("A320", "Airbus")]
    ) == ["less_specific", "generic", "specific", "less_specific"]


def test_pets_loader_and_taxonomy(tmp_path):
    root = tmp_path / "pets"
    write(
        root / "annotations" / "list.txt",
        "#Image CLASS-ID SPECIES BREED ID\nAbyssinian_1 1 1 1\nbasset_hound_2 2 2 1\n",
    )
    write(root / "annotations" / "trainval.txt", "Abyssinian_1 1 1 1\n")
    write(root / "annotations" / "test.txt", "basset_hound_2 2 2 1\n")
    assert [s.label for s in loaders.load("pets", root, "test")] == ["basset hound"]
    judge = rk.TaxonomyJudge(rk.Taxonomy.from_dict(taxonomies.pets_taxonomy(root)))
    assert judge.judge([("basset hound", "dog"), ("Abyssinian", "dog")]) == [
        "less_specific",
        "wrong",
    ]


def test_food_loader(tmp_path):
    root = tmp_path / "food-101"
    write(root / "meta" / "labels.txt", "Apple pie\nBaby back ribs\n")
    write(root / "meta" / "test.txt", "apple_pie/1011328\nbaby_back_ribs/1005293\n")
    assert [s.label for s in loaders.load("food101", root, "test")] == [
        "Apple pie",
        "Baby back ribs",
    ]
    write(root / "meta" / "test.txt", "pizza/1\n")
    with pytest.raises(loaders.DataError, match="class 'pizza' is not in"):
        loaders.load("food101", root, "test")


def test_flowers_and_cars_from_mat_files(tmp_path):
    from scipy.io import savemat

    flowers = tmp_path / "flowers"
    flowers.mkdir()
    savemat(flowers / "imagelabels.mat", {"labels": np.array([1, 2, 2])})
    savemat(
        flowers / "setid.mat",
        {"trnid": np.array([1]), "valid": np.array([2]), "tstid": np.array([2, 3])},
    )
    with pytest.raises(loaders.DataError, match="cat_to_name.json"):
        loaders.load("flowers102", flowers, "test")
    write(flowers / "cat_to_name.json", json.dumps({"1": "pink primrose", "2": "globe thistle"}))
    test = loaders.load("flowers102", flowers, "test")
    assert [s.label for s in test] == ["globe thistle", "globe thistle"]
    assert test[0].image.endswith("jpg/image_00002.jpg")

    cars = tmp_path / "cars"
    (cars / "devkit").mkdir(parents=True)
    names = np.array(["Acura RL Sedan 2012", "Aston Martin V8 Vantage Coupe 2012"], dtype=object)
    savemat(cars / "devkit" / "cars_meta.mat", {"class_names": names})
    annos = np.zeros(2, dtype=[("fname", object), ("class", np.int32)])
    annos["fname"], annos["class"] = ["00001.jpg", "00002.jpg"], [1, 2]
    savemat(cars / "devkit" / "cars_test_annos_withlabels.mat", {"annotations": annos})
    labels = [s.label for s in loaders.load("cars", cars, "test")]
    assert labels == ["Acura RL Sedan 2012", "Aston Martin V8 Vantage Coupe 2012"]
    judge = rk.TaxonomyJudge(rk.Taxonomy.from_dict(taxonomies.cars_taxonomy(labels)))
    assert judge.judge(
        [
            ("Aston Martin V8 Vantage Coupe 2012", "Aston Martin"),
            ("Acura RL Sedan 2012", "Acura RL Sedan"),
        ]
    ) == ["generic", "less_specific"]


def test_cub_taxonomy_from_ebird():
    names = [loaders.clean_cub_label(c) for c in CUB_CLASSES]
    data, unmatched = taxonomies.cub_taxonomy(names)
    assert unmatched == ["Whip poor Will"]  # eBird now says "Eastern Whip-poor-will"
    judge = rk.TaxonomyJudge(rk.Taxonomy.from_dict(data))
    assert judge.judge(
        [
            ("Black footed Albatross", "Phoebastria nigripes"),  # scientific name: a synonym
            ("Black footed Albatross", "Phoebastria"),  # genus
            ("Black footed Albatross", "Diomedeidae"),  # family
            ("Black footed Albatross", "Laysan Albatross"),  # a sibling
            ("Black footed Albatross", "albatross"),  # the family's common name
            ("Black footed Albatross", "bird"),  # the root
        ]
    ) == ["specific", "less_specific", "generic", "wrong", "generic", "generic"]
    assert data["synonyms"]["Diomedeidae"] == ["albatross"]


def run_train(*args):
    return subprocess.run(
        [sys.executable, str(SPECIARL / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def big_cub(tmp_path_factory):
    """A generated CUB folder with 3,036 training images: enough for every CUB preset."""
    return make_cub(tmp_path_factory.mktemp("big") / "CUB_200_2011", per_class=760)


def dry_run(capsys, *args) -> tuple[dict, str]:
    """train.py --dry-run in this process: its summary and what it wrote on stderr."""
    import train

    assert train.main([*args, "--dry-run"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out[captured.out.index("{") :]), captured.err


def test_paper_preset_dry_run_checks_the_whole_configuration(big_cub, tmp_path, capsys):
    summary, err = dry_run(
        capsys,
        "--preset",
        "paper",
        "--data-root",
        str(big_cub),
        "--judge",
        "taxonomy",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert summary["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert summary["generations"] == 10 and summary["batch"]["completions_per_step"] == 2560
    # 4 processes x 32 completions (verl's micro-batch): 10 accumulated, 20 per generation
    assert summary["batch"]["gradient_accumulation_steps"] == 10
    assert summary["batch"]["steps_per_generation"] == 20
    trainer = summary["trainer"]
    assert trainer["learning_rate"] == 3e-5 and trainer["beta"] == 0.01
    assert trainer["loss_type"] == "bnpo" and trainer["per_device_train_batch_size"] == 32
    assert summary["lora"]["r"] == 64 and summary["lora"]["lora_alpha"] == 32
    assert summary["train_images"] == 3000 and summary["extraction"] == "authors"
    # 3000 // 256 = 11 generation steps per epoch, 2 optimiser steps each, 15 epochs
    assert summary["schedule"]["total_optimizer_steps"] == 330
    assert summary["paper_schedule"]["total_optimizer_steps"] == 330
    assert summary["schedule_as_paper"] is True
    assert "Whip poor Will" in err  # the unmatched CUB name is reported


def test_a_preset_that_would_train_nothing_is_refused(tmp_path, capsys):
    root = make_cub(tmp_path / "CUB_200_2011")  # 8 training images, 256 prompts per step
    import train

    assert train.main(["--preset", "paper", "--data-root", str(root), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "8 training images give no generation step of 256 prompts" in err
    assert "trainer stops at step 0" in err


def test_dry_run_names_a_missing_image(tmp_path):
    root = make_cub(tmp_path / "CUB_200_2011", per_class=35)  # 136 training images
    first = (root / "images.txt").read_text().split()[1]  # image 1, in the train split
    (root / "images" / first).unlink()
    done = run_train("--preset", "paper-data128", "--data-root", str(root), "--dry-run")
    assert done.returncode == 2 and "missing image file" in done.stderr


def test_the_paper_preset_trains_with_the_paper_judge_and_settings(big_cub, tmp_path):
    out = tmp_path / "out"
    done = run_train(
        "--preset", "paper", "--data-root", str(big_cub), "--dry-run", "--output-dir", str(out)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    spec = summary["judge_spec"]
    assert spec["judge"] == "openai" and spec["model"] == "Qwen/Qwen3-30B-A3B-Instruct-2507-FP8"
    assert spec["prompt"] == "speciarl-paper" and spec["temperature"] == 0.0
    assert spec["extra_body"] == {"chat_template_kwargs": {"enable_thinking": False}}
    assert summary["trainer"]["weight_decay"] == 0.01
    assert summary["rule_options"] == {"unscored": 0.0}
    assert summary["policy_prompt"].startswith("Classify the image.\nOutput the thinking process")
    assert (out / "verdicts.sqlite").exists()  # the judge's cache, opened (and checked) up front


@pytest.mark.parametrize(
    "preset, checks",
    [
        (
            "paper-drgrpo",
            {"loss_type": "dr_grpo", "scale_rewards": "none", "beta": 0.0, "max_grad_norm": 1 / 32},
        ),
        ("paper-dapo", {"epsilon": 0.2, "epsilon_high": 0.28, "beta": 0.0, "delta": 10.0}),
        ("paper-n5", {"num_generations": 5, "gradient_accumulation_steps": 5}),
        ("paper-n15", {"num_generations": 15, "steps_per_generation": 30}),
        ("paper-data128", {"steps_per_generation": 10, "gradient_accumulation_steps": 10}),
        ("paper-cub-st", {"learning_rate": 3e-6, "num_generations": 5}),
        ("paper-mixed", {"per_device_train_batch_size": 16, "steps_per_generation": 40}),
    ],
)
def test_show_config_needs_nothing_and_shows_each_preset(preset, checks):
    done = run_train("--preset", preset, "--show-config")
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads(done.stdout)
    for key, value in checks.items():
        assert config["trainer"][key] == value, key
    if preset == "paper-dapo":
        assert config["reward"]["overlong_buffer"] == 512
    assert config["judge"]["prompt"] == "speciarl-paper"
    assert config["policy_prompt"]["system"] == ""
    assert (
        config["schedule"]["total_optimizer_steps"]
        == (config["paper_schedule"]["total_optimizer_steps"])
    )


def test_show_config_names_every_trl_default_it_changes():
    done = run_train("--preset", "paper", "--show-config")
    config = json.loads(done.stdout)
    named = config["trl_named"]
    assert named["vllm_importance_sampling_correction"]["value"] is False
    assert named["vllm_importance_sampling_correction"]["trl_default"] is True
    assert named["use_bias_correction_kl"] == {
        "value": False,
        "trl_default": True,
        "why": "verl's low_var_kl is the plain k3 estimator, not weighted by the policy ratio",
    }
    assert named["delta"]["value"] == 3.0 and named["delta"]["trl_default"] is None
    assert named["kl_estimator"]["value"] == "k3, not weighted"
    for key in ("top_k", "top_p", "min_p", "repetition_penalty", "temperature"):
        assert key in config["trainer"], key
    assert (config["trainer"]["top_k"], config["trainer"]["repetition_penalty"]) == (0, 1.0)
    assert set(config["not_in_trl"]) == {
        "kl_estimator",
        "advantage_epsilon",
        "max_prompt_length",
        "balance_batch",
    }


def test_unsupported_runs_say_why():
    done = run_train("--preset", "paper-dapo-ds", "--show-config")
    assert done.returncode == 2
    assert "no TRL 1.16 counterpart" in done.stderr and "docs/trainers/verl.md" in done.stderr


def test_data_scaling_presets_and_the_overlong_penalty():
    import train

    assert [train.PRESETS[f"paper-data{n}"]["train_sets"] for n in (128, 1024, 2048)] == [
        {"cub": 128},
        {"cub": 1024},
        {"cub": 2048},
    ]
    # the authors ran the 128-image point with 128 prompts per step
    assert train.PRESETS["paper-data128"]["prompts_per_step"] == 128
    penalty = train.OverlongPenalty(max_length=2048, buffer=512)
    lengths = [100, 1536, 1792, 2048, 4000]
    assert penalty(None, None, [[0] * n for n in lengths]) == [0.0, 0.0, -0.5, -1.0, -1.0]


def test_gpu_smoke_preset_runs_on_cpu(tmp_path):
    done = run_train("--preset", "gpu-smoke", "--output-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 4 and len(summary["step_time_s"]) == 4
    # TRL's own data loader: 64 images // 4 prompts = 16 generation steps of one batch each
    assert (
        summary["trl_batches_per_epoch"] == 16 == summary["schedule"]["optimizer_steps_per_epoch"]
    )
    assert all(r is not None for r in summary["reward"])


def test_split_files_coop_json_and_csv(tmp_path):
    root = tmp_path / "flowers"
    root.mkdir()
    coop = tmp_path / "split_zhou_OxfordFlowers.json"
    coop.write_text(
        json.dumps(
            {
                "train": [["jpg/image_00001.jpg", 0, "pink_primrose"]],
                "val": [],
                "test": [
                    ["jpg/image_00002.jpg", 1, "hard-leaved pocket orchid"],
                    ["jpg/image_00003.jpg", 0, "pink_primrose"],
                ],
            }
        )
    )
    test = loaders.load("flowers102", root, "test", coop)
    assert [(Path(s.image).name, s.label) for s in test] == [
        ("image_00002.jpg", "hard-leaved pocket orchid"),
        ("image_00003.jpg", "pink primrose"),
    ]
    table = tmp_path / "split_coop.csv"
    table.write_text("image,label,split\nimages/a.jpg,pizza,test\nimages/b.jpg,sushi,train\n")
    assert [s.label for s in loaders.load("food101", root, "test", table)] == ["pizza"]
    table.write_text("file,name\nx,y\n")
    with pytest.raises(loaders.DataError, match="needs image .* columns"):
        loaders.load("food101", root, "test", table)
    with pytest.raises(loaders.DataError, match="no images in split 'val'"):
        loaders.load("flowers102", root, "val", coop)
