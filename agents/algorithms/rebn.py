"""REINFORCE with ReBN: discounted step returns (discount ``ppo.gamma``) normalised over the whole batch, on every
action token of the step. Critic-free: KL in the loss."""

from __future__ import annotations

from steptool_agents.algorithms.base import CriticFreeAlgorithm
from steptool_agents.algorithms.returns import rebn_advantages
from steptool_agents.policy.tokenization import Trajectory

__all__ = ["ReBN"]


class ReBN(CriticFreeAlgorithm):
    def step_advantages(self, trajs: list[Trajectory]) -> list[list[float]]:
        return rebn_advantages([t.rewards for t in trajs], self.cfg.ppo.gamma)
