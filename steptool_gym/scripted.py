"""Scripted agents: the suite's gold policy (oracle) and a seeded random agent.

Both implement the `Agent` protocol, ``act(env, observation, info) -> action``, where `env` is the unwrapped
`ToolUseEnv` (scripted agents may read its tools and, for the oracle, its gold).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.env import ToolUseEnv

__all__ = ["AGENTS", "Agent", "OracleAgent", "RandomAgent"]

_WORDS = ("paris", "london", "42", "best", "today", "song", "hotel", "usd", "team", "movie", "apple", "rain")


class Agent(Protocol):
    def reset(self, seed: int | None = None) -> None: ...

    def act(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any: ...


class OracleAgent:
    """Follows the suite's gold call graph (``env.oracle_action()``); proves every task solvable."""

    def reset(self, seed: int | None = None) -> None:
        return None

    def act(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> ToolCall:
        call = env.oracle_action()
        if call is None:
            raise RuntimeError(f"Suite {env.suite.name!r} has no gold trajectory for task {env.task.task_id!r}")
        return call


class RandomAgent:
    """Calls a uniformly chosen function of the task (Finish included) with schema-typed random arguments."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> ToolCall:
        rng = self.rng
        schema = env.tools[int(rng.integers(len(env.tools)))]
        if schema["name"] == FINISH:
            if rng.random() < 0.2:
                return ToolCall(FINISH, {"return_type": "give_up_and_restart"}, "random")
            answer = " ".join(str(rng.choice(_WORDS)) for _ in range(int(rng.integers(1, 6))))
            return ToolCall(FINISH, {"return_type": "give_answer", "final_answer": answer}, "random")
        params = schema["parameters"]
        args: dict[str, Any] = {}
        for key in params.get("required", []):
            args[key] = self._value(params["properties"][key])
        for key in params.get("optional", []):
            if rng.random() < 0.3:
                args[key] = self._value(params["properties"][key])
        return ToolCall(schema["name"], args, "random")

    def _value(self, prop: dict[str, Any]) -> Any:
        rng = self.rng
        if "example_value" in prop and rng.random() < 0.5:
            return prop["example_value"]
        kind = prop.get("type")
        if kind == "integer":
            return int(rng.integers(0, 100))
        if kind == "boolean":
            return bool(rng.random() < 0.5)
        return str(rng.choice(_WORDS))


AGENTS = {"oracle": OracleAgent, "random": RandomAgent}
