"""Run agents on envs and summarise episodes with the paper's metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from steptool_gym.env import ToolUseEnv
from steptool_gym.scripted import Agent

__all__ = ["EpisodeResult", "as_records", "run_episode", "run_episodes", "summarize"]


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode."""

    task_id: str
    is_solved: float
    steps: int
    episode_return: float
    tool_calls: int
    successful_calls: int
    gold_calls: int
    finished: bool


def run_episode(env: gym.Env, agent: Agent, *, seed: int | None = None,
                options: dict[str, Any] | None = None) -> EpisodeResult:
    """Play one episode of `agent` on `env` (any wrapper stack over a `ToolUseEnv`)."""
    base: ToolUseEnv = env.unwrapped  # type: ignore[assignment]
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(seed)
    total, steps, calls, ok, gold = 0.0, 0, 0, 0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.act(base, obs, info))
        total += float(reward)
        steps += 1
        if info["reward_components"]["IsSolved"] is None:  # every action but a valid Finish is a tool call
            calls += 1
            ok += info["reward_components"]["SC"] == 1.0
            gold += bool(info.get("gold_call", False))
        if terminated or truncated:
            return EpisodeResult(base.task.task_id, float(info["is_solved"]), steps, total, calls, ok, gold,
                                 bool(terminated))


def run_episodes(env: gym.Env, agent: Agent, episodes: int, *, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> list[EpisodeResult]:
    """Play `episodes` episodes; episode i resets with ``seed + i`` (tasks are drawn by the env's generator)."""
    results = []
    for i in range(episodes):
        results.append(run_episode(env, agent, seed=seed + i))
        if progress is not None:
            progress(i + 1)
    return results


def summarize(results: Iterable[EpisodeResult]) -> dict[str, Any]:
    """Pass rate, mean steps, tool-call accuracy (share of calls matching a gold call), step success, return."""
    rows = list(results)
    if not rows:
        raise ValueError("No episodes to summarise")
    calls = sum(r.tool_calls for r in rows)
    solved = np.array([r.is_solved for r in rows])
    return {
        "episodes": len(rows),
        "pass_rate": float(solved.mean()),
        "pass_rate_std": float(solved.std()),
        "avg_steps": float(np.mean([r.steps for r in rows])),
        "tool_call_accuracy": sum(r.gold_calls for r in rows) / calls if calls else 0.0,
        "step_success_rate": sum(r.successful_calls for r in rows) / calls if calls else 0.0,
        "mean_return": float(np.mean([r.episode_return for r in rows])),
        "finish_rate": float(np.mean([r.finished for r in rows])),
    }


def as_records(results: Iterable[EpisodeResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
