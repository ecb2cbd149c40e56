"""Attacker cases: no action value crashes or stalls a step, on the toy suite and on every registered ID."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

import gymnasium as gym
import pytest
from toy_suite import load_toy

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym import Status, ToolCall, ToolUseEnv, parse_action
from steptool_gym.actions import (
    MAX_ARGUMENT_CHARS,
    MAX_ARGUMENT_DEPTH,
    MAX_ARGUMENT_NODES,
    MAX_INT_BITS,
    ActionError,
    check_arguments,
)
from steptool_gym.errors import DataError, MissingExtraError

WEATHER = "current_weather_for_weatherapi"


class _Raising:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__


class _HostileMapping(dict):
    def __contains__(self, key: object) -> bool:
        raise RuntimeError("hostile")


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


HOSTILE: list[Any] = [
    None, 0, 10**5000, -1.5, float("nan"), b"\xff\xfe", bytearray(b"x"), object(), _Raising(), [], (), {1, 2},
    {"name": 5}, {"name": WEATHER, "arguments": 5}, {"name": WEATHER, "arguments": {1: "x"}},
    {"name": WEATHER, "arguments": {"city": {1, 2}}}, {"name": WEATHER, "arguments": {"city": _Raising()}},
    {"name": WEATHER, "arguments": {"city": 10**5000}}, {"name": WEATHER, "arguments": {"city": float("inf")}},
    {"name": WEATHER, "arguments": _nested(2000)}, {"tool_calls": "x"}, {"tool_calls": [5]},
    {"role": "assistant", "content": 5, "tool_calls": [{"function": {"name": WEATHER, "arguments": "{}"}}]},
    _HostileMapping(name=WEATHER), OrderedDict(name=WEATHER, arguments={"city": "Paris"}),
    ToolCall(5, {}), ToolCall(WEATHER, 5), ToolCall(WEATHER, {1: 2}), ToolCall(WEATHER, [("city", "x")]),
    ToolCall(WEATHER, {"city": "Paris"}, thought=7), ToolCall(WEATHER, {"city": 10**5000}),
    ToolCall(WEATHER, {"city": _Raising()}), ToolCall(WEATHER, _nested(600)),
    "Action: " + WEATHER + "\nAction Input: " + "[" * 1000, '{"name": "' + WEATHER + '", "arguments": {"a": NaN}}',
    "Action: \x1b[31mred\x1b[0m\nAction Input: {}", "\ud800", "A" * (1 << 20),
]


def test_check_arguments_bounds():
    assert check_arguments({"a": [1, (2, 3)], "b": {"c": None}}) == {"a": [1, [2, 3]], "b": {"c": None}}
    assert check_arguments(_nested(MAX_ARGUMENT_DEPTH - 1)) == _nested(MAX_ARGUMENT_DEPTH - 1)
    bad = [_nested(MAX_ARGUMENT_DEPTH + 1), {"a": list(range(MAX_ARGUMENT_NODES + 1))},
           {"a": "x" * (MAX_ARGUMENT_CHARS + 1)}, {"a": 1 << (MAX_INT_BITS + 1)}, {"a": float("nan")},
           {"a": {1: 2}}, {"a": b"x"}, {"a": object()}, [("a", 1)]]
    for value in bad:
        with pytest.raises(ActionError) as info:
            check_arguments(value)
        assert info.value.status == Status.INPUT_ERROR and "\n" not in info.value.message
    # Every accepted value is JSON (and round-trips).
    ok = check_arguments({"a": [1, 2.5, True, None, "x", {"b": []}]})
    assert json.loads(json.dumps(ok)) == ok


@pytest.mark.parametrize("action", HOSTILE, ids=lambda a: type(a).__name__)
def test_hostile_actions_never_raise(action):
    env = ToolUseEnv(load_toy(), render_mode="ansi", max_observation_length=256)
    env.reset(seed=0, options={"task_id": "toy-paris"})
    start = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(action)
    assert time.perf_counter() - start < 2.0
    assert isinstance(obs, str) and env.observation_space.contains(obs)
    assert isinstance(info["status"], int)
    json.dumps(env.unwrapped.messages)  # the conversation stays JSON-serialisable
    text = env.render()
    assert "\x1b" not in text and "\ud800" not in text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    env.snapshot()


def test_parsed_toolcall_values_are_plain_json():
    call = parse_action(ToolCall(" " + WEATHER, {"city": ("a", "b")}))
    assert call.name == WEATHER and call.arguments == {"city": ["a", "b"]}
    same = ToolCall(WEATHER, {"city": "Paris"})
    assert parse_action(same) is same


def test_render_strips_terminal_escapes():
    env = ToolUseEnv(load_toy(), render_mode="ansi")
    env.reset(seed=0, options={"task_id": "toy-paris"})
    env.step("Thought: \x1b]0;title\x07 \x1b[2Jvisible\u202e\x9b31m\nAction: " + WEATHER
             + '\nAction Input: {"city": "\x1b[5m"}')
    text = env.render()
    assert not any(c in text for c in "\x1b\x07\x9b\u202e")
    assert "visible" in text and "title" not in text  # the text is kept, the control sequences go


def test_huge_response_values_render(monkeypatch):
    env = ToolUseEnv(load_toy(), max_observation_length=128)
    env.reset(seed=0, options={"task_id": "toy-paris"})
    assert env.unwrapped._render_response("", 10**6000) == '{"error": "", "response": "<int of 19932 bits>"}'
    text = env.unwrapped._render_response("", {"x": [10**6000]})
    assert text.startswith('{"error": "", "response": "<dict object>"}')
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert env.unwrapped._render_response("", cyclic).startswith('{"error": "", "response": "[[')
    assert env.unwrapped._render_response("", _Raising()) == '{"error": "", "response": "<_Raising object>"}'


def _registered() -> list[str]:
    return sorted(i for i in gym.registry if i.startswith("StepTool-"))


@pytest.mark.parametrize("env_id", _registered())
def test_hostile_actions_on_every_registered_id(env_id):
    try:
        env = gym.make(env_id, disable_env_checker=True)
    except (MissingExtraError, DataError) as exc:
        pytest.skip(str(exc))
    env.reset(seed=0)
    name = env.unwrapped.tools[0]["name"]
    for action in HOSTILE + [ToolCall(name, _nested(600)), ToolCall(name, {"x": 10**5000}),
                             {"name": name, "arguments": {k: {1: 2} for k in "abc"}}]:
        start = time.perf_counter()
        obs, _, terminated, truncated, info = env.step(action)
        assert time.perf_counter() - start < 5.0, (env_id, type(action))
        assert env.observation_space.contains(obs)
        env.unwrapped.state_key()
        if terminated or truncated:
            env.reset()


def _bfcl_math_env():
    try:
        env = gym.make("StepTool-BFCL-MultiTurn-v0", disable_env_checker=True)
    except (MissingExtraError, DataError) as exc:
        pytest.skip(str(exc))
    index = next(i for i, t in enumerate(env.unwrapped.suite.tasks) if "MathAPI" in t.gold.involved_classes)
    env.reset(seed=0, options={"task_index": index})
    return env


@pytest.mark.parametrize("call, error", [
    (ToolCall("power", {"base": 10, "exponent": 5000}), "more than 4000 digits"),
    (ToolCall("power", {"base": 7, "exponent": 10**70}), "more than 4000 digits"),
    (ToolCall("power", {"base": 2.5, "exponent": 10**70}), "exponent too large"),
    (ToolCall("logarithm", {"value": 10, "base": 3, "precision": 10**9}), "precision must be at most 1000"),
    (ToolCall("square_root", {"number": 2, "precision": 10**8}), "precision must be at most 1000"),
    (ToolCall("round_number", {"number": 5, "decimal_places": -10**9}), "decimal_places must be within"),
])
def test_bfcl_math_is_bounded(call, error):
    env = _bfcl_math_env()
    start = time.perf_counter()
    obs, _, _, _, info = env.step(call)
    assert time.perf_counter() - start < 1.0
    assert info["status"] == Status.REQUEST_ERROR and error in json.loads(obs)["error"]


def test_bfcl_big_results_and_global_state_restored():
    import decimal

    import mpmath

    env = _bfcl_math_env()
    before = (decimal.getcontext().prec, mpmath.mp.prec)
    obs, _, _, _, info = env.step(ToolCall("power", {"base": 10, "exponent": 3999}))
    assert info["status"] == Status.OK and len(obs) <= env.unwrapped.max_observation_length + 3
    obs, _, _, _, info = env.step(ToolCall("square_root", {"number": 2, "precision": 60}))
    assert "1.414213562373095048801688724209698078569671875376948073176" in obs  # 60 digits, as asked
    obs, _, _, _, _ = env.step(ToolCall("logarithm", {"value": 10, "base": 3, "precision": 40}))
    assert "2.09590327428938460429656752202" in obs  # mpmath's text at the call's precision, not the default 15 digits
    assert (decimal.getcontext().prec, mpmath.mp.prec) == before
    env.step(ToolCall("multiply", {"a": 2**255, "b": 2**255}))  # ints up to MAX_INT_BITS: no str() limit hit
    env.unwrapped.state_key()
    env.unwrapped.snapshot()
