"""GiGPO: the group-relative episode advantage plus a step advantage relative to the steps of the group that left
the same anchor state (``state_keys``), weighted by ``gigpo.step_weight``. Critic-free: KL in the loss."""

from __future__ import annotations

from steptool_agents.algorithms.base import CriticFreeAlgorithm
from steptool_agents.algorithms.returns import gigpo_advantages
from steptool_agents.policy.tokenization import Trajectory

__all__ = ["GiGPO"]


class GiGPO(CriticFreeAlgorithm):
    def step_advantages(self, trajs: list[Trajectory]) -> list[list[float]]:
        g = self.cfg.gigpo
        return gigpo_advantages([t.rewards for t in trajs], [t.state_keys for t in trajs], g.group_size,
                                g.step_weight, g.gamma, g.scale_by_std)
