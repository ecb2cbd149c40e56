"""ETO (Song et al. 2024, *Trial and Error: Exploration-Based Trajectory Optimization for LLM Agents*).

Starting from the SFT model, every round

1. explores: plays ``eto.episodes`` episodes with the current policy on the training split (greedy, as the
   official script does, or sampled at ``eto.explore_temperature``);
2. pairs: each failed episode (IsSolved < 1) loses against the expert demonstration of the same task (the env's
   gold policy, tokenised exactly like SFT demonstrations) and, when the round solved that task too, against
   the policy's own solved episode;
3. trains ``eto.epochs`` epochs of DPO on the pairs::

       L = −log σ(β [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]) + w_sft · NLL(y_w)

   where log π(y) sums the log-probs of the trajectory's action tokens only (prompts and tool observations are
   context). Agent trajectories are scored on exactly their sampled ids. π is the LoRA policy; π_ref is the SFT
   model (adapter disabled) or, with ``eto.reference = "round"``, the policy as the round began — the official
   ETO script re-anchors the reference to the previous iteration's model.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from steptool_agents.algorithms.base import Algorithm, episode_stats
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy
from steptool_agents.policy.prompts import PromptFormat
from steptool_agents.policy.tokenization import Trajectory, collate
from steptool_agents.rollout.collect import Collector, Generator, HFGenerator, round_seeds
from steptool_agents.rollout.oracle import demo_trajectories, task_oracle_episodes

__all__ = ["ETO", "Pair", "action_logprob_sums", "build_pairs", "dpo_loss"]


class Pair(NamedTuple):
    """A preference pair on one task: `chosen` solved it better than `rejected`; `source` names the winner."""

    chosen: Trajectory
    rejected: Trajectory
    source: str  # "expert" or "agent"


def build_pairs(trajs: Sequence[Trajectory], experts: Mapping[str, Trajectory]) -> list[Pair]:
    """Pair every failed trajectory (IsSolved < 1) with the expert demo of its task and with a solved one.

    The expert pair is made when the expert scored higher than the failure. The agent pair uses the task's
    solved trajectories in `trajs` round-robin, so k failures of a task spread over its successes.
    """
    solved: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        if t.is_solved >= 1.0:
            solved[t.task_id].append(t)
    seen: dict[str, int] = defaultdict(int)
    pairs = []
    for t in trajs:
        if t.is_solved >= 1.0:
            continue
        expert = experts.get(t.task_id)
        if expert is not None and expert.is_solved > t.is_solved:
            pairs.append(Pair(expert, t, "expert"))
        wins = solved[t.task_id]
        if wins:
            pairs.append(Pair(wins[seen[t.task_id] % len(wins)], t, "agent"))
            seen[t.task_id] += 1
    return pairs


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean DPO loss over pairs, and the implicit rewards β·(log π − log π_ref) of chosen and rejected.

    Inputs are sequence log-probs [P] (sums over action tokens).
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    return -F.logsigmoid(chosen - rejected).mean(), chosen.detach(), rejected.detach()


def action_logprob_sums(policy: Policy, trajs: Sequence[Trajectory], pad_id: int,
                        max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per trajectory: the sum of its action tokens' log-probs [B] and how many action tokens were scored [B].

    Trajectories longer than `max_tokens` lose their first tokens (as in every other trainer). Gradients flow
    when called with grad enabled.
    """
    batch = collate(trajs, pad_id, "right", max_tokens)
    mask = batch.pred_action_mask
    logp, _, _ = policy.token_logprobs(batch.input_ids, batch.attention_mask, batch.position_ids, mask)
    return logp.sum(-1), mask.sum(-1).float()


