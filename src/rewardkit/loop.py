"""A small GRPO trainer on plain PyTorch + transformers, for users without a trainer framework.

One step: sample ``prompts_per_step`` rows, generate ``num_generations`` completions for each,
reward them with a :class:`~rewardkit.LadderReward` (groups are the completions of one prompt),
turn rewards into group-normalised advantages, and take ``updates_per_batch`` gradient steps on
the clipped policy-gradient loss with a KL penalty to a frozen reference, averaged over tokens.
Unscored completions (no verdict) are left out of the loss.

Metrics go to ``output_dir/metrics.jsonl`` (one JSON line per step, flushed as written), and a
checkpoint (model, optimiser, random states, step) to ``output_dir/checkpoint.pt`` every
``save_every`` steps; ``train()`` resumes from it and continues exactly as an uninterrupted run.
Needs ``rewardkit-rl[torch]``.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .pipeline import LadderReward

if TYPE_CHECKING:
    from .monitor import Monitor

__all__ = ["LoopConfig", "GRPOLoop"]


@dataclass
class LoopConfig:
    num_generations: int = 4
    prompts_per_step: int = 8
    max_steps: int = 50
    learning_rate: float = 1e-3
    kl_coef: float = 0.01
    clip_eps: float = 0.2
    temperature: float = 1.0
    max_new_tokens: int = 16
    updates_per_batch: int = 1
    scale_rewards: bool = True
    seed: int = 0
    output_dir: str | None = None
    save_every: int = 0
    progress: bool = True
    extra: dict = field(default_factory=dict)  # recorded in the metrics file's first line

    def __post_init__(self) -> None:
        for name in ("num_generations", "prompts_per_step", "max_new_tokens", "updates_per_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2: GRPO compares completions in a group")


class GRPOLoop:
    """GRPO on a causal LM. ``data`` holds rows with ``prompt`` (a string, or chat messages
    rendered with the tokenizer's chat template) and ``label`` (the ground truth).
    ``require_card``: a robustness card (``rewardkit redteam``) the reward must have passed.
    ``monitor``: a :class:`rewardkit.monitor.Monitor` (audit judge, drift monitors, alarms)
    that watches every step; its records go to ``output_dir``.

    Example (see ``examples/own_loop.py``)::

        loop = GRPOLoop(model, tokenizer, reward, data, LoopConfig(max_steps=20))
        history = loop.train()
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        reward: LadderReward,
        data: Sequence[Mapping[str, Any]],
        config: LoopConfig | None = None,
        *,
        require_card: str | os.PathLike | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        if require_card is not None:  # a robustness card made for this reward, which passed
            from .redteam.gate import check_card

            check_card(require_card, reward)
        self.config = config = config or LoopConfig()
        if not data:
            raise ValueError("data is empty")
        for i, row in enumerate(data):
            if "prompt" not in row or "label" not in row:
                raise KeyError(f"data row {i} needs 'prompt' and 'label', has {sorted(row)}")
        if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer needs a pad token and an eos token")
        check = getattr(reward.judge, "check_labels", None)
        if check is not None:
            check([row["label"] for row in data])
        self.model, self.tokenizer, self.reward, self.data = model, tokenizer, reward, list(data)
        self.ref_model = None
        if config.kl_coef > 0:
            self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        self.step_index = 0
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.out = Path(config.output_dir) if config.output_dir else None
        self.monitor = monitor
        if monitor is not None and self.out is not None:
            monitor.attach(self.out)

    # -- the loop -------------------------------------------------------------------------------

    def train(self, resume: bool = True) -> list[dict]:
        """Run up to ``max_steps`` (resuming from a checkpoint if one exists); return the
        metrics of the steps run."""
        cfg = self.config
        if resume and self.out and (self.out / "checkpoint.pt").exists():
            self.load(self.out / "checkpoint.pt")
        history = []
        bar = _progress(cfg.max_steps, self.step_index, cfg.progress)
        while self.step_index < cfg.max_steps:
            metrics = self.step()
            history.append(metrics)
            self._write(metrics)
            if self.monitor is not None:
                self.monitor.check()  # an alarm under the stop policy ends the run here
            if bar is not None:
                bar.set_postfix(reward=metrics["reward_mean"])
                bar.update(1)
            if self.out and cfg.save_every and self.step_index % cfg.save_every == 0:
                self.save(self.out / "checkpoint.pt")
        if bar is not None:
            bar.close()
        if self.monitor is not None:
            self.monitor.close()  # the audits still queued, written to the run
        return history

    def step(self) -> dict:
        """One GRPO step; returns its metrics."""
        cfg, G = self.config, self.config.num_generations
        rows = [self.data[i] for i in self.rng.integers(0, len(self.data), cfg.prompts_per_step)]
        prompts = [self._render(row["prompt"]) for row in rows for _ in range(G)]
        labels = [row["label"] for row in rows for _ in range(G)]

        t0 = time.perf_counter()
        batch = self._generate(prompts)
        t1 = time.perf_counter()
        lengths = batch["mask"].sum(1).tolist()  # tokens, the eos included
        judged = self.reward.judge_completions(batch["texts"], labels, lengths=lengths)
        rewards = self.reward.rewards(judged, G)
        batch_metrics = self.reward.metrics(judged, rewards, G)
        watched: dict = {}
        if self.monitor is not None:  # the rewards trained on: changed only by its filter
            rewards, watched = self.monitor.step(
                self.step_index + 1, judged, labels, rewards, G, metrics=batch_metrics
            )
        t2 = time.perf_counter()
        advantages, scored = _advantages(rewards, G, cfg.scale_rewards)
        loss, kl = self._update(batch, advantages, scored)
        t3 = time.perf_counter()

        self.step_index += 1
        metrics = {
            "step": self.step_index,
            "reward_mean": float(np.nanmean(rewards)) if np.isfinite(rewards).any() else None,
            "loss": loss,
            "kl": kl,
            "completion_tokens": float(batch["mask"].sum(1).float().mean()),
            **batch_metrics,
            **watched,
            "time/generate_s": t1 - t0,
            "time/reward_s": t2 - t1,
            "time/update_s": t3 - t2,
        }
        return metrics

    # -- pieces ---------------------------------------------------------------------------------

    def _render(self, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        return self.tokenizer.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=True
        )

    @torch.no_grad()
    def _generate(self, prompts: list[str]) -> dict:
        tok = self.tokenizer
        enc = tok(
            prompts,
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,
        )
        self.model.eval()
        out = self.model.generate(
            **enc,
            # Every sampling setting stated: a model's generation config (Qwen2.5-VL's says
            # top_k=1, repetition_penalty=1.05) must not fill in what is left out.
            do_sample=True,
            temperature=self.config.temperature,
            top_k=0,
            top_p=1.0,
            repetition_penalty=1.0,
            max_new_tokens=self.config.max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        completion = out[:, enc["input_ids"].shape[1] :]
        # Keep tokens up to and including the first eos.
        is_eos = completion == tok.eos_token_id
        after_eos = (is_eos.cumsum(1) - is_eos.long()) > 0
        mask = (~after_eos).long()
        texts = tok.batch_decode(
            completion.masked_fill(after_eos, tok.pad_token_id), skip_special_tokens=True
        )
        batch = {
            "prompt_ids": enc["input_ids"],
            "prompt_mask": enc["attention_mask"],
            "completion_ids": completion,
            "mask": mask,
            "texts": texts,
        }
        batch["old_logp"] = self._logprobs(self.model, batch)
        batch["ref_logp"] = (
            self._logprobs(self.ref_model, batch) if self.ref_model is not None else None
        )
        return batch

    @staticmethod
    def _logprobs(model: Any, batch: dict) -> torch.Tensor:
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
        attention = torch.cat([batch["prompt_mask"], batch["mask"]], 1)
        positions = (attention.cumsum(1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=attention, position_ids=positions).logits
        n = batch["completion_ids"].shape[1]
        logits = logits[:, -n - 1 : -1].float()
        return torch.log_softmax(logits, -1).gather(-1, batch["completion_ids"][..., None])[..., 0]

    def _update(self, batch: dict, advantages: np.ndarray, scored: np.ndarray) -> tuple:
        cfg = self.config
        adv = torch.as_tensor(advantages, dtype=torch.float32)[:, None]
        mask = batch["mask"].float() * torch.as_tensor(scored, dtype=torch.float32)[:, None]
        tokens = mask.sum().clamp(min=1.0)
        self.model.train()
        loss_value = kl_value = 0.0
        for _ in range(cfg.updates_per_batch):
            logp = self._logprobs(self.model, batch)
            ratio = torch.exp(logp - batch["old_logp"])
            clipped = torch.clamp(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps)
            per_token = -torch.minimum(ratio * adv, clipped * adv)
            kl = torch.zeros_like(logp)
            if batch["ref_logp"] is not None:
                delta = batch["ref_logp"] - logp
                kl = torch.exp(delta) - delta - 1  # low-variance KL estimate (k3)
                per_token = per_token + cfg.kl_coef * kl
            loss = (per_token * mask).sum() / tokens  # token mean over the batch
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_value, kl_value = loss.item(), float((kl.detach() * mask).sum() / tokens)
        return loss_value, kl_value

    # -- persistence ----------------------------------------------------------------------------

    def _write(self, metrics: dict) -> None:
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "metrics.jsonl"
        with open(path, "a", encoding="utf-8") as f:
            if metrics["step"] == 1:
                f.write(json.dumps({"config": asdict(self.config)}) + "\n")
                if self.reward.spec is not None:  # the reward, rebuildable from the log
                    spec = self.reward.to_spec(group_size=self.config.num_generations)
                    spec.save(self.out / "reward_spec.json")
            f.write(json.dumps(metrics) + "\n")
            f.flush()

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint atomically (a killed process leaves the previous one intact)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "step": self.step_index,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "data_rng": self.rng.bit_generator.state,
            "ref_model": self.ref_model.state_dict() if self.ref_model is not None else None,
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def load(self, path: str | os.PathLike) -> None:
        state = torch.load(path, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["data_rng"]
        if self.ref_model is not None and state["ref_model"] is not None:
            self.ref_model.load_state_dict(state["ref_model"])
        self.step_index = state["step"]


def _advantages(rewards: np.ndarray, group_size: int, scale: bool) -> tuple[np.ndarray, np.ndarray]:
    """Group-normalised advantages; unscored (NaN) rewards get advantage 0 and are masked."""
    scored = np.isfinite(rewards)
    r = np.where(scored, rewards, np.nan).reshape(-1, group_size)
    counts = scored.reshape(-1, group_size).sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, np.nansum(r, 1, keepdims=True) / np.maximum(counts, 1), 0.0)
        centred = r - mean
        var = np.where(
            counts > 0, np.nansum(centred**2, 1, keepdims=True) / np.maximum(counts, 1), 0.0
        )
    adv = centred / (np.sqrt(var) + 1e-4) if scale else centred
    adv = np.where(np.isfinite(adv), adv, 0.0).ravel()
    return adv, scored


def _progress(total: int, done: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, desc="grpo", unit="step")
