"""Hypothesis-fuzzed actions: any input yields a status code and an in-space observation, never an exception."""

from __future__ import annotations

import json

import gymnasium as gym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import steptool_gym  # noqa: F401
from steptool_gym import Status, ToolCall
from steptool_gym.actions import ActionError, parse_action

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
react = st.builds(
    lambda t, n, a: f"Thought: {t}\nAction: {n}\nAction Input: {a}",
    st.text(max_size=50), st.text(max_size=40), st.one_of(st.text(max_size=80), json_values.map(json.dumps)),
)
actions = st.one_of(
    st.text(max_size=300),
    react,
    json_values,
    st.builds(lambda n, a: {"name": n, "arguments": a}, st.text(max_size=30), json_values),
    st.builds(lambda n, a: ToolCall(n, a), st.text(max_size=30), st.dictionaries(st.text(max_size=8), json_values)),
    st.builds(lambda a: ToolCall("Finish", a), st.dictionaries(st.sampled_from(["return_type", "final_answer", "x"]),
                                                            json_values)),
)

_ENV = gym.make("StepTool-ToolBench-v0")
_ENV.reset(seed=0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_parse_action_raises_only_action_error(action):
    try:
        call = parse_action(action)
    except ActionError as exc:
        assert exc.status in (Status.NO_SUCH_FUNCTION, Status.INPUT_ERROR)
    else:
        assert isinstance(call.name, str)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_env_step_never_raises(action):
    obs, reward, terminated, truncated, info = _ENV.step(action)
    assert _ENV.observation_space.contains(obs) and type(reward) is float
    assert info["status"] in set(Status)
    if terminated or truncated:
        _ENV.reset()
