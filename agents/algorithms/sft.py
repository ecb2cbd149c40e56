"""Supervised baselines: behaviour cloning on oracle demonstrations (SFT) and rejection-sampling FT (RFT).

SFT is the warm start (`warmstart.build_base_model`) on `rollout.oracle` demonstrations; the loss is next-token
cross-entropy on action tokens only. RFT samples with the policy, keeps the solved episodes and runs SFT on them,
one round per `iterate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from steptool_agents.algorithms.base import Algorithm, episode_stats
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy, decoder_hidden, model_device
from steptool_agents.policy.prompts import PromptFormat
from steptool_agents.policy.tokenization import Trajectory, collate
from steptool_agents.rollout.collect import Collector, Generator, HFGenerator, round_seeds

__all__ = ["RFT", "length_grouped_batches", "sft_train"]

# Shuffled examples are sorted by length within groups of this many batches (Hugging Face's `group_by_length`
# does the same with 50): batches of similar lengths waste little on padding and stay random across groups.
_GROUP_BATCHES = 16


def length_grouped_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """A random epoch of index batches whose members have similar lengths (longest first within each group)."""
    perm = torch.randperm(len(lengths), generator=generator).tolist()
    group = batch_size * _GROUP_BATCHES
    order = [i for g in range(0, len(perm), group)
             for i in sorted(perm[g:g + group], key=lambda i: -lengths[i])]
    return [order[b:b + batch_size] for b in range(0, len(order), batch_size)]


def sft_train(model: Any, trajs: Sequence[Trajectory], pad_id: int, *, epochs: int, lr: float, batch_size: int,
              max_tokens: int, seed: int = 0, params: Sequence[torch.nn.Parameter] | None = None,
              log: Any = None, on_step: Callable[[int, float], None] | None = None) -> dict[str, float]:
    """Cross-entropy on action tokens only; returns the last epoch's mean loss and throughput.

    `log(epoch, mean_loss)` runs after each epoch, `on_step(step, loss)` after each optimiser step (1-based).
    """
    params = list(params) if params is not None else [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    total_steps = epochs * ((len(trajs) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.1, 1 - s / total_steps))
    gen = torch.Generator().manual_seed(seed)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    lm_head = base.get_output_embeddings()
    device = model_device(model)
    model.train()
    losses: list[float] = []
    tokens, start = 0, time.perf_counter()
    lengths = [len(t.tokens) for t in trajs]
    for epoch in range(epochs):
        losses = []
        batches = length_grouped_batches(lengths, batch_size, gen)
        for b, rows in enumerate(batches):
            batch = collate([trajs[i] for i in rows], pad_id, "right", max_tokens).to(device)
            hidden = decoder_hidden(model, batch.input_ids, batch.attention_mask, batch.position_ids)[:, :-1]
            sel = batch.pred_action_mask.bool()  # the LM head runs on action positions only
            logits = lm_head(hidden[sel]).float()
            loss = F.cross_entropy(logits, batch.input_ids[:, 1:][sel]) if sel.any() else hidden.sum() * 0.0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            tokens += int(batch.attention_mask.sum())
            if on_step is not None:
                on_step(epoch * len(batches) + b + 1, losses[-1])
        if log is not None:
            log(epoch, sum(losses) / len(losses))
    elapsed = time.perf_counter() - start
    # Demos longer than the context lose their first actions: worth seeing when a preset is too tight.
    truncated = sum(len(t.tokens) > max_tokens for t in trajs) / max(len(trajs), 1)
    return {"loss": sum(losses) / max(len(losses), 1), "tokens_per_s": tokens / elapsed if elapsed else 0.0,
            "truncated_frac": truncated}


class RFT(Algorithm):
    """Rejection-sampling fine-tuning: sample with the policy, keep solved episodes, SFT the adapter on them.

    Each round's SFT has its own optimizer, so RFT keeps no optimizer between rounds and is not resumable.
    """

    def __init__(self, cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], *,
                 env_kwargs: Mapping[str, Any] | None = None, offline: list[Trajectory] | None = None,
                 generator: Generator | None = None, fmt: PromptFormat | None = None) -> None:
        super().__init__(cfg, policy, make_envs, env_kwargs=env_kwargs, fmt=fmt)
        self.generator = generator or HFGenerator.from_config(policy.model, self.tokenizer, cfg.rollout)
        self.envs = make_envs(cfg.rollout.num_envs)
        self.collector = Collector(self.envs, self.generator, self.fmt, self.tokenizer, cfg.model, cfg.rollout)

    def iterate(self) -> dict[str, float]:
        cfg = self.cfg
        trajs = self.collector.collect(cfg.sft.rft_episodes, round_seeds(cfg.seed, self.update, self.envs.num_envs))
        kept = [t for t in trajs if t.is_solved >= 1.0]
        stats: dict[str, float] = {**episode_stats(trajs), "kept": float(len(kept))}
        if kept:
            stats.update(sft_train(self.policy.model, kept, int(self.tokenizer.pad_token_id), epochs=cfg.sft.epochs,
                                   lr=cfg.ppo.learning_rate, batch_size=cfg.sft.batch_size,
                                   max_tokens=cfg.model.max_context_tokens, seed=cfg.seed + self.update,
                                   params=self.policy.trainable_parameters()))
        self.update += 1
        return stats
