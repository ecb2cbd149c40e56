"""ArCHer (Zhou et al. 2024, *ArCHer: Training Language Model Agents via Hierarchical Multi-Turn RL*).

The paper's practical variant, two levels:

* **Utterance-level critic** (off-policy, TD): double Q(s, a) and V(s) heads (ArCHer's MLPs: two hidden ReLU
  layers as wide as the LM's hidden size) trained with the env's step rewards::

      Q_i(s_t, a_t) ← r_t + γ (1 − done_t) V̄_i(s_{t+1})        V_i(s) ← Q̄_i(s, a),  a ~ π(s)

  Q on transitions sampled from a replay buffer of the last ``archer.buffer_size`` steps, V on the current
  policy's own steps (see below); Q̄, V̄ are target heads, moved by Polyak averaging θ̄ ← (1 − τ) θ̄ + τ θ after
  every critic step.
* **Token-level actor** (REINFORCE): every action token of step t carries the utterance advantage
  A_t = min(Q1, Q2)(s_t, a_t) − min(V1, V2)(s_t); loss −mean_t [A_t · Σ_k log π(a_t^k | s_t, a_t^{<k})].

Critic inputs (sized for a CPU): ArCHer encodes s and a with a separate RoBERTa. Here the encoder is the frozen SFT
model — the policy with its adapter disabled — and the heads read its last hidden state: h(s_t) at the token before
action t and h(s_t, a_t) at the action's last token (the LM's own encoding of the utterance in context); Q reads
[h(s_t); h(s_t, a_t)], V reads h(s_t). The encoder never trains, so the LoRA weights move only by the actor loss,
each step's features are computed once and stored in the buffer, and a critic step needs no LM forward pass.

ArCHer re-samples a ~ π(s) for buffer states, both for V's target and for the actor. Generation is the dominant
cost on CPU, so here both use the iteration's freshly sampled episodes instead, whose actions are samples of the
current π: V regresses on Q̄ at those (s, a) and the actor trains on them. (Regressing V on the buffer's older
actions would make V the value of past policies; with a policy worse than its past, every advantage turns negative
and the token-level REINFORCE pushes down all sampled text until the policy collapses.) Episodes cut by
``max_steps`` count as ended (done = 1).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from steptool_agents.algorithms.base import Algorithm, episode_stats, kl_estimate
from steptool_agents.algorithms.returns import masked_mean, step_positions
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy
from steptool_agents.policy.prompts import PromptFormat
from steptool_agents.policy.tokenization import Collated, Trajectory, collate
from steptool_agents.rollout.collect import Collector, Generator, HFGenerator, round_seeds

__all__ = [
    "ArCHer",
    "ReplayBuffer",
    "Transitions",
    "UtteranceCritic",
    "critic_loss",
    "polyak_update",
    "td_targets",
    "token_advantages",
    "utterance_advantages",
]


class Transitions(NamedTuple):
    """Utterance-level transitions: encoder features of s_t, (s_t, a_t) and s_{t+1} [N, H], reward and done [N]."""

    state: torch.Tensor
    state_action: torch.Tensor
    next_state: torch.Tensor  # zeros where done
    reward: torch.Tensor
    done: torch.Tensor

    def select(self, idx: torch.Tensor) -> Transitions:
        return Transitions(*(t[idx] for t in self))

    @staticmethod
    def cat(parts: Sequence[Transitions]) -> Transitions:
        return Transitions(*(torch.cat(ts) for ts in zip(*parts, strict=True)))


class ReplayBuffer:
    """The last `capacity` transitions (FIFO), sampled uniformly with replacement."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: Transitions | None = None

    def __len__(self) -> int:
        return 0 if self.data is None else int(self.data.reward.shape[0])

    def add(self, batch: Transitions) -> None:
        data = batch if self.data is None else Transitions.cat([self.data, batch])
        self.data = Transitions(*(t[-self.capacity:] for t in data))

    def sample(self, n: int, generator: torch.Generator) -> Transitions:
        if self.data is None:
            raise ValueError("sampling from an empty replay buffer")
        return self.data.select(torch.randint(len(self), (n,), generator=generator))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.data is None else self.data._asdict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.data = Transitions(**state) if state else None


