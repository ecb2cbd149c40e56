"""Slow: SB3's MaskablePPO and PPO learn StepTool-ToolBench-G1-v0 well above random through the adapters."""

from __future__ import annotations

import pytest

pytest.importorskip("sb3_contrib", reason="the sb3 extra is not installed")

from steptool_gym.sb3_train import train_sb3


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sb3-maskable-ppo", "sb3-ppo"])
def test_sb3_learns_g1_well_above_random(algo):
    result = train_sb3(algo, "StepTool-ToolBench-G1-v0", timesteps=40_000, seed=0, reward_mode="step",
                       eval_episodes=200)
    held_out, random = result["held_out"]["pass_rate"], result["random_held_out"]["pass_rate"]
    assert held_out >= random + 0.15, result
