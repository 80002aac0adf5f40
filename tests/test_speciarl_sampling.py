"""Every generation path samples: a model whose shipped generation config sets ``top_k=1`` and
``repetition_penalty=1.05`` (as Qwen2.5-VL-7B-Instruct's does) still gives N different samples,
because each path states top_k, top_p, temperature and the repetition penalty itself."""

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

SPECIARL = Path(__file__).resolve().parent.parent / "examples" / "speciarl"
sys.path.insert(0, str(SPECIARL))

N = 8


def qwen_like(generation_config) -> None:
    """The sampling settings Qwen2.5-VL-7B-Instruct ships with: about greedy, with a penalty."""
    generation_config.do_sample = True
    generation_config.top_k = 1
    generation_config.repetition_penalty = 1.05


@pytest.fixture(scope="module")
def vision():
    from generation import PROMPTS

    from rewardkit.tiny import tiny_vision_lm, word_tokenizer

    prompt = PROMPTS["general"]
    tokenizer = word_tokenizer([*prompt.split(), "samoyed", "spitz", "dog", "cat"], vision=True)
    model, processor = tiny_vision_lm(tokenizer, seed=5)
    qwen_like(model.generation_config)
    return model, processor, prompt


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from loaders import Sample
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    out = []
    for i in range(3):
        path = folder / f"{i}.png"
        Image.new("RGB", (56, 56), (60 * i, 200 - 50 * i, 90)).save(path)
        out.append(Sample(str(path), "samoyed", "test"))
    return out


def distinct(texts: list[str]) -> int:
    return len(set(texts))


def test_best_of_n_samples_where_the_model_config_says_top_k_1(vision, images):
    import generation

    model, processor, prompt = vision
    rows = generation.predict(
        model, processor, images, prompt=prompt, n_samples=N, max_new_tokens=6, batch_size=3
    )
    assert [distinct(r["samples"]) for r in rows] == [N, N, N]
    # Before: temperature and top-p only, the model's top_k=1 left in - one answer, N times.
    torch.manual_seed(0)
    inputs = generation.batch_inputs(processor, prompt, [_open(s.image) for s in images])
    width = inputs["input_ids"].shape[1]
    old = [
        processor.batch_decode(
            model.generate(**inputs, do_sample=True, temperature=0.6, top_p=0.95, max_new_tokens=6)[
                :, width:
            ],
            skip_special_tokens=True,
        )
        for _ in range(N)
    ]
    assert [distinct([o[i] for o in old]) for i in range(len(images))] == [1, 1, 1]


def test_greedy_answers_carry_no_repetition_penalty(vision, images):
    import generation

    model, processor, prompt = vision
    rows = generation.predict(model, processor, images, prompt=prompt, max_new_tokens=6)
    inputs = generation.batch_inputs(processor, prompt, [_open(s.image) for s in images])
    width = inputs["input_ids"].shape[1]
    plain = model.generate(**inputs, do_sample=False, repetition_penalty=1.0, max_new_tokens=6)
    expected = processor.batch_decode(plain[:, width:], skip_special_tokens=True)
    assert [r["prediction"] for r in rows] == expected
    assert generation.GREEDY["repetition_penalty"] == 1.0
    assert generation.SAMPLED["repetition_penalty"] == 1.0


def test_trl_generation_settings_sample_on_the_transformers_path(vision, images):
    # GRPOTrainer without vLLM builds GenerationConfig(do_sample, temperature, top_p, top_k,
    # min_p, repetition_penalty, ...) from its arguments: the presets state each of them.
    import generation
    import presets
    from transformers import GenerationConfig

    model, processor, prompt = vision
    kwargs = presets.trl_kwargs(presets.PRESETS["paper"])
    config = GenerationConfig(
        do_sample=True,
        max_new_tokens=6,
        **{k: kwargs[k] for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")},
    )
    inputs = generation.batch_inputs(processor, prompt, [_open(images[0].image)] * N)
    width = inputs["input_ids"].shape[1]
    torch.manual_seed(0)
    out = model.generate(**inputs, generation_config=config)
    assert distinct(processor.batch_decode(out[:, width:], skip_special_tokens=True)) == N


def test_the_own_loop_and_the_demo_sample(tmp_path):
    import cpu_demo

    import rewardkit as rk
    from rewardkit.loop import GRPOLoop, LoopConfig
    from rewardkit.tiny import tiny_causal_lm, word_tokenizer

    words = ["dog", "cat", "spitz", "samoyed", "wolf", "fox", "bird", "fish"]
    tokenizer = word_tokenizer(words)
    model = tiny_causal_lm(tokenizer, seed=2)
    qwen_like(model.generation_config)
    reward = rk.LadderReward("taxonomy", "speciarl", taxonomy=str(_animals()))
    loop = GRPOLoop(
        model,
        tokenizer,
        reward,
        [{"prompt": "dog", "label": "samoyed"}],
        LoopConfig(max_new_tokens=5, progress=False, kl_coef=0.0),
    )
    ids = loop._generate(["dog"] * N)["completion_ids"].tolist()
    assert distinct([tuple(r) for r in ids]) > 1  # samples, and sometimes stops at once
    # Before: the loop's call without repetition_penalty, top_k left to the model - once more
    # and it is greedy (top_k=1), one completion N times.
    enc = tokenizer(["dog"] * N, return_tensors="pt", add_special_tokens=False)
    greedyish = model.generate(**enc, do_sample=True, temperature=1.0, max_new_tokens=5)
    assert distinct([tuple(r) for r in greedyish.tolist()]) == 1
    torch.manual_seed(0)
    sampled = cpu_demo.answers(model, tokenizer, ["dog"], sample=True, n=N)
    assert distinct(sampled) > 1  # two new tokens over an 8-word vocabulary
    assert distinct(cpu_demo.answers(model, tokenizer, ["dog"] * 2)) == 1  # greedy


def _open(path: str):
    from PIL import Image

    return Image.open(path).convert("RGB")


def _animals() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "data" / "animals.json"
