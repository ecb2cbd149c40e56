"""Evaluate a policy: pass rate, steps, tool-call precision/recall/F1 and return on a split; load a run's policy.

Evaluation plays a fixed list of task ids (`eval_task_ids`: a seeded permutation of the split's tasks, without
replacement), each exactly once, so every method evaluated with the same seed is scored on the same tasks however
long its episodes are; ``per_task`` in the result pairs them task by task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console

from steptool_agents.algorithms.base import episode_stats
from steptool_agents.artifacts import model_source
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy, load_policy
from steptool_agents.policy.prompts import make_format
from steptool_agents.progress import progress
from steptool_agents.rollout.collect import Collector, HFGenerator
from steptool_agents.rollout.envs import env_kwargs, fixed_task_vector_env

__all__ = ["eval_task_ids", "evaluate_policy", "load_run_policy"]


def eval_task_ids(cfg: TrainConfig, split: str, episodes: int, seed: int) -> list[str]:
    """`episodes` task ids of `split`: a permutation seeded by `seed` (without replacement; past the split's size
    the next seeded permutation follows, so every task is played k times before any is played k + 1)."""
    env = gym.make(cfg.env_id, **env_kwargs(cfg, split))
    try:
        tasks = [t.task_id for t in env.unwrapped.suite.tasks]
    finally:
        env.close()
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < episodes:
        out += [tasks[i] for i in rng.permutation(len(tasks))]
    return out[:episodes]


def load_run_policy(model_dir: str | Path, cfg: TrainConfig) -> Policy:
    """A policy from a run directory (``model/`` + ``final/``), a bare adapter dir, or any HF model dir."""
    base, adapter = model_source(model_dir)
    return load_policy(base, cfg.model, adapter)


def evaluate_policy(policy: Policy, cfg: TrainConfig, split: str, episodes: int, seed: int = 12345,
                    greedy: bool = True, console: Console | None = None, keep_actions: bool = False,
                    on_episode: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Pass rate, average steps, tool-call precision/recall/F1 and mean return on `split` (batched, greedy by default);
    a progress bar on `console` when given, `on_episode(n)` after each episode. `keep_actions` adds ``actions``:
    ``[task_id, [action text, ...]]`` per episode, in ``per_task``'s order."""
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    gen = HFGenerator.from_config(policy.model, policy.tokenizer, cfg.rollout)
    tasks = eval_task_ids(cfg, split, episodes, seed)
    envs = fixed_task_vector_env(cfg.env_id, min(cfg.rollout.num_envs, episodes), tasks, **env_kwargs(cfg, split))
    collector = Collector(envs, gen, fmt, policy.tokenizer, cfg.model, cfg.rollout)
    # A fresh adapter (untrained or SFT-merged model) adds exactly zero: generating without it gives the same
    # tokens and skips the LoRA matmuls (8% of an untrained SmolLM2 evaluation's wall time, measured side by side).
    adapter = policy.reference() if policy.adapter_is_identity() else contextlib.nullcontext()
    try:
        with adapter, progress(console, f"eval {split}", episodes) as bar:
            def ended(n: int) -> None:
                bar.update(completed=n)
                if on_episode is not None:
                    on_episode(n)

            trajs = collector.collect(episodes, [seed + i for i in range(envs.num_envs)], greedy=greedy,
                                      on_episode=ended)
    finally:
        envs.close()
    stats = episode_stats(trajs)
    result = {"env": cfg.env_id, "split": split, "episodes": len(trajs), "pass_rate": stats["pass_rate"],
              "avg_steps": stats["avg_steps"], "tool_call_precision": stats["tool_call_precision"],
              "tool_call_recall": stats["tool_call_recall"], "tool_call_f1": stats["tool_call_f1"],
              "mean_return": stats["mean_return"], "action_tokens": int(sum(sum(t.action_mask) for t in trajs)),
              "per_task": sorted([t.task_id, float(t.is_solved)] for t in trajs)}
    if keep_actions:
        result["actions"] = sorted([t.task_id, list(t.actions_text)] for t in trajs)
    return result
