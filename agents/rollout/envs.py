"""The envs a run trains and evaluates on: gym.make keyword arguments and vector-env factories from the config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from steptool_agents import registry
from steptool_agents.config import TrainConfig
from steptool_agents.rollout.collect import make_vector_env
from steptool_gym.rewards import DEFAULT_REWARD_MODE

__all__ = ["env_factory", "env_kwargs", "learner_gamma"]


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
