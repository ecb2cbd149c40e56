"""The envs a run trains and evaluates on: gym.make keyword arguments and vector-env factories from the config."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

from steptool_agents import registry
from steptool_agents.config import TrainConfig
from steptool_agents.rollout.collect import make_vector_env
from steptool_gym.rewards import DEFAULT_REWARD_MODE
from steptool_gym.vector import ToolSyncVectorEnv

__all__ = ["FixedTasks", "env_factory", "env_kwargs", "fixed_task_vector_env", "learner_gamma"]


class FixedTasks(gym.Wrapper):
    """Each reset without a ``task_id`` option plays the next id of a queue shared by the sub-envs of one
    synchronous vector env (then, once it is empty, the env's own draw: an idle sub-env's episode)."""

    def __init__(self, env: gym.Env, queue: deque[str]) -> None:
        super().__init__(env)
        self.queue = queue

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        options = dict(options or {})
        if "task_id" not in options and "task_index" not in options and self.queue:
            options["task_id"] = self.queue.popleft()
        return self.env.reset(seed=seed, options=options)


def fixed_task_vector_env(env_id: str, num_envs: int, task_ids: Sequence[str], **kwargs: Any) -> gym.vector.VectorEnv:
    """A `ToolSyncVectorEnv` of `num_envs` sub-envs whose episodes play `task_ids` in order, each once (the queue is
    shared, so which sub-env plays a task does not matter: the set played is `task_ids` whatever the lengths)."""
    queue = deque(task_ids)
    return ToolSyncVectorEnv([lambda: FixedTasks(gym.make(env_id, **kwargs), queue) for _ in range(num_envs)])


def learner_gamma(cfg: TrainConfig) -> float:
    """The discount the run's learner uses (1.0 for the episode-level ones): the env's `gamma` for progress
    shaping, which is policy-invariant only when the two agree."""
    key = registry.get(cfg.algo).gamma
    return 1.0 if key is None else float(getattr(getattr(cfg, key[0]), key[1]))


def env_kwargs(cfg: TrainConfig, split: str) -> dict[str, Any]:
    """``gym.make`` keyword arguments of `cfg`'s env on `split` (the env's default reward, with the learner's
    discount, unless ``env_kwargs`` say otherwise)."""
    kwargs: dict[str, Any] = {"reward_mode": DEFAULT_REWARD_MODE, "gamma": learner_gamma(cfg), **cfg.env_kwargs,
                              "split": split, "max_steps": cfg.max_steps}
    if cfg.group is not None:
        kwargs["group"] = cfg.group
    return kwargs


def env_factory(cfg: TrainConfig, split: str) -> Callable[[int], Any]:
    """``n → vector env`` of `n` copies of `cfg`'s env on `split`."""
    return lambda n: make_vector_env(cfg.env_id, n, asynchronous=cfg.rollout.async_envs, **env_kwargs(cfg, split))
