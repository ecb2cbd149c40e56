"""Environment throughput: replay recorded oracle actions and time steps and resets.

* `env_throughput`: one env in this process, oracle actions as ReAct text with seeded resets: steps per
  CPU-second and per wall-second next to the suite's floor (its tool functions called directly on the same
  actions, `Suite.floor_caller`) measured in the same run, the ratio to it, resets/s, the state key's share
  of a step, snapshot/restore cost and peak RSS.
* `vector_throughput`: one env in a plain loop (the baseline), `gymnasium.vector.SyncVectorEnv`,
  `ToolSyncVectorEnv` (``gym.make_vec``) or `AsyncVectorEnv` with N copies, driven with the oracle's actions as
  ReAct text (what an LLM sends), autoresets included, optionally with a simulated per-step tool latency.
* `action_parse_cost`: microseconds per `parse_action` call for each accepted action form.
"""

from __future__ import annotations

import itertools
import json
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import gymnasium as gym

from steptool_gym.actions import FINISH, ToolCall, parse_action
from steptool_gym.env import ToolUseEnv
from steptool_gym.infos import EnvInfos
from steptool_gym.vector import ToolSyncVectorEnv

__all__ = ["VECTORIZERS", "action_parse_cost", "env_throughput", "floor_ratio", "record_oracle_actions",
           "vector_throughput"]

VECTORIZERS = ("single", "sync", "make_vec", "async")
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


def _clocks() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _env_pass(env: ToolUseEnv, episodes: list[tuple[int, list[str]]], seeds: Iterator[int]) -> tuple[int, float, float]:
    """One replay of `episodes` (ReAct text, each reset seeded with the next of `seeds`, never a seed seen before:
    no per-seed cache can flatter it): (steps, CPU seconds, wall seconds)."""
    steps = 0
    cpu, wall = _clocks()
    for index, actions in episodes:
        env.reset(seed=next(seeds), options={"task_index": index})
        for action in actions:
            env.step(action)
        steps += len(actions)
    cpu2, wall2 = _clocks()
    return steps, cpu2 - cpu, wall2 - wall


def _floor_pass(env: ToolUseEnv, episodes: list[tuple[int, list[str]]]) -> tuple[int, float, float]:
    """The same actions through the suite's tool functions alone (`Suite.floor_caller`): each action is parsed,
    a tool call runs directly and its response is rendered as JSON; no engine, judge, reward or state key."""
    suite, tasks = env.suite, env.suite.tasks
    floor_caller = suite.floor_caller  # type: ignore[attr-defined]
    floor_reset = getattr(suite, "floor_reset", None)
    if floor_reset is not None:  # a stateful suite's fresh scratch state for this pass, off the clock
        floor_reset()
    steps = 0
    cpu, wall = _clocks()
    for index, actions in episodes:
        call_tool = floor_caller(tasks[index])
        for action in actions:
            call = parse_action(action)
            if not call.is_finish:
                json.dumps({"error": "", "response": call_tool(call.name, call.arguments)}, default=str)
        steps += len(actions)
    cpu2, wall2 = _clocks()
    return steps, cpu2 - cpu, wall2 - wall


def _timed(run: Any, min_seconds: float) -> tuple[float, float]:
    """Steps per CPU-second and per wall-second of `run()` repeated for at least `min_seconds` of CPU time."""
    steps, cpu, wall = 0, 0.0, 0.0
    while cpu < min_seconds or steps == 0:
        n, c, w = run()
        steps, cpu, wall = steps + n, cpu + c, wall + w
    return steps / max(cpu, 1e-9), steps / max(wall, 1e-9)


