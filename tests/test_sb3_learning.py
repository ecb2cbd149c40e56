"""Slow: SB3's MaskablePPO and PPO learn StepTool-ToolBench-G1-v0 above random valid actions through the adapters.

What the measurement supports (`benchmarks/sb3_learning.py`, the fair discrete space, 30k env steps, seed 0, one
torch thread, 200 held-out draws): pass rate with final reward 0.223 (MaskablePPO) and 0.198 (PPO), with the
default progress reward 0.130 and 0.150, against 0.0875 for a uniform choice among the candidates the action mask
allows on the same draws. The margins asserted are below those gaps; a policy that learned nothing scores about
random or, collapsed to one action, near 0, so the test fails then.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sb3_contrib", reason="the sb3 extra is not installed")

from steptool_gym.sb3_train import train_sb3


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "reward_mode", "margin"), [
    ("sb3-maskable-ppo", "final", 0.08), ("sb3-ppo", "final", 0.06),
    ("sb3-maskable-ppo", "progress", 0.02), ("sb3-ppo", "progress", 0.03)])
def test_sb3_beats_random_valid_actions_on_held_out_g1(algo, reward_mode, margin, one_thread):
    result = train_sb3(algo, "StepTool-ToolBench-G1-v0", timesteps=30_000, seed=0, reward_mode=reward_mode,
                       eval_episodes=200)
    held_out, random = result["held_out"]["pass_rate"], result["random_held_out"]["pass_rate"]
    assert held_out >= random + margin, result
