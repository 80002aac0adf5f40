"""Tiny models built offline from configs, for examples, tests and smoke runs.

Nothing here downloads: the tokenizer is a word-level vocabulary built in-process and the
models are randomly initialised Qwen2 / Qwen2.5-VL configs of about 100k parameters.
Needs ``rewardkit-rl[trl]`` (torch, transformers, tokenizers).

Example::

    tokenizer = word_tokenizer(["dog", "cat"])
    model = tiny_causal_lm(tokenizer, seed=0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SPECIALS", "VISION_SPECIALS", "word_tokenizer", "tiny_causal_lm", "tiny_vision_lm"]

SPECIALS = ["<pad>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
VISION_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]

# A chat template for the word-level tokenizer: every token is separated by spaces.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} "
    "{% if m['content'] is string %}{{ m['content'] }} "
    "{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|> <|image_pad|> <|vision_end|> "
    "{% else %}{{ c['text'] }} {% endif %}{% endfor %}{% endif %}<|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)


def word_tokenizer(words: Iterable[str], *, vision: bool = False) -> Any:
    """A whitespace word-level tokenizer over ``words`` (plus chat and answer tags), with left
    padding, ``<|im_end|>`` as end of sequence and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = SPECIALS + (VISION_SPECIALS if vision else [])
    vocab: dict[str, int] = {}
    for word in [
        *specials,
        "system",
        "user",
        "assistant",
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
        *words,
    ]:
        for piece in word.split():
            vocab.setdefault(piece, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    tok.add_special_tokens(specials)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _text_config(tokenizer: Any, hidden: int, layers: int) -> dict:
    return dict(
        vocab_size=max(64, len(tokenizer)),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
    )


def tiny_causal_lm(tokenizer: Any, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Any:
    """A randomly initialised Qwen2 causal LM sized for ``tokenizer``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(**_text_config(tokenizer, hidden, layers)))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def tiny_vision_lm(
    tokenizer: Any,
    *,
    hidden: int = 64,
    layers: int = 2,
    image_pixels: int = 56 * 56,
    max_image_pixels: int | None = None,
    seed: int = 0,
) -> tuple[Any, Any]:
    """A randomly initialised Qwen2.5-VL model and its processor (``tokenizer`` built with
    ``vision=True``). Images are resized to ``image_pixels`` (56x56 gives 4 image tokens), or
    kept between ``image_pixels`` and ``max_image_pixels`` (images of different sizes then
    take different numbers of tokens, as real ones do)."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    try:
        from transformers import Qwen2VLImageProcessorPil as ImageProcessor
    except ImportError:  # older transformers
        from transformers import (  # type: ignore[assignment]
            Qwen2VLImageProcessor as ImageProcessor,
        )

    class Processor(Qwen2_5_VLProcessor):
        # Without torchvision there is no video processor; accept None for it.
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument is None and argument_name == "video_processor":
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    ids = tokenizer.convert_tokens_to_ids
    text = _text_config(tokenizer, hidden, layers)
    text["rope_parameters"] = {
        "rope_type": "default",
        "mrope_section": [2, 3, 3],
        "rope_theta": 1e6,
    }
    config = Qwen2_5_VLConfig(  # type: ignore[call-arg]
        text_config=text,
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=hidden,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    processor = Processor(
        image_processor=ImageProcessor(
            min_pixels=image_pixels, max_pixels=max_image_pixels or image_pixels
        ),
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=CHAT_TEMPLATE,
    )
    return model, processor
