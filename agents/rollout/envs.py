"""The envs a run trains and evaluates on: gym.make keyword arguments and vector-env factories from the config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from steptool_agents.config import TrainConfig
from steptool_agents.rollout.collect import make_vector_env

__all__ = ["env_factory", "env_kwargs"]


def env_kwargs(cfg: TrainConfig, split: str) -> dict[str, Any]:
    """``gym.make`` keyword arguments of `cfg`'s env on `split` (step rewards unless ``env_kwargs`` say otherwise)."""
    kwargs: dict[str, Any] = {"reward_mode": "step", **cfg.env_kwargs, "split": split, "max_steps": cfg.max_steps}
    if cfg.group is not None:
        kwargs["group"] = cfg.group
    return kwargs


def env_factory(cfg: TrainConfig, split: str) -> Callable[[int], Any]:
    """``n → vector env`` of `n` copies of `cfg`'s env on `split`."""
    return lambda n: make_vector_env(cfg.env_id, n, asynchronous=cfg.rollout.async_envs, **env_kwargs(cfg, split))
