"""The algorithm template the run loop drives, and the on-policy template of the PPO family.

`Algorithm` is what `trainer.run_training` iterates: ``iterate()`` runs one training round (an update, an ETO round,
an ArCHer iteration, an RFT round) and returns its metrics; checkpoints add ``state()`` (JSON) and
``extra_tensors()`` (safetensors). Subclasses are built by `build_algorithm` from the registry.

`OnPolicyAlgorithm` is shaped like Stable-Baselines3's ``OnPolicyAlgorithm``: ``collect_rollouts`` →
``compute_advantages`` → ``train`` (clipped surrogate over minibatches, gradient accumulation, approx-KL early stop).
An algorithm of the family fills two hooks:

* ``advantages(trajs, batch, values, kl, amask)`` → per-token advantages, returns and value mask [B, L-1];
* ``extra_loss(mb, logp, values, action_tokens, value_tokens)`` → the term added to the clipped surrogate and
  entropy bonus (a value loss, a KL penalty), plus the value loss to log.

`CriticFreeAlgorithm` fills the second one (the k3 KL to the reference in the loss, no value loss) and turns
per-step advantages (``step_advantages``) into per-token ones; GRPO, GiGPO and ReBN only say how they score.

Rollouts: episodes sampled from a vector env (`rollout.Collector`); log-probs, values and reference log-probs are
then recomputed by forward passes over the stored tokens (never from ``generate``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from steptool_agents import registry
from steptool_agents.algorithms.returns import broadcast_steps, masked_mean, masked_var
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy
from steptool_agents.policy.prompts import PromptFormat, make_format
from steptool_agents.policy.tokenization import Collated, Trajectory, collate
from steptool_agents.policy.windows import collate_windows, to_rows, to_trajectories
from steptool_agents.registry import AlgorithmSpec
from steptool_agents.rollout.collect import Collector, Generator, HFGenerator, round_seeds
from steptool_agents.runtime import distributed

__all__ = ["AdaptiveKL", "Algorithm", "CriticFreeAlgorithm", "OnPolicyAlgorithm", "RolloutBatch", "build_algorithm",
           "episode_stats", "kl_estimate"]


class RolloutBatch(NamedTuple):
    """Everything one update trains on; per-token tensors are [B, L] (inputs) or [B, L-1] (predictions)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    action_mask: torch.Tensor  # [B, L-1] float: 1 on the model's own tokens
    old_logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    old_values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    value_mask: torch.Tensor  # [B, L-1] float: positions whose value is regressed

    def select(self, idx: torch.Tensor) -> RolloutBatch:
        return RolloutBatch(*(t[idx] for t in self))

    def trimmed(self) -> RolloutBatch:
        """Without the trailing columns that are padding in every row (rows are right-padded): the same log-probs,
        values and losses, without paying for the whole batch's longest row in every micro-batch."""
        width = max(2, int(self.attention_mask.sum(1).max()))
        inputs, preds = self[:3], self[3:]
        return RolloutBatch(*(t[:, :width] for t in inputs), *(t[:, :width - 1] for t in preds))

    def to(self, device: torch.device) -> RolloutBatch:
        return RolloutBatch(*(t.to(device) for t in self))


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str) -> torch.Tensor:
    """Per-token KL(π‖π_ref) estimate on samples from π: k1 = log r, k3 = (r⁻¹ − 1) + log r (r = π/π_ref)."""
    log_ratio = logp - ref_logp
    if estimator == "k1":
        return log_ratio
    return torch.expm1(-log_ratio) + log_ratio


@dataclass
class AdaptiveKL:
    """Ziegler et al.'s proportional β controller (fixed when `adaptive` is False)."""

    value: float
    target: float
    horizon: int
    adaptive: bool = False

    def update(self, kl: float, n_steps: int) -> None:
        if self.adaptive:
            error = float(np.clip(kl / self.target - 1.0, -0.2, 0.2))
            self.value *= 1.0 + error * n_steps / self.horizon