def floor_ratio(env_id: str, *, tasks: int = 20, min_seconds: float = 0.2, repeats: int = 3,
                **kwargs: Any) -> float:
    """The env's steps per CPU-second over its suite's floor's (`env_throughput`'s ``floor_ratio_cpu``), on the
    oracle's actions of the first `tasks` tasks: median of `repeats` paired rounds. CPU time and a ratio measured
    in one run keep this usable on a loaded machine (the regression tests compare it with the benchmark's)."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
    assert isinstance(env, ToolUseEnv)
    episodes = [(index, [a.to_react() for a in actions]) for index, actions in record_oracle_actions(env, tasks)]
    seeds = itertools.count()
    _env_pass(env, episodes, seeds)
    _floor_pass(env, episodes)
    ratios = []
    for _ in range(repeats):
        cpu = _timed(partial(_env_pass, env, episodes, seeds), min_seconds)[0]
        ratios.append(cpu / _timed(partial(_floor_pass, env, episodes), min_seconds)[0])
    return statistics.median(ratios)


def _snapshot_cost(env: ToolUseEnv, episodes: list[tuple[int, list[str]]], limit: int = 20) -> tuple[float, float]:
    """Median milliseconds of `snapshot()` and `restore()` halfway through each of the first `limit` episodes."""
    snaps, restores = [], []
    for index, actions in episodes[:limit]:
        env.reset(options={"task_index": index})
        for action in actions[:max(1, len(actions) // 2)]:
            env.step(action)
        t0 = time.perf_counter()
        snap = env.snapshot()
        t1 = time.perf_counter()
        env.restore(snap)
        t2 = time.perf_counter()
        snaps.append((t1 - t0) * 1e3)
        restores.append((t2 - t1) * 1e3)
    return statistics.median(snaps), statistics.median(restores)


def env_throughput(env_id: str, *, tasks: int = 200, min_seconds: float = 2.0, repeats: int = 3,
                   **kwargs: Any) -> dict[str, Any]:
    """Steps per CPU-second and per wall-second of `env_id` replaying the oracle's actions as ReAct text with
    seeded resets, next to the suite's floor on the same actions, measured in the same run.

    The floor (`Suite.floor_caller`) parses each action and calls the suite's tool functions directly: what
    the tools alone cost. Each of `repeats` rounds times the env and then the floor for `min_seconds` CPU-seconds
    each (alternating, so both meet the same machine load); rates and ratios are medians over the rounds.
    ``state_key_share`` is the share of a step spent on the default ``state_key`` info (the env without it,
    timed in the same rounds); ``snapshot_ms``/``restore_ms`` are medians halfway through episodes.
    Keys kept from earlier versions: ``steps_per_s`` (wall), ``resets_per_s``, ``mean_episode_steps``,
    ``peak_rss_mb``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
    bare = gym.make(env_id, disable_env_checker=True, **{**kwargs, "infos": EnvInfos(state_key=False)}).unwrapped
    assert isinstance(env, ToolUseEnv) and isinstance(bare, ToolUseEnv)
    recorded = record_oracle_actions(env, tasks)
    episodes = [(index, [a.to_react() for a in actions]) for index, actions in recorded]
    if not any(actions for _, actions in episodes):
        raise RuntimeError(f"{env_id}: the suite has no gold trajectories to replay")
    has_floor = callable(getattr(env.suite, "floor_caller", None))
    seeds = itertools.count()
    _env_pass(env, episodes, seeds)  # warm-up: per-task prompts and gold end states are built once per process
    _env_pass(bare, episodes, seeds)
    if has_floor:
        _floor_pass(env, episodes)  # and the floor's own one-off set-up (τ²: its scratch database)
    rounds: dict[str, list[float]] = {k: [] for k in ("cpu", "wall", "bare_cpu", "floor_cpu", "floor_wall")}
    for _ in range(repeats):
        cpu, wall = _timed(partial(_env_pass, env, episodes, seeds), min_seconds)
        rounds["cpu"].append(cpu)
        rounds["wall"].append(wall)
        rounds["bare_cpu"].append(_timed(partial(_env_pass, bare, episodes, seeds), min_seconds / 2)[0])
        if has_floor:
            floor_cpu, floor_wall = _timed(partial(_floor_pass, env, episodes), min_seconds)
            rounds["floor_cpu"].append(floor_cpu)
            rounds["floor_wall"].append(floor_wall)
    # Seeded resets that draw their task from the seed: the generator is derived from each new seed.
    resets, start = 0, time.process_time()
    while time.process_time() - start < min_seconds / 4:
        for _ in episodes:
            env.reset(seed=next(seeds))
        resets += len(episodes)
    resets_per_s = resets / (time.process_time() - start)
    snapshot_ms, restore_ms = _snapshot_cost(env, episodes)
    median = statistics.median
    out: dict[str, Any] = {
        "env": env_id,
        "repeats": repeats,
        "steps_per_cpu_s": median(rounds["cpu"]),
        "steps_per_s": median(rounds["wall"]),
        "resets_per_s": resets_per_s,
        "state_key_share": max(0.0, median(1 - b / c for b, c in zip(rounds["cpu"], rounds["bare_cpu"]))),
        "snapshot_ms": snapshot_ms,
        "restore_ms": restore_ms,
        "mean_episode_steps": sum(len(a) for _, a in episodes) / len(episodes),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    if has_floor:
        out |= {
            "floor_steps_per_cpu_s": median(rounds["floor_cpu"]),
            "floor_steps_per_s": median(rounds["floor_wall"]),
            "floor_ratio_cpu": median(e / f for e, f in zip(rounds["cpu"], rounds["floor_cpu"])),
            "floor_ratio_wall": median(e / f for e, f in zip(rounds["wall"], rounds["floor_wall"])),
        }
    return out


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


class _Single:
    """One env driven like a vector env of one (next-step autoreset, batched return values): the single-env
    baseline of `vector_throughput`, with no batching beyond wrapping the results in length-1 sequences."""

    num_envs = 1

    def __init__(self, env: gym.Env) -> None:
        self.env, self._autoreset = env, False

    def reset(self, seed: int | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed)
        return (obs,), {"task_id": [info["task_id"]]}

    def step(self, actions: Any) -> tuple[Any, ...]:
        if self._autoreset:
            self._autoreset = False
            obs, info = self.env.reset()
            return (obs,), (0.0,), (False,), (False,), {"task_id": [info["task_id"]]}
        obs, reward, terminated, truncated, _ = self.env.step(actions[0])
        self._autoreset = terminated or truncated
        return (obs,), (reward,), (terminated,), (truncated,), {}

    def close(self) -> None:
        self.env.close()


class _Latency(gym.Wrapper):
    """Sleeps `seconds` in every step: a tool server's round trip (where worker processes start to pay)."""

    def __init__(self, env: gym.Env, seconds: float) -> None:
        super().__init__(env)
        self.seconds = seconds

    def step(self, action: Any) -> Any:
        time.sleep(self.seconds)
        return self.env.step(action)


def _make(env_id: str, latency_s: float, kwargs: dict[str, Any]) -> gym.Env:
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    return _Latency(env, latency_s) if latency_s > 0 else env


def _vector_env(env_id: str, num_envs: int, vectorizer: str, latency_s: float, kwargs: dict[str, Any]) -> Any:
    fns = [partial(_make, env_id, latency_s, kwargs) for _ in range(num_envs)]
    if vectorizer == "single":
        return _Single(fns[0]())
    if vectorizer == "sync":
        return gym.vector.SyncVectorEnv(fns)
    if vectorizer == "make_vec":  # what ``gym.make_vec(ID, N)`` builds for a StepTool ID
        return ToolSyncVectorEnv(fns)
    # Text observations cannot live in shared numpy buffers: async workers send them through the pipes.
    return gym.vector.AsyncVectorEnv(fns, shared_memory=False)


def vector_throughput(env_id: str, num_envs: int, vectorizer: str = "sync", *, min_seconds: float = 2.0,
                      seed: int = 0, latency_ms: float = 0.0, **kwargs: Any) -> dict[str, Any]:
    """Steps/s of `num_envs` copies of `env_id` vectorised by `vectorizer`, replaying oracle actions as text.

    `vectorizer`: ``"single"`` (one env in a plain loop with the same next-step autoreset: the baseline),
    ``"sync"`` (Gymnasium's `SyncVectorEnv`), ``"make_vec"`` (`ToolSyncVectorEnv`, what ``gym.make_vec`` builds)
    or ``"async"`` (`AsyncVectorEnv`). `latency_ms` adds a sleep to every sub-env step (a remote tool's round
    trip). Only the time inside ``reset``/``step`` counts (looking up the next oracle action, and recording it
    the first time a task is drawn, happen outside the clock). `steps_per_s` and `steps_per_cpu_s` count
    sub-env transitions (autoreset steps excluded); `vector_steps_per_s` counts ``step`` calls.
    """
    if vectorizer not in VECTORIZERS:
        raise ValueError(f"vectorizer must be one of {VECTORIZERS}; got {vectorizer!r}")
    if num_envs < 1 or (vectorizer == "single" and num_envs != 1):
        raise ValueError(f"num_envs must be >= 1 (1 for 'single'); got {num_envs}")
    book = _OracleBook(env_id, kwargs)
    # Every task's prompt is built once per process and suite (a one-off cost, shared by all envs of the suite):
    # built here, so each configuration's clock sees the steady state, not which tasks its seeds drew first.
    for index in range(len(book.env.suite.tasks)):
        book.env._prepare(index)
    start = time.perf_counter()
    vec = _vector_env(env_id, num_envs, vectorizer, latency_ms / 1e3, kwargs)
    try:
        _, info = vec.reset(seed=seed)
        startup_s = time.perf_counter() - start
        plans = [book(str(t)) for t in info["task_id"]]
        position = [0] * num_envs
        autoreset = [False] * num_envs
        elapsed, cpu, calls, transitions, episodes = 0.0, 0.0, 0, 0, 0
        while elapsed < min_seconds:
            actions = tuple(plan[k] if k < len(plan) else _GIVE_UP for plan, k in zip(plans, position, strict=True))
            c0, t0 = _clocks()
            _, _, terminated, truncated, info = vec.step(actions)
            c1, t1 = _clocks()
            elapsed += t1 - t0
            cpu += c1 - c0
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
        "latency_ms": latency_ms,
        "steps": transitions,
        "episodes": episodes,
        "steps_per_s": transitions / elapsed,
        # This process's CPU only: for "single", "sync" and "make_vec" every sub-env's; "async" workers' is not.
        "steps_per_cpu_s": transitions / max(cpu, 1e-9),
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
