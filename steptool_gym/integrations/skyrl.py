"""A SkyRL-Gym ``BaseTextEnv`` over any registered env that keeps StepTool's per-step rewards (extra ``[skyrl]``).

SkyRL's generator calls ``skyrl_gym.make(env_class, env_config=..., extras=row)`` per trajectory, then
``init(prompt)`` and ``step(llm_text)`` until ``done``; it places each step's ``reward`` on the last token of
that turn, so StepTool's step-grained credit reaches the trainer intact. Importing this module registers:

* ``steptool`` — the env ID comes from ``env_config.env_id`` or the row's ``env_id``;
* every ``StepTool-*`` gym ID under its own name (``env_class: StepTool-ToolBench-G1-v0``).

Row fields read from ``extras``: ``env_id``, ``task_id`` or ``task_index`` (else ``seed`` draws a task) and
``env_kwargs``; ``env_config`` may hold ``env_id`` and ``env_kwargs`` (defaults for every row).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from steptool_gym.integrations import make_env, require

require("skyrl_gym", "skyrl", "The SkyRL-Gym adapter")

import skyrl_gym  # noqa: E402
from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType  # noqa: E402

__all__ = ["StepToolTextEnv", "register_all"]

_ENTRY = "steptool_gym.integrations.skyrl:StepToolTextEnv"


def _plain(value: Any) -> dict[str, Any]:
    """A plain dict from a mapping or an OmegaConf node (SkyRL passes DictConfig)."""
    if value is None:
        return {}
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(value, DictConfig):
            return dict(OmegaConf.to_container(value, resolve=True))  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - omegaconf is a skyrl-gym dependency
        pass
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


class StepToolTextEnv(BaseTextEnv):
    """StepTool env as a SkyRL-Gym text env: text in, text out, one step reward per turn.

    ``init(prompt)`` resets the env and returns ``prompt`` followed by a user message holding the env's reset
    text (system prompt, function schemas, query); ``step(text)`` plays the model's turn (ReAct or JSON call) and
    returns the tool response as the next user message, the step's reward, ``done`` (Finish or the step limit)
    and ``metadata`` with ``status``, ``state_key``, ``reward_components`` and, at the end, ``is_solved``.
    """

    def __init__(self, env_config: Any = None, extras: Any = None, default_env_id: str | None = None) -> None:
        super().__init__()
        config, row = _plain(env_config), _plain(extras)
        env_id = row.get("env_id") or config.get("env_id") or default_env_id
        if not env_id:
            raise ValueError("StepToolTextEnv needs an env ID: env_config.env_id, the row's env_id, or a registered "
                             "StepTool-* env_class")
        env_kwargs = {**_plain(config.get("env_kwargs")), **_plain(row.get("env_kwargs"))}
        self.env_id = str(env_id)
        self.env: gym.Env = make_env(self.env_id, env_kwargs)
        self.max_turns = int(self.env.unwrapped.max_steps)
        self._options: dict[str, Any] = {}
        if row.get("task_id") is not None:
            self._options["task_id"] = str(row["task_id"])
        elif row.get("task_index") is not None:
            self._options["task_index"] = int(row["task_index"])
        self._seed = None if row.get("seed") is None else int(row["seed"])
        self.step_rewards: list[float] = []
        self.is_solved: float | None = None
        self.task_id = ""

    def init(self, prompt: ConversationType | None) -> tuple[ConversationType, dict[str, Any]]:
        text, info = self.env.reset(seed=self._seed, options=self._options or None)
        self.turns = 0
        self.step_rewards = []
        self.is_solved = None
        self.task_id = str(info.get("task_id", ""))
        messages = [*(prompt or []), {"role": "user", "content": text}]
        return messages, {"task_id": self.task_id, "state_key": info.get("state_key")}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        self.turns += 1
        text, reward, terminated, truncated, info = self.env.step(action)
        done = bool(terminated or truncated)
        self.step_rewards.append(float(reward))
        if done:
            self.is_solved = info.get("is_solved")
        metadata = {"status": int(info["status"]), "state_key": info.get("state_key"),
                    "reward_components": info.get("reward_components"), "task_id": self.task_id}
        if done:
            metadata["is_solved"] = self.is_solved
        return BaseTextEnvStepOutput(observations=[] if done else [{"role": "user", "content": text}],
                                     reward=float(reward), done=done, metadata=metadata, postprocessed_action=None)

    def get_metrics(self) -> dict[str, Any]:
        return {"steps": self.turns, "return": float(sum(self.step_rewards)),
                "solved": float(self.is_solved or 0.0)}

    def close(self) -> None:
        self.env.close()


def register_all() -> list[str]:
    """Register ``steptool`` and every ``StepTool-*`` gym ID with SkyRL-Gym (idempotent); returns the IDs."""
    import steptool_gym  # noqa: F401 - registers the gym IDs

    ids = ["steptool", *(i for i in gym.registry if i.startswith("StepTool-"))]
    for env_id in ids:
        if env_id in skyrl_gym.registry:
            continue
        kwargs = {} if env_id == "steptool" else {"default_env_id": env_id}
        skyrl_gym.register(id=env_id, entry_point=_ENTRY, kwargs=kwargs)
    return ids


register_all()
