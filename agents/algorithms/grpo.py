"""GRPO: every action token of an episode gets its group-relative score (groups of ``grpo.group_size`` episodes
of one task; ``is_solved`` normalised within the group, optionally by its std). Critic-free: KL in the loss."""

from __future__ import annotations

import torch

from steptool_agents.algorithms.base import CriticFreeAlgorithm
from steptool_agents.algorithms.returns import grpo_advantages
from steptool_agents.policy.tokenization import Collated, Trajectory

__all__ = ["GRPO"]


class GRPO(CriticFreeAlgorithm):
    def advantages(self, trajs: list[Trajectory], batch: Collated, values: torch.Tensor, kl: torch.Tensor,
                   amask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = self.cfg.grpo
        scores = grpo_advantages([t.is_solved for t in trajs], g.group_size, g.scale_by_std)
        zeros = torch.zeros_like(amask)
        return scores[:, None] * amask, zeros, zeros.clone()
