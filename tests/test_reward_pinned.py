"""The paper's reward (`reward_mode="step"`) stays bit-exact: trajectories pinned before the progress mode."""

from __future__ import annotations

import gymnasium as gym
import pytest

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.rewards import RewardComponents, RewardConfig

A02 = 0.16666666666666669  # (0.2·1 + 0/5)/1.2, as computed before the change


def _run(task_index: int, policy: str, alpha: float) -> list[float]:
    env = gym.make("StepTool-ToolBench-G1-v0", reward_mode="step", alpha=alpha, max_steps=6)
    env.reset(seed=0, options={"task_index": task_index})
    base, last, rewards, done = env.unwrapped, None, [], False
    while not done:
        action = base.oracle_action() if policy == "oracle" or last is None else last
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        done = terminated or truncated
        if info["status"] == 0 and not action.is_finish:
            last = action
    return rewards


@pytest.mark.parametrize(("task_index", "policy", "alpha", "expected"), [
    (0, "oracle", 1.0, [1.0, 1.0]),
    (0, "repeat", 1.0, [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]),
    (0, "repeat", 0.2, [1.0, A02, A02, A02, A02, A02]),
    (7, "oracle", 1.0, [1.0, 0.0, 1.0, 1.0]),  # a flaky gold call fails once, then succeeds
    (7, "repeat", 1.0, [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]),
    (21, "oracle", 0.2, [1.0, 0.0, 1.0, 1.0]),
    (21, "repeat", 0.2, [1.0, A02, A02, A02, A02, A02]),
])
def test_step_mode_rewards_are_pinned(task_index, policy, alpha, expected):
    assert _run(task_index, policy, alpha) == expected


@pytest.mark.parametrize("alpha", [0.0, 0.2, 1.0, 3.0])
def test_step_mode_formula_is_the_papers(alpha):
    config = RewardConfig("step", alpha)
    for sc in (0.0, 1.0):
        for con in (0.0, 1.0, 3.0, 5.0):
            assert config(RewardComponents(sc, con)) == (alpha * sc + con / 5.0) / (alpha + 1.0)
    for solved in (0.0, 0.5, 1.0):
        assert config(RewardComponents(0.0, 0.0, solved)) == solved