def episode_stats(trajs: list[Trajectory]) -> dict[str, float]:
    """Pass rate, mean step reward, tool-call precision/recall/F1 (each gold call counted once), mean return and
    length."""
    calls = sum(t.tool_calls for t in trajs)
    matched, total = sum(t.gold_matched for t in trajs), sum(t.gold_total for t in trajs)
    precision = matched / calls if calls else 0.0
    recall = matched / total if total else 0.0
    steps = [r for t in trajs for r in t.rewards]
    return {
        "pass_rate": float(np.mean([t.is_solved for t in trajs])),
        "mean_step_reward": float(np.mean(steps)) if steps else 0.0,
        "tool_call_precision": precision,
        "tool_call_recall": recall,
        "tool_call_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "mean_return": float(np.mean([sum(t.rewards) for t in trajs])),
        "avg_steps": float(np.mean([t.num_steps for t in trajs])),
    }


class Algorithm:
    """One training algorithm: `iterate` runs a round; the run loop logs, checkpoints and resumes around it.

    Subclasses set ``optimizer`` (None: the algorithm is not resumable, e.g. RFT's per-round SFT) and may extend
    ``state``/``load_state`` (JSON in ``state.json``) and ``extra_tensors``/``load_extra_tensors`` (safetensors).
    """

    def __init__(self, cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], *,
                 env_kwargs: Mapping[str, Any] | None = None, offline: list[Trajectory] | None = None,
                 generator: Generator | None = None, fmt: PromptFormat | None = None) -> None:
        self.spec: AlgorithmSpec = registry.get(cfg.algo)
        if self.spec.cpu_only and policy.device.type != "cpu":
            raise ValueError(f"{type(self).__name__} runs on the CPU only; load the policy with model.device = 'cpu'")
        self.cfg = cfg
        self.policy = policy
        self.tokenizer = policy.tokenizer
        self.fmt = fmt or make_format(cfg.model.prompt_format, policy.tokenizer)
        self.env_kwargs = dict(env_kwargs or {})
        self.offline = offline
        self.update = 0
        # Where a round reports how far it is (the run loop points it at its progress bar): a round of a
        # pretrained model takes minutes, and a bar that moves once per round would look hung.
        self.on_progress: Callable[[str], None] = lambda info: None
        self.optimizer: torch.optim.Optimizer | None = None
        self.envs: Any = None

    @property
    def title(self) -> str:
        """The learning curve's title."""
        return self.spec.name

    def iterate(self) -> dict[str, float]:
        """One training round; returns its metrics."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state a checkpoint needs beyond weights, optimizer and RNG states."""
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `state` returned (``state.json`` of a checkpoint)."""

    def extra_tensors(self) -> dict[str, dict[str, torch.Tensor]]:
        """Extra weights for checkpoints, by file stem (``STEM.safetensors``)."""
        return {}

    def load_extra_tensors(self, path: Path) -> None:
        """Restore what `extra_tensors` wrote into checkpoint `path`."""

    def close(self) -> None:
        if self.envs is not None:
            self.envs.close()


def build_algorithm(cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], **kwargs: Any) -> Algorithm:
    """The `Algorithm` of ``cfg.algo`` (see `registry`), built on `policy`."""
    return registry.get(cfg.algo).load()(cfg, policy, make_envs, **kwargs)


class OnPolicyAlgorithm(Algorithm):
    """Collect → score (log-probs, values, reference) → `advantages` → clipped-surrogate `train` (+ `extra_loss`)."""

    def __init__(self, cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], *,
                 env_kwargs: Mapping[str, Any] | None = None, offline: list[Trajectory] | None = None,
                 generator: Generator | None = None, fmt: PromptFormat | None = None) -> None:
        super().__init__(cfg, policy, make_envs, env_kwargs=env_kwargs, offline=offline, fmt=fmt)
        # GRPO and GiGPO play groups of episodes of one task (one sub-env per member, reset with one seed).
        section = self.spec.group_section
        self.group_size: int | None = getattr(cfg, section).group_size if section else None
        r = cfg.rollout
        # Each rank plays an equal slice of every update (checked before any env is built).
        if self.group_size is not None:
            distributed.shard(r.episodes_per_update // self.group_size, f"{cfg.algo} groups per update")
            num_envs = self.group_size
        else:
            distributed.shard(r.episodes_per_update, "rollout.episodes_per_update")
            num_envs = r.num_envs if offline is not None else distributed.shard(r.num_envs, "rollout.num_envs")
        self.envs = make_envs(num_envs)
        # The behaviour distribution: the one object generation and every log-prob below read.
        self.sampler = cfg.rollout.sampler()
        self.generator = generator or HFGenerator.from_config(policy.model, self.tokenizer, cfg.rollout,
                                                              sampler=self.sampler)
        self.collector = Collector(self.envs, self.generator, self.fmt, self.tokenizer, cfg.model, cfg.rollout)
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.ppo.learning_rate, eps=1e-6,
                                           weight_decay=0.0)
        distributed.broadcast_parameters(policy.trainable_parameters())  # fresh LoRA weights differ per process
        self.kl = AdaptiveKL(cfg.ppo.kl_coef, cfg.ppo.kl_target, cfg.ppo.kl_horizon, cfg.ppo.adaptive_kl)

    def state(self) -> dict[str, Any]:
        return {"kl_coef": self.kl.value}

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.kl.value = float(state["kl_coef"])

    # ------------------------------------------------------------------ hooks
    def advantages(self, trajs: list[Trajectory], batch: Collated, values: torch.Tensor, kl: torch.Tensor,
                   amask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-token advantages, returns and value mask [B, L-1] of the scored batch."""
        raise NotImplementedError

    def extra_loss(self, mb: RolloutBatch, logp: torch.Tensor, values: torch.Tensor, action_tokens: float,
                   value_tokens: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The term added to the surrogate and entropy bonus, and the value loss to log (token sums / counts)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ rollouts
    def _seeds(self, salt: int) -> list[int]:
        return round_seeds(self.cfg.seed, self.update, self.envs.num_envs, salt)

    def collect_rollouts(self) -> list[Trajectory]:
        """Sample ``rollout.episodes_per_update`` episodes (GRPO/GiGPO: groups sharing a task) with the policy."""
        r = self.cfg.rollout
        if self.offline is not None:  # offline step-grained data: a seeded sample per update
            gen = torch.Generator().manual_seed(self._seeds(0)[0])
            idx = torch.randint(len(self.offline), (r.episodes_per_update,), generator=gen).tolist()
            k = distributed.shard(r.episodes_per_update, "rollout.episodes_per_update")
            return [self.offline[i] for i in idx[distributed.rank() * k:(distributed.rank() + 1) * k]]
        rank, world = distributed.rank(), distributed.world_size()
        if world > 1:  # distinct sampling streams per rank, re-seeded per update so resume needs no RNG state
            torch.manual_seed(self._seeds(0)[0] * 31 + rank)
        if self.group_size is None:
            # Rank r takes the r-th slice of one seed range: the union is the single-process seed list.
            seeds = [s + rank * self.envs.num_envs for s in self._seeds(0)]
            episodes = distributed.shard(r.episodes_per_update, "rollout.episodes_per_update")
            return self.collector.collect(episodes, seeds, on_episode=lambda n: self._say(f"rollout {n}/{episodes}"))
        trajs: list[Trajectory] = []
        for group in range(rank, r.episodes_per_update // self.group_size, world):
            same_task = [self._seeds(group + 1)[0]] * self.envs.num_envs  # one seed → one task for the group
            trajs += self.collector.collect(self.group_size, same_task)
            self._say(f"rollout {len(trajs)} episodes")
        return trajs

    def _say(self, info: str) -> None:
        self.on_progress(f"round {self.update + 1}: {info}")

    # ------------------------------------------------------------------ advantages
    @torch.no_grad()
    def _score(self, batch: Collated) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probs, values and reference log-probs [B, L-1], computed on the policy's device, kept on the CPU.

        Rows are scored in chunks of similar length, each cut to its longest row (right padding), so a chunk does
        not pay for the batch's longest trajectory.
        """
        out = torch.zeros((3, *batch.pred_action_mask.shape))
        mb, device = self.cfg.ppo.minibatch_size, self.policy.device
        lengths = batch.attention_mask.sum(1)
        order = torch.argsort(lengths, descending=True, stable=True)
        for start in range(0, len(order), mb):
            rows = order[start:start + mb]
            width = max(2, int(lengths[rows].max()))
            args = (batch.input_ids[rows, :width], batch.attention_mask[rows, :width],
                    batch.position_ids[rows, :width], batch.pred_action_mask[rows, :width - 1])
            args = tuple(t.to(device) for t in args)
            logp, value, _ = self.policy.token_logprobs(*args, temperature=self.sampler.temperature)
            with self.policy.reference():
                ref, _, _ = self.policy.token_logprobs(*args, temperature=self.sampler.temperature)
            for k, t in enumerate((logp, value, ref)):
                out[k, rows, :width - 1] = t.float().cpu()
        return out[0], out[1], out[2]

    def compute_advantages(self, trajs: list[Trajectory]) -> tuple[RolloutBatch, dict[str, float]]:
        """Forward passes for log-probs/values/reference, then the algorithm's `advantages`.

        Each action is scored on the window it was sampled from (`policy.windows`): the rows of the batch are
        (trajectory, left cut) windows, while `advantages` sees whole trajectories (action positions filled in).
        Scoring and training run without dropout (eval mode), so the first epoch's ratio is exactly 1.
        """
        p = self.cfg.ppo
        pad = int(self.tokenizer.pad_token_id)
        windows = collate_windows(trajs, pad, self.cfg.model.max_context_tokens)
        windows = _pad_rows(windows, pad)
        batch = windows.batch
        was_training = self.policy.training
        self.policy.eval()
        self._say("scoring")
        logp, values, ref = self._score(batch)
        self.policy.train(was_training)
        amask = batch.pred_action_mask.float()
        kl = kl_estimate(logp, ref, p.kl_estimator) * amask
        full = collate(trajs, pad, "right")
        full_amask = full.pred_action_mask.float()
        adv, ret, vmask = self.advantages(trajs, full, to_trajectories(windows, values, full),
                                          to_trajectories(windows, kl, full), full_amask)
        adv, ret, vmask = (to_rows(windows, x) for x in (adv, ret, vmask))
        # β must move identically on every rank: its controller sees the all-rank mean sequence KL.
        kl_total, n_trajs = distributed.all_reduce_sum(
            torch.tensor([float(kl.sum()), float(len(trajs))], dtype=torch.float64)).tolist()
        stats = {
            "kl_ref": float(masked_mean(kl_estimate(logp, ref, "k3"), amask)),
            "kl_coef": self.kl.value,
            "explained_variance": _explained_variance(values, ret, vmask),
            "advantage_mean": float(masked_mean(adv, amask)),
            "advantage_std": float(masked_var(adv, amask).clamp(min=0.0).sqrt()),
            "action_tokens": float(amask.sum()),
            "truncated_frac": float(np.mean([len(t.tokens) > self.cfg.model.max_context_tokens for t in trajs])),
            "tokens": float(batch.attention_mask.sum()),
        }
        self.kl.update(kl_total / n_trajs, int(n_trajs))
        rb = RolloutBatch(batch.input_ids, batch.attention_mask, batch.position_ids, amask, logp, ref, values,
                          adv, ret, vmask)
        return rb, stats

    # ------------------------------------------------------------------ update
    def train(self, batch: RolloutBatch) -> dict[str, float]:
        """PPO epochs over minibatches; stops early once approx-KL exceeds 1.5 × ``ppo.target_approx_kl``.

        Each loss term is a token sum over the minibatch's token count (all ranks), so micro-batches and ranks add
        up to exactly the gradient of the whole minibatch. Minibatches come from one permutation of the global
        batch, the same on every rank (rank r holds global rows r·B … r·B + B − 1); a rank trains on its rows.
        """
        p = self.cfg.ppo
        assert self.optimizer is not None
        # Dropout off, as when the old log-probs were scored: otherwise lora_dropout > 0 moves the ratio off 1.
        self.policy.eval()
        params = self.policy.trainable_parameters()
        device = self.policy.device
        local = batch.input_ids.shape[0]
        n, offset = local * distributed.world_size(), local * distributed.rank()
        gen = torch.Generator().manual_seed(self.cfg.seed * 7919 + self.update)
        micro = max(1, math.ceil(p.minibatch_size / p.grad_accum_steps))
        names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")
        logs: dict[str, list[float]] = {k: [] for k in names}
        tokens, start_time, stopped = 0, time.perf_counter(), False
        for epoch in range(p.n_epochs):
            perm = torch.randperm(n, generator=gen)
            for mb_start in range(0, n, p.minibatch_size):
                rows = perm[mb_start:mb_start + p.minibatch_size]
                mb_idx = rows[(rows >= offset) & (rows < offset + local)] - offset
                self.optimizer.zero_grad(set_to_none=True)
                counts = torch.stack([batch.action_mask[mb_idx].sum(), batch.value_mask[mb_idx].sum()])
                action_tokens, value_tokens = distributed.all_reduce_sum(counts).clamp(min=1.0).tolist()
                sums = torch.zeros(len(names), dtype=torch.float64)
                for m_start in range(0, len(mb_idx), micro):
                    mb = batch.select(mb_idx[m_start:m_start + micro]).trimmed().to(device)
                    tokens += int(mb.attention_mask.sum())
                    loss, info = self._loss(mb, action_tokens, value_tokens)
                    loss.backward()
                    sums += torch.tensor([info[k] for k in names], dtype=torch.float64)
                distributed.all_reduce_gradients(params)
                for k, v in zip(names, distributed.all_reduce_sum(sums).tolist(), strict=True):
                    logs[k].append(v)
                # As Stable-Baselines3: a minibatch whose pre-step approx-KL is past the limit is not applied.
                if p.target_approx_kl is not None and logs["approx_kl"][-1] > 1.5 * p.target_approx_kl:
                    self.optimizer.zero_grad(set_to_none=True)
                    stopped = True
                    break
                torch.nn.utils.clip_grad_norm_(params, p.max_grad_norm)
                self.optimizer.step()
                self._say(f"train epoch {epoch + 1}/{p.n_epochs}, minibatch {mb_start // p.minibatch_size + 1}/"
                          f"{-(-n // p.minibatch_size)}")
            if stopped:
                break
        elapsed = time.perf_counter() - start_time
        out = {k: float(np.mean(v)) if v else 0.0 for k, v in logs.items()}
        out["early_stop"] = float(stopped)
        out["train_tokens_per_s"] = tokens / elapsed if elapsed > 0 else 0.0
        return out

    def _loss(self, mb: RolloutBatch, action_tokens: float, value_tokens: float,
              ) -> tuple[torch.Tensor, dict[str, float]]:
        """This micro-batch's share of the minibatch loss (token sums over the minibatch's token counts).

        The returned statistics are shares too: summed over micro-batches and ranks they are minibatch means.
        """
        p = self.cfg.ppo
        logp, values, entropy = self.policy.token_logprobs(mb.input_ids, mb.attention_mask, mb.position_ids,
                                                           mb.action_mask, temperature=self.sampler.temperature)
        mask = mb.action_mask
        log_ratio = (logp - mb.old_logprobs) * mask
        ratio = log_ratio.exp()
        pg1 = -mb.advantages * ratio
        pg2 = -mb.advantages * ratio.clamp(1.0 - p.clip_range, 1.0 + p.clip_range)
        policy_loss = (torch.maximum(pg1, pg2) * mask).sum() / action_tokens
        ent = (entropy * mask).sum() / action_tokens
        loss = policy_loss - p.ent_coef * ent
        extra, value_loss = self.extra_loss(mb, logp, values, action_tokens, value_tokens)
        loss = loss + extra
        with torch.no_grad():
            approx_kl = float(((ratio - 1.0 - log_ratio) * mask).sum() / action_tokens)
            clip_frac = float((((ratio - 1.0).abs() > p.clip_range).float() * mask).sum() / action_tokens)
        return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": ent.item(),
                      "approx_kl": approx_kl, "clip_frac": clip_frac}

    # ------------------------------------------------------------------ one round
    def iterate(self) -> dict[str, float]:
        """One update: collect, score, train. Returns the update's metrics (the same on every rank)."""
        t0 = time.perf_counter()
        trajs = self.collect_rollouts()
        t1 = time.perf_counter()
        batch, adv_stats = self.compute_advantages(trajs)
        t2 = time.perf_counter()
        train_stats = self.train(batch)
        t3 = time.perf_counter()
        self.update += 1
        stats = {**episode_stats(trajs), **adv_stats, **train_stats, "rollout_s": t1 - t0, "score_s": t2 - t1,
                 "train_s": t3 - t2, "env_steps": float(sum(t.num_steps for t in trajs))}
        # Every rank logs the same numbers: means over ranks, totals for token counts and throughput.
        return distributed.reduce_metrics(stats, sum_keys=("action_tokens", "tokens", "train_tokens_per_s",
                                                           "env_steps"))


class CriticFreeAlgorithm(OnPolicyAlgorithm):
    """No value loss; a k3 KL penalty to the reference in the loss; per-step advantages on every action token."""

    def step_advantages(self, trajs: list[Trajectory]) -> list[list[float]]:
        """One advantage per step of each trajectory."""
        raise NotImplementedError

    def advantages(self, trajs: list[Trajectory], batch: Collated, values: torch.Tensor, kl: torch.Tensor,
                   amask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        per_step = self.step_advantages(trajs)
        adv = torch.stack([broadcast_steps(a, amask[row], batch.pred_step_index[row])
                           for row, a in enumerate(per_step)])
        zeros = torch.zeros_like(amask)
        return adv, zeros, zeros.clone()

    def extra_loss(self, mb: RolloutBatch, logp: torch.Tensor, values: torch.Tensor, action_tokens: float,
                   value_tokens: float) -> tuple[torch.Tensor, torch.Tensor]:
        kl = self.kl.value * (kl_estimate(logp, mb.ref_logprobs, "k3") * mb.action_mask).sum() / action_tokens
        return kl, torch.zeros((), device=logp.device)


def _pad_rows(windows: Any, pad_id: int) -> Any:
    """Give every rank the same number of window rows (the minibatch permutation is shared): extra rows are one
    pad token with every mask off, so they add nothing to any loss."""
    from steptool_agents.policy.windows import Windows

    if distributed.world_size() == 1:
        return windows
    rows = windows.batch.input_ids.shape[0]
    counts = torch.zeros(distributed.world_size(), dtype=torch.float64)
    counts[distributed.rank()] = rows
    extra = int(distributed.all_reduce_sum(counts).max()) - rows
    if extra == 0:
        return windows
    b = windows.batch
    width = b.input_ids.shape[1]

    def grow(t: torch.Tensor, fill: int) -> torch.Tensor:
        return torch.cat([t, torch.full((extra, *t.shape[1:]), fill, dtype=t.dtype)])

    attn = grow(b.attention_mask, 0)
    attn[rows:, 0] = 1
    batch = Collated(grow(b.input_ids, pad_id), attn, grow(b.position_ids, 0), grow(b.action_mask, 0),
                     grow(b.step_index, -1), grow(b.pred_action_mask, 0), grow(b.pred_step_index, -1))
    assert batch.input_ids.shape[1] == width
    return Windows(batch, grow(windows.owner, 0), grow(windows.start, 0))


def _explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    if mask.sum() < 2:
        return 0.0
    var_y = masked_var(returns, mask)
    if var_y <= 0:
        return 0.0
    return float(1.0 - masked_var(returns - values, mask) / var_y)
