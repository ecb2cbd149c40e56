"""A two-call toy suite built from steptool_gym primitives, for fast agent tests and smoke runs.

Each task asks for the weather of a city: the gold trajectory is ``city_search(name) → weather(city_id) →
Finish(answer containing the temperature)``. The ``test`` split asks about the same cities with a held-out
phrasing (like ToolBench's test_instruction: same tools, new instructions). Intermediate calls score SC = 1
when they succeed and Con = 5 when they match the next gold call; Finish is solved when the answer holds the
temperature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from steptool_gym import API, FINISH, Catalog, Parameter, PythonBackend, Task, ToolCall, ToolError, ToolUseEnv, Verdict
from steptool_gym.backends import CallContext, CallResult

__all__ = ["TOY_ENV_ID", "ToySuite", "register_toy_env"]

TOY_ENV_ID = "AgentsToy-v0"
_CITIES = ("Paris", "Berlin", "Madrid", "Rome", "Oslo", "Tokyo", "Lima", "Cairo", "Quito", "Seoul", "Delhi",
           "Dakar", "Accra", "Sofia", "Riga", "Bern")
_PHRASING = {"train": "What is the temperature in {city} right now?", "test": "How warm is it in {city} today?"}

_SEARCH = API("Weather", "geo", "city_search", "Find a city's id by name",
              required_parameters=(Parameter("name", "STRING", "city name"),))
_WEATHER = API("Weather", "meteo", "weather", "Current temperature for a city id",
               required_parameters=(Parameter("city_id", "STRING", "id from city_search"),))


def _city_id(name: str) -> str:
    return f"c{_CITIES.index(name) + 101}"


def _temperature(name: str) -> int:
    return 5 + 3 * _CITIES.index(name) % 29


def _search(args: Mapping[str, Any], ctx: CallContext) -> Any:
    name = str(args["name"]).strip().title()
    if name not in _CITIES:
        raise ToolError(f"Unknown city {name!r}")
    return {"city_id": _city_id(name), "name": name}


def _weather(args: Mapping[str, Any], ctx: CallContext) -> Any:
    ids = {_city_id(c): c for c in _CITIES}
    if args["city_id"] not in ids:
        raise ToolError(f"Unknown city_id {args['city_id']!r}")
    return {"temperature_c": _temperature(ids[args["city_id"]])}


def _gold(city: str) -> list[ToolCall]:
    return [
        ToolCall(_SEARCH.name, {"name": city}, f"I need the id of {city}."),
        ToolCall(_WEATHER.name, {"city_id": _city_id(city)}, "Now the weather for that id."),
        ToolCall(FINISH, {"return_type": "give_answer",
                          "final_answer": f"It is {_temperature(city)} C in {city}."}, "I can answer."),
    ]


@dataclass
class _Judge:
    def start(self, task: Task) -> dict[str, int]:
        return {"next": 0}

    def judge_call(self, task: Task, state: dict[str, int], call: ToolCall, result: CallResult) -> Verdict:
        gold = task.gold[state["next"]] if state["next"] < len(task.gold) else None
        match = gold is not None and gold.name == call.name and dict(gold.arguments) == dict(call.arguments)
        if match and result.ok:
            state["next"] += 1
        return Verdict(1.0 if result.ok else 0.0, 5.0 if match and result.ok else 0.0, match)

    def progress(self, task: Task, state: dict[str, int]) -> tuple[int, int]:
        return state["next"], len(task.gold) - 1  # gold calls made, in order (Φ of reward_mode="progress")

    def judge_finish(self, task: Task, state: dict[str, int], call: ToolCall) -> float:
        answer = str(call.arguments.get("final_answer", ""))
        return 1.0 if str(task.metadata["temperature"]) in answer else 0.0


class ToySuite:
    """The toy suite for one split (``train`` or ``test``)."""

    def __init__(self, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError("split must be 'train' or 'test'")
        self.name = f"agents-toy-{split}"
        self.catalog = Catalog([_SEARCH, _WEATHER])
        self.backend = PythonBackend({_SEARCH.name: _search, _WEATHER.name: _weather})
        self.judge = _Judge()
        self.tasks = [Task(f"{split}-{c}", _PHRASING[split].format(city=c), (_SEARCH.name, _WEATHER.name), "G1",
                           split, _gold(c), {"temperature": _temperature(c)}) for c in _CITIES]

    def oracle_action(self, task: Task, state: dict[str, int]) -> ToolCall | None:
        return task.gold[min(state["next"], len(task.gold) - 1)]

    def state_key(self, task: Task, state: dict[str, int]) -> str:
        return f"{task.task_id}:{state['next']}"


def make_toy_env(split: str = "train", group: str | None = None, **kwargs: Any) -> ToolUseEnv:
    """`ToolUseEnv` over the toy suite (`group` is accepted for signature parity and ignored)."""
    return ToolUseEnv(ToySuite(split), **kwargs)


def register_toy_env() -> str:
    """Register `TOY_ENV_ID` with Gymnasium (idempotent) and return it."""
    if TOY_ENV_ID not in gym.registry:
        gym.register(id=TOY_ENV_ID, entry_point=make_toy_env)
    return TOY_ENV_ID
