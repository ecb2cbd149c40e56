"""Inference-time search strategies from ToolBench: CoT@1 (one chain) and DFSDT (depth-first with backtracking).

Both drive any `Agent` (``act(env, observation, info) -> action``): a scripted agent, an LLM policy or an
OpenAI-compatible endpoint. DFSDT expands each node into at most `width` children by calling the agent again
(a sampling agent proposes different actions), prunes a branch when the agent gives up
(``give_up_and_restart``) or the branch runs out of steps, returns to the parent with `ToolUseEnv.restore`,
and stops at the first answer or after `max_calls` agent calls, as ToolBench's DFS does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from steptool_gym.env import StepRecord, ToolUseEnv
from steptool_gym.rewards import UNSOLVED
from steptool_gym.scripted import Agent
from steptool_gym.status import Status

__all__ = ["STRATEGIES", "SearchResult", "cot", "dfsdt", "run_search"]


@dataclass(frozen=True)
class SearchResult:
    """The answer path of one query and what the search cost."""

    task_id: str
    query: str
    is_solved: float
    path: tuple[StepRecord, ...]
    tool_names: tuple[str, ...]
    model_calls: int
    episode_return: float

    @property
    def finished(self) -> bool:
        return bool(self.path) and self.path[-1].status == Status.FINAL_ANSWER


def _result(env: ToolUseEnv, solved: float, calls: int) -> SearchResult:
    path = env.history
    names = tuple(t["name"] for t in env.tools)
    return SearchResult(env.task.task_id, env.task.query, solved, path, names, calls, sum(r.reward for r in path))


def cot(env: gym.Env, agent: Agent, *, seed: int | None = None, options: dict[str, Any] | None = None) -> SearchResult:
    """One chain of at most the env's `max_steps` steps (CoT@1)."""
    base: ToolUseEnv = env.unwrapped  # type: ignore[assignment]
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(seed)
    calls = 0
    while True:
        obs, _, terminated, truncated, info = env.step(agent.act(base, obs, info))
        calls += 1
        if terminated or truncated:
            return _result(base, float(info["is_solved"]), calls)


def dfsdt(env: gym.Env, agent: Agent, *, width: int = 2, max_calls: int = 30, seed: int | None = None,
          options: dict[str, Any] | None = None) -> SearchResult:
    """ToolBench's depth-first search-based decision tree (see the module docstring)."""
    if width < 1 or max_calls < 1:
        raise ValueError("width and max_calls must be >= 1")
    base: ToolUseEnv = env.unwrapped  # type: ignore[assignment]
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(seed)
    calls = 0
    last_leaf: dict[str, Any] | None = None

    def expand(node: dict[str, Any], obs: str, info: dict[str, Any]) -> float | None:
        nonlocal calls, last_leaf
        for _ in range(width):
            if calls >= max_calls:
                return None
            base.restore(node)
            action = agent.act(base, obs, info)
            calls += 1
            child_obs, _, terminated, truncated, child_info = env.step(action)
            if terminated and child_info["status"] == Status.FINAL_ANSWER:
                return float(child_info["is_solved"])
            if terminated or truncated:  # gave up or out of steps: prune and try a sibling
                last_leaf = base.snapshot()
                continue
            found = expand(base.snapshot(), child_obs, child_info)
            if found is not None:
                return found
        return None

    solved = expand(base.snapshot(), obs, info)
    if solved is None:
        if last_leaf is not None:  # report the last explored branch, as ToolBench does for failed searches
            base.restore(last_leaf)
        return _result(base, UNSOLVED, calls)
    return _result(base, solved, calls)


STRATEGIES = {"cot": cot, "dfsdt": dfsdt}


def run_search(strategy: str, env: gym.Env, agent: Agent, episodes: int, *, seed: int = 0,
               progress: Callable[[int], None] | None = None, **kwargs: Any) -> list[SearchResult]:
    """Run `strategy` on `episodes` tasks.

    With no more episodes than tasks, each task is used at most once, in a permutation seeded by `seed` (so a
    sample spans every group of a mixed suite); beyond that, tasks are drawn by the env's seeded generator.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1; got {episodes}")
    fn = STRATEGIES[strategy]
    n_tasks = len(env.unwrapped.suite.tasks)  # type: ignore[attr-defined]
    order = np.random.default_rng(seed).permutation(n_tasks) if episodes <= n_tasks else None
    results = []
    for i in range(episodes):
        options = {"task_index": int(order[i])} if order is not None else None
        results.append(fn(env, agent, seed=seed + i, options=options, **kwargs))
        if progress is not None:
            progress(i + 1)
    return results