def _mlp(in_dim: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))


class UtteranceCritic(nn.Module):
    """ArCHer's double critic: Q1, Q2 on [h(s); h(s, a)] and V1, V2 on h(s)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.q1, self.q2 = _mlp(2 * hidden, hidden), _mlp(2 * hidden, hidden)
        self.v1, self.v2 = _mlp(hidden, hidden), _mlp(hidden, hidden)

    def forward(self, state: torch.Tensor, state_action: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q1, Q2, V1, V2, each [N]."""
        sa = torch.cat([state, state_action], dim=-1)
        v1, v2 = self.values(state)
        return self.q1(sa).squeeze(-1), self.q2(sa).squeeze(-1), v1, v2

    def values(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.v1(state).squeeze(-1), self.v2(state).squeeze(-1)


def td_targets(reward: torch.Tensor, done: torch.Tensor, next_v1: torch.Tensor, next_v2: torch.Tensor,
               gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Q targets r + γ (1 − done) V̄_i(s') for both critics (each Q regresses on its own target V)."""
    keep = gamma * (1.0 - done)
    return reward + keep * next_v1, reward + keep * next_v2


def utterance_advantages(q1: torch.Tensor, q2: torch.Tensor, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
    """A = min(Q1, Q2) − min(V1, V2): clipped double estimates, as ArCHer's actor uses."""
    return torch.minimum(q1, q2) - torch.minimum(v1, v2)


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """θ̄ ← (1 − τ) θ̄ + τ θ."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.mul_(1.0 - tau).add_(s, alpha=tau)


def critic_loss(critic: UtteranceCritic, target: UtteranceCritic, q_batch: Transitions, v_batch: Transitions,
                gamma: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_i MSE(Q_i, r + γ(1 − done) V̄_i(s')) on `q_batch` + MSE(V_i(s), Q̄_i(s, a)) on `v_batch` (a ~ π)."""
    q1, q2, _, _ = critic(q_batch.state, q_batch.state_action)
    v1, v2 = critic.values(v_batch.state)
    with torch.no_grad():
        tq1, tq2, _, _ = target(v_batch.state, v_batch.state_action)
        y1, y2 = td_targets(q_batch.reward, q_batch.done, *target.values(q_batch.next_state), gamma)
    q_loss = F.mse_loss(q1, y1) + F.mse_loss(q2, y2)
    v_loss = F.mse_loss(v1, tq1) + F.mse_loss(v2, tq2)
    return q_loss + v_loss, {"q_loss": q_loss.item(), "v_loss": v_loss.item(), "q_mean": q1.mean().item(),
                             "v_mean": v1.mean().item(), "td_target_mean": y1.mean().item()}


def token_advantages(step_adv: Sequence[dict[int, float]], amask: torch.Tensor, sidx: torch.Tensor) -> torch.Tensor:
    """[B, L-1] per-token advantages: every action token of step t in row b gets ``step_adv[b][t]``."""
    out = torch.zeros(amask.shape, dtype=torch.float32)
    for row, advs in enumerate(step_adv):
        for step, value in advs.items():
            out[row][(sidx[row] == step) & amask[row].bool()] = value
    return out


class ArCHer(Algorithm):
    """Collect → critic TD steps on the replay buffer → token-level actor step; `iterate` runs one iteration."""

    def __init__(self, cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], *,
                 env_kwargs: Mapping[str, Any] | None = None, offline: list[Trajectory] | None = None,
                 generator: Generator | None = None, fmt: PromptFormat | None = None) -> None:
        super().__init__(cfg, policy, make_envs, env_kwargs=env_kwargs, fmt=fmt)
        self.pad_id = int(policy.tokenizer.pad_token_id)
        self.envs = make_envs(cfg.rollout.num_envs)
        self.generator = generator or HFGenerator.from_config(policy.model, self.tokenizer, cfg.rollout)
        self.collector = Collector(self.envs, self.generator, self.fmt, self.tokenizer, cfg.model, cfg.rollout)
        a = cfg.archer
        self.critic = UtteranceCritic(policy.model.get_base_model().config.hidden_size)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        # One optimizer, two groups: each loss leaves the other group's grads None, so Adam skips it.
        self.optimizer = torch.optim.AdamW([
            {"params": policy.trainable_parameters(), "lr": a.actor_lr},
            {"params": list(self.critic.parameters()), "lr": a.critic_lr},
        ], weight_decay=0.0)
        self.buffer = ReplayBuffer(a.buffer_size)

    def collect(self) -> list[Trajectory]:
        """``rollout.episodes_per_update`` episodes sampled with the current policy (seeds fixed by the update)."""
        seeds = round_seeds(self.cfg.seed, self.update, self.envs.num_envs)
        return self.collector.collect(self.cfg.rollout.episodes_per_update, seeds)

    def _chunks(self, trajs: Sequence[Trajectory]) -> list[tuple[list[Trajectory], Collated]]:
        mb = self.cfg.archer.minibatch_size
        return [(list(trajs[i:i + mb]), collate(trajs[i:i + mb], self.pad_id, "right",
                                                self.cfg.model.max_context_tokens))
                for i in range(0, len(trajs), mb)]

    @torch.no_grad()
    def transitions(self, chunks: Sequence[tuple[list[Trajectory], Collated]],
                    ) -> tuple[Transitions, list[tuple[int, int]], list[torch.Tensor]]:
        """Frozen-encoder features of every step, its (episode, step) index, and reference log-probs per chunk."""
        was_training = self.policy.training
        self.policy.eval()
        parts, index, ref_logps = [], [], []
        row0 = 0
        for trajs, batch in chunks:
            with self.policy.reference():
                hidden, _ = self.policy(batch.input_ids, batch.attention_mask, batch.position_ids)
            amask = batch.pred_action_mask.bool()
            logp_all = F.log_softmax(self.policy.lm_head(hidden[:, :-1][amask]).float(), dim=-1)
            ref = torch.zeros(amask.shape)
            ref[amask] = logp_all.gather(-1, batch.input_ids[:, 1:][amask].unsqueeze(-1)).squeeze(-1)
            ref_logps.append(ref)
            s, sa, nxt, rew, done = [], [], [], [], []
            for row, traj in enumerate(trajs):
                spans = step_positions(batch.pred_action_mask[row], batch.pred_step_index[row])
                for step, (first, last) in sorted(spans.items()):
                    s.append(hidden[row, first])
                    sa.append(hidden[row, last + 1])  # the action's last token: h(s_t, a_t)
                    ended = step + 1 not in spans
                    nxt.append(torch.zeros_like(hidden[row, first]) if ended else hidden[row, spans[step + 1][0]])
                    rew.append(traj.rewards[step])
                    done.append(float(ended))
                    index.append((row0 + row, step))
            row0 += len(trajs)
            parts.append(Transitions(torch.stack(s).float(), torch.stack(sa).float(), torch.stack(nxt).float(),
                                     torch.tensor(rew, dtype=torch.float32), torch.tensor(done, dtype=torch.float32)))
        self.policy.train(was_training)
        return Transitions.cat(parts), index, ref_logps

    def train_critic(self, fresh: Transitions) -> dict[str, float]:
        """``archer.critic_updates`` steps (Q: buffer batches, V: batches of the `fresh` on-policy steps), each
        followed by a Polyak update of the target."""
        a = self.cfg.archer
        gen = torch.Generator().manual_seed(self.cfg.seed * 7919 + self.update)
        logs: dict[str, list[float]] = {}
        params = list(self.critic.parameters())
        n_fresh = int(fresh.reward.shape[0])
        for _ in range(a.critic_updates):
            v_batch = fresh.select(torch.randint(n_fresh, (a.critic_batch_size,), generator=gen))
            loss, info = critic_loss(self.critic, self.target_critic, self.buffer.sample(a.critic_batch_size, gen),
                                     v_batch, a.gamma)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm)
            self.optimizer.step()
            polyak_update(self.target_critic, self.critic, a.tau)
            for k, v in info.items():
                logs.setdefault(k, []).append(v)
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def train_actor(self, chunks: Sequence[tuple[list[Trajectory], Collated]], step_adv: Sequence[dict[int, float]],
                    ref_logps: Sequence[torch.Tensor]) -> dict[str, float]:
        """``archer.actor_epochs`` policy-gradient steps over all chunks (gradients accumulated per step)."""
        a = self.cfg.archer
        self.policy.train()
        n_steps = sum(len(d) for d in step_adv)
        params = self.policy.trainable_parameters()
        losses, kls = [], []
        for epoch in range(a.actor_epochs):
            self.optimizer.zero_grad(set_to_none=True)
            row0, total = 0, 0.0
            for (trajs, batch), ref in zip(chunks, ref_logps, strict=True):
                mask = batch.pred_action_mask
                adv = token_advantages(step_adv[row0:row0 + len(trajs)], mask, batch.pred_step_index)
                row0 += len(trajs)
                logp, _, _ = self.policy.token_logprobs(
                    batch.input_ids, batch.attention_mask, batch.position_ids, mask)
                loss = -(adv * logp).sum() / n_steps  # ArCHer: mean over utterances of A_t · log π(a_t | s_t)
                loss.backward()
                total += loss.item()
                if epoch == 0:  # the pre-update policy's distance from the SFT model
                    kls.append(float(masked_mean(kl_estimate(logp.detach(), ref, "k3"), mask)))
            torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm)
            self.optimizer.step()
            losses.append(total)
        return {"policy_loss": float(np.mean(losses)), "kl_ref": float(np.mean(kls))}

    def iterate(self) -> dict[str, float]:
        """One iteration: collect, add to the buffer, train the critic, then (after warm-up) the actor."""
        t0 = time.perf_counter()
        trajs = self.collect()
        t1 = time.perf_counter()
        chunks = self._chunks(trajs)
        fresh, index, ref_logps = self.transitions(chunks)
        self.buffer.add(fresh)
        stats = self.train_critic(fresh)
        t2 = time.perf_counter()
        with torch.no_grad():
            adv = utterance_advantages(*self.critic(fresh.state, fresh.state_action))
        stats.update(advantage_mean=float(adv.mean()), advantage_std=float(adv.std()) if adv.numel() > 1 else 0.0,
                     policy_loss=0.0, kl_ref=0.0, actor_updated=0.0, buffer_steps=float(len(self.buffer)))
        if self.update >= self.cfg.archer.warmup_updates:
            step_adv: list[dict[int, float]] = [{} for _ in trajs]
            for (row, step), value in zip(index, adv.tolist(), strict=True):
                step_adv[row][step] = value
            stats.update(self.train_actor(chunks, step_adv, ref_logps), actor_updated=1.0)
        t3 = time.perf_counter()
        self.update += 1
        return {**episode_stats(trajs), **stats, "rollout_s": t1 - t0, "critic_s": t2 - t1, "train_s": t3 - t2}

    def extra_tensors(self) -> dict[str, dict[str, torch.Tensor]]:
        """Critic, target critic and replay buffer, for checkpoints (safetensors)."""
        return {"critic": self.critic.state_dict(), "target_critic": self.target_critic.state_dict(),
                "replay_buffer": self.buffer.state_dict()}

    def load_extra_tensors(self, path: Path) -> None:
        """Restore what `extra_tensors` wrote into checkpoint `path`."""
        self.critic.load_state_dict(load_file(str(path / "critic.safetensors")))
        self.target_critic.load_state_dict(load_file(str(path / "target_critic.safetensors")))
        self.buffer.load_state_dict(load_file(str(path / "replay_buffer.safetensors")))
