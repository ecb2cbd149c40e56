"""Environment throughput: replay recorded oracle actions and time steps and resets (single process)."""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import gymnasium as gym

from steptool_gym.actions import ToolCall
from steptool_gym.env import ToolUseEnv

__all__ = ["env_throughput", "record_oracle_actions"]


def record_oracle_actions(env: ToolUseEnv, tasks: int) -> list[tuple[int, list[ToolCall]]]:
    """The oracle's action list for the first `tasks` task indices (recorded once, replayed when timing)."""
    episodes = []
    for index in range(min(tasks, len(env.suite.tasks))):
        env.reset(options={"task_index": index})
        actions: list[ToolCall] = []
        while True:
            call = env.oracle_action()
            if call is None:
                break
            actions.append(call)
            *_, terminated, truncated, _ = env.step(call)
            if terminated or truncated:
                break
        episodes.append((index, actions))
    return episodes


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def env_throughput(env_id: str, *, tasks: int = 200, min_seconds: float = 2.0, **kwargs: Any) -> dict[str, Any]:
    """Steps/s (oracle-action replay with rewards), resets/s and peak RSS for `env_id`."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
    assert isinstance(env, ToolUseEnv)
    episodes = record_oracle_actions(env, tasks)
    if not any(actions for _, actions in episodes):
        raise RuntimeError(f"{env_id}: the suite has no gold trajectories to replay")
    steps = 0
    start = time.perf_counter()
    while True:
        for index, actions in episodes:
            env.reset(options={"task_index": index})
            for action in actions:
                env.step(action)
            steps += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    resets = 0
    start_r = time.perf_counter()
    while time.perf_counter() - start_r < min_seconds / 2:
        for index, _ in episodes:
            env.reset(options={"task_index": index})
        resets += len(episodes)
    reset_elapsed = time.perf_counter() - start_r
    return {
        "env": env_id,
        "steps": steps,
        "steps_per_s": steps / elapsed,
        "resets_per_s": resets / reset_elapsed,
        "mean_episode_steps": sum(len(a) for _, a in episodes) / len(episodes),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
