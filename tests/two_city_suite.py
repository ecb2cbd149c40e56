"""The toy weather suite cut to two cities (``AgentsToyTwoCity-v0``), for learning tests of the LLM trainers.

With two tasks a tiny model's short SFT warm start solves one and fails the other (it has not yet learnt to read
the city from the query): a failure that exploration plus the expert demonstration of that task can fix within a
few rounds.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from steptool_envs.toy import ToySuite
from steptool_gym import ToolUseEnv

TWO_CITY_ENV_ID = "AgentsToyTwoCity-v0"
CITIES = ("Paris", "Tokyo")


class TwoCitySuite(ToySuite):
    def __init__(self, split: str = "train") -> None:
        super().__init__(split)
        self.tasks = [t for t in self.tasks if t.task_id.split("-", 1)[1] in CITIES]


def make_two_city_env(split: str = "train", group: str | None = None, **kwargs: Any) -> ToolUseEnv:
    """`ToolUseEnv` over `TwoCitySuite` (`group` is accepted for signature parity and ignored)."""
    return ToolUseEnv(TwoCitySuite(split), **kwargs)


def register_two_city_env() -> str:
    if TWO_CITY_ENV_ID not in gym.registry:
        gym.register(id=TWO_CITY_ENV_ID, entry_point=make_two_city_env)
    return TWO_CITY_ENV_ID
