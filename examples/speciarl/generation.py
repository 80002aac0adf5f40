"""How the evaluation generates: every sampling setting stated, the prompts, and ``predict``.

A model's shipped generation config fills in whatever ``generate`` is not told: Qwen2.5-VL-7B-
Instruct's sets ``top_k=1`` and ``repetition_penalty=1.05``, so a best-of-64 that passes only
temperature and top-p samples 64 copies of about the greedy answer, and greedy answers carry a
repetition penalty. The authors generate with vLLM from
explicit SamplingParams, where a setting they leave unset is vLLM's default (no top-k, no
repetition penalty). So each setting is stated here, as theirs ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

# The authors' prompts (vlm_openworld_evaluator/configs/prompts/base), verbatim; see NOTICE.
# "specific" is the paper's "be specific" prompt baseline.
PROMPTS: dict[str, str] = {
    name: json.loads((HERE / "prompts" / f"{file}.ndjson").read_text())["user_prompt_template"]
    for name, file in (("general", "general_base"), ("specific", "specific_base"))
}

# Greedy (configs/main_evaluation/normal: do_sample false, i.e. vLLM temperature 0): no
# repetition penalty. Sampled (configs/main_evaluation/bon64): temperature 0.6, top-p 0.95,
# top_k null (left unset: vLLM's default, off; 0 is off in transformers too), no penalty.
GREEDY: dict[str, Any] = {
    "do_sample": False,
    "temperature": None,
    "top_p": None,
    "top_k": None,
    "repetition_penalty": 1.0,
}
SAMPLED: dict[str, Any] = {
    "do_sample": True,
    "temperature": 0.6,
    "top_p": 0.95,
    "top_k": 0,
    "repetition_penalty": 1.0,
}
GENERATION: dict[str, Any] = {
    "max_new_tokens": 2048,
    "greedy": GREEDY,
    "best_of_n": {"samples": 64, **SAMPLED},
    "padding_side": "left",
}


def predict(
    model: Any,
    processor: Any,
    samples: list,
    *,
    prompt: str,
    n_samples: int = 0,
    max_new_tokens: int = 2048,
    batch_size: int = 8,
    seed: int = 0,
) -> list[dict]:
    """Rows for ``evaluate.evaluate`` from a vision-language model: the greedy completion (the
    main table) and ``n_samples`` sampled ones (:data:`SAMPLED`, the paper's best-of-N: 64),
    up to 2,048 new tokens as the paper (fewer cut reasoning short and score it Wrong)."""
    import torch
    from PIL import Image

    rows = []
    torch.manual_seed(seed)
    model.eval()
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        images = [Image.open(s.image).convert("RGB") for s in chunk]
        inputs = batch_inputs(processor, prompt, images).to(model.device)
        width = inputs["input_ids"].shape[1]
        decode = processor.batch_decode
        with torch.no_grad():
            greedy = model.generate(**inputs, **GREEDY, max_new_tokens=max_new_tokens)
            greedy_text = decode(greedy[:, width:], skip_special_tokens=True)
            sampled_text: list[list[str]] = [[] for _ in chunk]
            for _ in range(n_samples):
                out = model.generate(**inputs, **SAMPLED, max_new_tokens=max_new_tokens)
                for i, t in enumerate(decode(out[:, width:], skip_special_tokens=True)):
                    sampled_text[i].append(t)
        for s, g, extra in zip(chunk, greedy_text, sampled_text):
            row = {"label": s.label, "prediction": g, "image": s.image}
            if n_samples:
                row["samples"] = extra
            rows.append(row)
    return rows


def batch_inputs(processor: Any, prompt: str, images: list) -> Any:
    """Model inputs for a batch of images, padded on the **left**: images of different sizes
    take different numbers of tokens, and Qwen2.5-VL's processor pads on the right by default,
    which puts pad tokens between a prompt and its generated answer and corrupts batched
    greedy decoding."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    tokenizer = processor.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        return processor(
            text=[text] * len(images), images=images, return_tensors="pt", padding=True
        )
    finally:
        tokenizer.padding_side = side
