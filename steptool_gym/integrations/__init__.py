"""Adapters to the engines users scale out with; each lives in its own module and needs its own extra.

* `steptool_gym.integrations.trl` — TRL's ``GRPOTrainer(environment_factory=...)`` (``[trl]``).
* `steptool_gym.integrations.openenv_server` — an OpenEnv-compatible HTTP/WebSocket server, ``steptool serve``
  (``[openenv]``).
* `steptool_gym.integrations.skyrl` — a SkyRL-Gym ``BaseTextEnv`` that keeps the per-step rewards (``[skyrl]``).

Importing a module whose extra is missing raises `steptool_gym.errors.MissingExtraError`, one line naming it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import gymnasium as gym

from steptool_gym.errors import MissingExtraError

__all__ = ["make_env", "require", "task_ids"]


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module` or raise `MissingExtraError` naming `extra` (one line)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        raise MissingExtraError(feature, extra, missing) from None


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """`gym.make` of a registered StepTool env; an unknown ID raises one line naming ``steptool envs``."""
    import steptool_gym  # noqa: F401 - registers the envs

    if env_id not in gym.registry and ":" not in env_id:
        raise ValueError(f"unknown env {env_id!r}; run 'steptool envs' for the registered IDs")
    return gym.make(env_id, disable_env_checker=True, **(env_kwargs or {}))


def task_ids(env: gym.Env) -> list[str]:
    """The task IDs of an env's suite, in task-index order (``reset(options={"task_index": i})`` plays task i)."""
    return [task.task_id for task in env.unwrapped.suite.tasks]
