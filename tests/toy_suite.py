"""A small hand-written suite for engine tests: two tools, a chained gold call, exact facts."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from steptool_gym import API, Catalog, Parameter, PythonBackend, Status, Task, ToolCall, ToolError, Verdict
from steptool_gym.backends import CallContext, CallResult

CITIES = {"paris": 1, "lyon": 2}
TEMPS = {1: 18.5, 2: 21.0}


def search_city(args: dict[str, Any], ctx: CallContext) -> Any:
    city = args["name"].lower()
    if city not in CITIES:
        return {"results": []}
    return {"results": [{"city_id": CITIES[city], "name": city.title()}]}


def weather(args: dict[str, Any], ctx: CallContext) -> Any:
    if ctx.bump(f"weather:{args['city_id']}") == 1 and args["city_id"] == 2:
        raise ToolError("Rate limit per minute error...", Status.RATE_LIMIT)
    if args["city_id"] not in TEMPS:
        raise ToolError("unknown city", Status.MESSAGE_ERROR)
    return {"temp_c": TEMPS[args["city_id"]], "units": args.get("units", "metric")}


def broken(args: dict[str, Any], ctx: CallContext) -> Any:
    raise KeyError("boom")


APIS = [
    API("Travel", "City Finder", "search city", "Find a city by name",
        (Parameter("name", "STRING", "city name", "Paris"),), (), template_response={"results": "str"}),
    API("Weather", "WeatherAPI", "current weather", "Weather for a city id",
        (Parameter("city_id", "NUMBER", "id from City Finder", 1),), (Parameter("units", "STRING", "", ""),)),
    API("Weather", "WeatherAPI", "broken endpoint", "Always fails", ()),
]


@dataclass
class ToyState:
    done: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ToyGold:
    calls: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    facts: tuple[str, ...]


class ToyJudge:
    def start(self, task: Task) -> ToyState:
        return ToyState()

    def judge_call(self, task: Task, state: ToyState, call: ToolCall, result: CallResult) -> Verdict:
        key = (call.name, tuple(sorted(call.arguments.items())))
        on_gold = key in task.gold.calls
        if not result.ok:
            return Verdict(0.0, 0.0, on_gold)
        fresh = on_gold and repr(key) not in state.done
        if fresh:
            state.done.add(repr(key))
        return Verdict(1.0, 5.0 if fresh else 1.0, on_gold)

    def progress(self, task: Task, state: ToyState) -> tuple[int, int]:
        return len(state.done), len(task.gold.calls)

    def judge_finish(self, task: Task, state: ToyState, call: ToolCall) -> float:
        answer = call.arguments.get("final_answer", "").lower()
        hits = sum(f in answer for f in task.gold.facts)
        return 1.0 if hits == len(task.gold.facts) else 0.5 if hits else 0.0


class ToySuite:
    name = "toy"

    def __init__(self) -> None:
        self.catalog = Catalog(APIS, {"City Finder": "Finds cities", "WeatherAPI": "Weather data"})
        names = tuple(a.name for a in APIS)
        self.tasks = [
            Task(f"toy-{c}", f"What is the temperature in {c.title()}?", names, "G1", "train",
                 ToyGold(((names[0], (("name", c.title()),)), (names[1], (("city_id", i),))), (str(TEMPS[i]),)))
            for c, i in CITIES.items()
        ]
        self.backend = PythonBackend({names[0]: search_city, names[1]: weather, names[2]: broken})
        self.judge = ToyJudge()

    def oracle_action(self, task: Task, state: ToyState) -> ToolCall | None:
        for name, args in task.gold.calls:
            if repr((name, args)) not in state.done:
                return ToolCall(name, dict(args), "next gold call")
        return ToolCall("Finish", {"return_type": "give_answer", "final_answer": f"It is {task.gold.facts[0]} C"})

    def admissible_calls(self, task: Task, state: ToyState, history: Any) -> list[ToolCall]:
        names = task.api_names
        words = [w.strip("?") for w in task.query.split() if w[:1].isupper()]
        seen_ids = sorted({r["city_id"] for rec in history if rec.status == Status.OK and rec.call is not None
                           and rec.call.name == names[0] for r in _results(rec.observation)})
        temps = [str(t) for rec in history if rec.call is not None and rec.call.name == names[1]
                 for t in [_temp(rec.observation)] if t is not None]
        calls = [ToolCall(names[0], {"name": w}) for w in words]
        calls += [ToolCall(names[1], {"city_id": i}) for i in seen_ids]
        calls.append(ToolCall("Finish", {"return_type": "give_answer", "final_answer": " ".join(temps) or "unknown"}))
        return calls

    def state_key(self, task: Task, state: ToyState) -> str:
        return f"{task.task_id}:{sorted(state.done)}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (load_toy, ())


def _results(observation: str) -> list[dict[str, Any]]:
    import json

    return json.loads(observation)["response"].get("results", [])


def _temp(observation: str) -> float | None:
    import json

    response = json.loads(observation)["response"]
    return response.get("temp_c") if isinstance(response, dict) else None


@functools.cache
def load_toy() -> ToySuite:
    return ToySuite()


def make_toy_env(**kwargs: Any):
    from steptool_gym import ToolUseEnv

    kwargs.setdefault("reward_mode", "step")  # engine tests check the paper's rewards by hand
    return ToolUseEnv(load_toy(), **kwargs)
