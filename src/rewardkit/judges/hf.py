"""A local transformers judge: scores every rung label by its log-likelihood. Needs
``rewardkit-rl[torch]``.

No sampling: for each pair the judge prompt (rendered from the ladder, through the tokenizer's
chat template when it has one) is followed by each rung's label, and the verdict is the label
the model finds most likely. :meth:`HFJudge.probabilities` gives the distribution over rungs.
This is also the way to a local judge without vLLM; it runs on CPU with a tiny model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..extras import require
from ..ladders import SPECIARL, Ladder
from .base import Judgement
from .prompt import PromptTemplate
from .prompted import PromptedJudge

__all__ = ["HFJudge"]


class HFJudge(PromptedJudge):
    """``model``: a causal LM or a path/hub id loaded with ``AutoModelForCausalLM`` (offline
    use needs a local path); ``tokenizer`` defaults to the model's. ``prompt`` as for
    :class:`~rewardkit.judges.llm.LLMJudge`; the prediction reaches the model as written."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        ladder: Ladder = SPECIARL,
        batch_size: int = 32,
        device: str | None = None,
        prompt: PromptTemplate | str | None = None,
    ) -> None:
        super().__init__(ladder, prompt)
        require("torch", what="the hf judge")
        require("transformers", what="the hf judge")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, str):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model)
        if tokenizer is None:
            raise ValueError("give the tokenizer with a model object")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.tokenizer, self.batch_size = tokenizer, batch_size
        self.name = f"hf:{getattr(model.config, '_name_or_path', '') or type(model).__name__}"
        self._labels = [
            tokenizer(" " + s, add_special_tokens=False)["input_ids"] for s in self.choices
        ]
        if any(not ids for ids in self._labels):
            raise ValueError("a rung label tokenizes to nothing")

    def _prompt(self, *pair: str) -> list[int]:
        messages = self.messages(pair)
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = "\n".join(m["content"] for m in messages) + "\nVerdict:"
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def log_likelihoods(self, pairs: Sequence[tuple[str, ...]]) -> np.ndarray:
        """(pairs, rungs) summed log-probabilities of each rung label after the prompt."""
        import torch

        rows = [
            (i, j, prompt, label)
            for i, prompt in enumerate(self._prompt(*pair) for pair in pairs)
            for j, label in enumerate(self._labels)
        ]
        out = np.zeros((len(pairs), len(self._labels)))
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            seqs = [prompt + label for _, _, prompt, label in chunk]
            width = max(map(len, seqs))
            ids = torch.full((len(seqs), width), pad)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for k, s in enumerate(seqs):  # right padding: positions start at 0 for every row
                ids[k, : len(s)] = torch.tensor(s)
                mask[k, : len(s)] = 1
            with torch.no_grad():
                logits = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                ).logits.float()
            logp = torch.log_softmax(logits, -1).cpu()
            for k, (i, j, prompt, label) in enumerate(chunk):
                positions = torch.arange(len(prompt) - 1, len(prompt) + len(label) - 1)
                out[i, j] = float(logp[k, positions, torch.tensor(label)].sum())
        return out

    def probabilities(self, pairs: Sequence[tuple[str, ...]]) -> np.ndarray:
        """(pairs, rungs) probability of each rung, normalised over the ladder's labels."""
        ll = self.log_likelihoods(pairs)
        ll -= ll.max(axis=1, keepdims=True)
        p = np.exp(ll)
        return p / p.sum(axis=1, keepdims=True)

    def judge_admitted(self, pairs: list[tuple[str, ...]]) -> list[Judgement]:
        best = self.log_likelihoods(pairs).argmax(axis=1)
        return [Judgement(self.ladder.slugs[j]) for j in best]