class ETO(Algorithm):
    """Explore → pair → DPO rounds on one policy; `iterate` runs one round.

    ``env_kwargs`` are the exploration env's ``gym.make`` arguments: the oracle replays the same tasks with them.
    """

    def __init__(self, cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any], *,
                 env_kwargs: Mapping[str, Any] | None = None, offline: list[Trajectory] | None = None,
                 generator: Generator | None = None, fmt: PromptFormat | None = None) -> None:
        super().__init__(cfg, policy, make_envs, env_kwargs=env_kwargs, fmt=fmt)
        self.pad_id = int(policy.tokenizer.pad_token_id)
        self.envs = make_envs(cfg.rollout.num_envs)
        self.generator = generator or HFGenerator.from_config(policy.model, self.tokenizer, cfg.rollout,
                                                              cfg.eto.explore_temperature or 1.0)
        self.collector = Collector(self.envs, self.generator, self.fmt, self.tokenizer, cfg.model, cfg.rollout)
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.eto.learning_rate,
                                           weight_decay=0.0)
        self._experts: dict[str, Trajectory] = {}  # task id → demo; the oracle is deterministic, so a cache

    def explore(self) -> list[Trajectory]:
        """``eto.episodes`` episodes of the current policy, greedy or sampled (seeds fixed by the round)."""
        seeds = round_seeds(self.cfg.seed, self.update, self.envs.num_envs)
        return self.collector.collect(self.cfg.eto.episodes, seeds, greedy=self.cfg.eto.explore_temperature == 0)

    def experts(self, task_ids: Sequence[str]) -> dict[str, Trajectory]:
        """Expert demonstrations of `task_ids`, played by the env's gold policy (cached)."""
        missing = sorted(set(task_ids) - set(self._experts))
        if missing:
            episodes = task_oracle_episodes(self.cfg.env_id, missing, self.cfg.seed, **self.env_kwargs)
            demos = demo_trajectories(episodes, self.fmt, self.tokenizer, self.cfg.model.max_prompt_tokens)
            self._experts.update(zip(missing, demos, strict=True))
        return {t: self._experts[t] for t in task_ids}

    @torch.no_grad()
    def _reference_logprobs(self, pairs: Sequence[Pair]) -> torch.Tensor:
        """[P, 2] reference sequence log-probs (chosen, rejected), fixed for the round."""
        was_training = self.policy.training
        self.policy.eval()
        out = []
        for start in range(0, len(pairs), self.cfg.eto.batch_size):
            chunk = pairs[start:start + self.cfg.eto.batch_size]
            seqs = [p.chosen for p in chunk] + [p.rejected for p in chunk]
            if self.cfg.eto.reference == "sft":
                with self.policy.reference():
                    sums, _ = action_logprob_sums(self.policy, seqs, self.pad_id, self.cfg.model.max_context_tokens)
            else:
                sums, _ = action_logprob_sums(self.policy, seqs, self.pad_id, self.cfg.model.max_context_tokens)
            out.append(sums.view(2, -1).T)
        self.policy.train(was_training)
        return torch.cat(out)

    def train(self, pairs: Sequence[Pair]) -> dict[str, float]:
        """``eto.epochs`` epochs of DPO (+ optional SFT on winners) over `pairs` in shuffled minibatches."""
        e = self.cfg.eto
        ref = self._reference_logprobs(pairs)
        self.policy.train()
        gen = torch.Generator().manual_seed(self.cfg.seed * 7919 + self.update)
        logs: dict[str, list[float]] = defaultdict(list)
        tokens, start_time = 0, time.perf_counter()
        for _ in range(e.epochs):
            perm = torch.randperm(len(pairs), generator=gen)
            for mb_start in range(0, len(pairs), e.batch_size):
                idx = perm[mb_start:mb_start + e.batch_size].tolist()
                seqs = [pairs[i].chosen for i in idx] + [pairs[i].rejected for i in idx]
                sums, counts = action_logprob_sums(self.policy, seqs, self.pad_id, self.cfg.model.max_context_tokens)
                k = len(idx)
                loss, chosen, rejected = dpo_loss(sums[:k], sums[k:], ref[idx, 0], ref[idx, 1], e.beta)
                logs["dpo_loss"].append(loss.item())
                if e.sft_weight > 0:
                    nll = -(sums[:k].sum() / counts[:k].sum().clamp(min=1.0))
                    loss = loss + e.sft_weight * nll
                    logs["sft_loss"].append(nll.item())
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), e.max_grad_norm)
                self.optimizer.step()
                tokens += int(counts.sum())
                logs["reward_accuracy"].append(float((chosen > rejected).float().mean()))
                logs["reward_margin"].append(float((chosen - rejected).mean()))
                logs["chosen_reward"].append(float(chosen.mean()))
                logs["rejected_reward"].append(float(rejected.mean()))
        elapsed = time.perf_counter() - start_time
        out = {k: float(np.mean(v)) for k, v in logs.items()}
        out["train_action_tokens_per_s"] = tokens / elapsed if elapsed > 0 else 0.0
        return out

    def iterate(self) -> dict[str, float]:
        """One round: explore, pair, train. Returns the round's metrics (DPO ones are 0 when nothing paired)."""
        t0 = time.perf_counter()
        trajs = self.explore()
        t1 = time.perf_counter()
        failed = [t.task_id for t in trajs if t.is_solved < 1.0]
        pairs = build_pairs(trajs, self.experts(failed))
        t2 = time.perf_counter()
        stats = dict.fromkeys(("dpo_loss", "reward_accuracy", "reward_margin", "chosen_reward", "rejected_reward",
                               "train_action_tokens_per_s"), 0.0)
        if self.cfg.eto.sft_weight > 0:
            stats["sft_loss"] = 0.0
        if pairs:
            stats.update(self.train(pairs))
        t3 = time.perf_counter()
        self.update += 1
        return {**episode_stats(trajs), "pairs": float(len(pairs)),
                "expert_pairs": float(sum(p.source == "expert" for p in pairs)),
                "agent_pairs": float(sum(p.source == "agent" for p in pairs)), **stats,
                "rollout_s": t1 - t0, "pair_s": t2 - t1, "train_s": t3 - t2}
