"""Environment throughput: replay recorded oracle actions and time steps and resets.

* `env_throughput`: one env in this process (steps/s, resets/s, peak RSS).
* `vector_throughput`: `gymnasium.vector.SyncVectorEnv` or `AsyncVectorEnv` with N copies, driven with the
  oracle's actions as ReAct text (what an LLM sends), autoresets included.
* `action_parse_cost`: microseconds per `parse_action` call for each accepted action form.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from functools import partial
from typing import Any

import gymnasium as gym

from steptool_gym.actions import FINISH, ToolCall, parse_action
from steptool_gym.env import ToolUseEnv

__all__ = ["VECTORIZERS", "action_parse_cost", "env_throughput", "record_oracle_actions", "vector_throughput"]

VECTORIZERS = ("sync", "async")
_GIVE_UP = ToolCall(FINISH, {"return_type": "give_up_and_restart"}).to_react()


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


def _proc_status_mb(pid: int | str, field: str) -> float | None:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of a process from /proc, in MB; None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class _OracleBook:
    """The oracle's actions (ReAct text) per task id, recorded in a private env the first time a task appears."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]) -> None:
        self.env: ToolUseEnv = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped  # type: ignore[assignment]
        self.actions: dict[str, list[str]] = {}

    def __call__(self, task_id: str) -> list[str]:
        if task_id not in self.actions:
            self.env.reset(options={"task_id": task_id})
            texts = []
            while (call := self.env.oracle_action()) is not None:
                texts.append(call.to_react())
                *_, terminated, truncated, _ = self.env.step(call)
                if terminated or truncated:
                    break
            self.actions[task_id] = texts
        return self.actions[task_id]


def vector_throughput(env_id: str, num_envs: int, vectorizer: str = "sync", *, min_seconds: float = 2.0,
                      seed: int = 0, **kwargs: Any) -> dict[str, Any]:
    """Steps/s of `num_envs` copies of `env_id` in a Sync or Async vector env, replaying oracle actions as text.

    Only the time inside ``reset``/``step`` of the vector env counts (looking up the next oracle action, and
    recording it the first time a task is drawn, happen outside the clock). `steps_per_s` counts sub-env
    transitions (autoreset steps excluded); `vector_steps_per_s` counts ``step`` calls.
    """
    if vectorizer not in VECTORIZERS:
        raise ValueError(f"vectorizer must be one of {VECTORIZERS}; got {vectorizer!r}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1; got {num_envs}")
    book = _OracleBook(env_id, kwargs)
    fns = [partial(gym.make, env_id, disable_env_checker=True, **kwargs) for _ in range(num_envs)]
    start = time.perf_counter()
    # Text observations cannot live in shared numpy buffers: async workers send them through the pipes.
    vec = gym.vector.SyncVectorEnv(fns) if vectorizer == "sync" else gym.vector.AsyncVectorEnv(fns, shared_memory=False)
    try:
        _, info = vec.reset(seed=seed)
        startup_s = time.perf_counter() - start
        plans = [book(str(t)) for t in info["task_id"]]
        position = [0] * num_envs
        autoreset = [False] * num_envs
        elapsed, calls, transitions, episodes = 0.0, 0, 0, 0
        while elapsed < min_seconds:
            actions = tuple(plan[k] if k < len(plan) else _GIVE_UP for plan, k in zip(plans, position, strict=True))
            t0 = time.perf_counter()
            _, _, terminated, truncated, info = vec.step(actions)
            elapsed += time.perf_counter() - t0
            calls += 1
            for i in range(num_envs):
                if autoreset[i]:  # this step reset sub-env i; its info holds the new task
                    plans[i], position[i], autoreset[i] = book(str(info["task_id"][i])), 0, False
                    continue
                transitions += 1
                position[i] += 1
                autoreset[i] = bool(terminated[i] or truncated[i])
                episodes += autoreset[i]
        workers = [_proc_status_mb(p.pid, "VmHWM") for p in getattr(vec, "processes", [])]
    finally:
        vec.close()
    return {
        "env": env_id,
        "vectorizer": vectorizer,
        "num_envs": num_envs,
        "steps": transitions,
        "episodes": episodes,
        "steps_per_s": transitions / elapsed,
        "vector_steps_per_s": calls / elapsed,
        "startup_s": startup_s,
        "main_rss_mb": _proc_status_mb("self", "VmRSS"),
        "workers_peak_rss_mb": sum(w for w in workers if w is not None) if workers and None not in workers else None,
    }


def action_parse_cost(env_id: str, *, tasks: int = 200, min_seconds: float = 1.0, **kwargs: Any) -> dict[str, Any]:
    """Microseconds per `parse_action` call on the oracle's calls rendered in each accepted action form."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
    assert isinstance(env, ToolUseEnv)
    calls = [c for _, actions in record_oracle_actions(env, tasks) for c in actions]
    if not calls:
        raise RuntimeError(f"{env_id}: the suite has no gold trajectories to parse")
    forms: dict[str, list[Any]] = {
        "react_text": [c.to_react() for c in calls],
        "json_text": [json.dumps({"name": c.name, "arguments": dict(c.arguments)}) for c in calls],
        "dict": [{"name": c.name, "arguments": dict(c.arguments)} for c in calls],
        "openai_message": [{"role": "assistant", "content": c.thought, "tool_calls": [c.to_openai("call_0")]}
                           for c in calls],
    }
    out: dict[str, Any] = {"env": env_id, "actions": len(calls),
                           "mean_react_chars": sum(map(len, forms["react_text"])) / len(calls)}
    budget = min_seconds / len(forms)
    for name, actions in forms.items():
        parsed, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < budget:
            for action in actions:
                parse_action(action)
            parsed += len(actions)
        out[f"{name}_us"] = elapsed / parsed * 1e6
    return out
