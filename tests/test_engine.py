"""Engine semantics on a small hand-written suite: parsing, naming, validation, statuses, rewards, snapshots."""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import pytest
from toy_suite import load_toy

from steptool_gym import (
    API,
    EnvInfos,
    Parameter,
    RewardComponents,
    RewardConfig,
    Status,
    TemplateSimulator,
    ToolCall,
    ToolUseEnv,
    function_name,
    parse_action,
    standardize,
)
from steptool_gym.actions import ActionError
from steptool_gym.backends import CallContext, ChainBackend
from steptool_gym.spaces import ToolText
from steptool_gym.test.api_test import check_determinism, check_fuzz, check_pickle, check_snapshot

SEARCH = "search_city_for_city_finder"
WEATHER = "current_weather_for_weatherapi"
BROKEN = "broken_endpoint_for_weatherapi"

gym.register("ToyTool-v0", entry_point="toy_suite:make_toy_env")


def make(**kw):
    env = ToolUseEnv(load_toy(), **{"reward_mode": "step", **kw})  # engine tests check the paper's rewards
    env.reset(seed=0, options={"task_id": "toy-paris"})
    return env


# ----------------------------------------------------------------------------------------------- actions
def test_parse_react_thought_name_and_arguments():
    call = parse_action('Thought: find it\nAction: search_city_for_city_finder\nAction Input: {"name": "Paris"}')
    assert call == ToolCall(SEARCH, {"name": "Paris"}, "find it")


def test_parse_react_tolerates_trailing_text_and_empty_input():
    assert parse_action('Action: f\nAction Input: {"a": 1}\nObservation: ...').arguments == {"a": 1}
    assert parse_action("Action: f\nAction Input: ").arguments == {}
    assert parse_action("Thought: t\nAction: f").name == "f"


@pytest.mark.parametrize(
    "action",
    [
        {"name": SEARCH, "arguments": {"name": "Paris"}},
        {"name": SEARCH, "arguments": '{"name": "Paris"}'},
        json.dumps({"name": SEARCH, "arguments": {"name": "Paris"}}),
        {"type": "function", "function": {"name": SEARCH, "arguments": '{"name": "Paris"}'}},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": SEARCH, "arguments": '{"name": "Paris"}'}}]},
        ToolCall(SEARCH, {"name": "Paris"}),
    ],
)
def test_every_action_form_parses_to_the_same_call(action):
    call = parse_action(action)
    assert (call.name, dict(call.arguments)) == (SEARCH, {"name": "Paris"})


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("no action here", Status.NO_SUCH_FUNCTION),
        ("Action: f\nAction Input: {bad", Status.INPUT_ERROR),
        ("Action: f\nAction Input: [1]", Status.INPUT_ERROR),
        ("{oops", Status.INPUT_ERROR),
        ({"arguments": {}}, Status.NO_SUCH_FUNCTION),
        (3.5, Status.NO_SUCH_FUNCTION),
        ("Action: f\nAction Input: " + "[" * 10000, Status.INPUT_ERROR),
    ],
)
def test_malformed_actions_raise_action_error_with_toolbench_status(action, status):
    with pytest.raises(ActionError) as err:
        parse_action(action)
    assert err.value.status == status


def test_react_round_trip():
    call = ToolCall(WEATHER, {"city_id": 2, "units": "metric"}, "then weather")
    assert parse_action(call.to_react()) == call


# ----------------------------------------------------------------------------------------------- catalog
@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Songkick concert", "songkick_concert"), ("  Get--Data!! ", "get_data"), ("3D Models", "get_3d_models"),
     ("__x__", "x"), ("Éclair", "clair"), ("中文 API", "中文_api")],
)
def test_standardize_follows_toolbench(raw, expected):
    assert standardize(raw) == expected


def test_function_name_reserved_words_and_64_char_cap():
    assert function_name("id", "My Tool") == "is_id_for_my_tool"
    assert function_name("from", "x") == "is_from_for_x"
    long = function_name("a" * 80, "tool")
    assert len(long) == 64 and long.endswith("_for_tool")


def test_openai_schema_matches_toolbench_layout():
    api = API.from_dict({
        "category_name": "Data", "tool_name": "TheClique", "api_name": "Songkick concert",
        "api_description": "Concert info for Songkick concert " + "x" * 400,
        "required_parameters": [{"name": "id_conc", "type": "string", "description": "d" * 300, "default": "abc"}],
        "optional_parameters": [{"name": "Page", "type": "NUMBER", "description": "", "default": ""}],
        "method": "GET",
    })
    schema = api.to_openai()
    assert schema["name"] == "songkick_concert_for_theclique"
    assert schema["description"].startswith('This is the subfunction for tool "theclique", you can use this tool.')
    assert "songkick_concert_for_theclique" in schema["description"]  # api name replaced by the function name
    props = schema["parameters"]["properties"]
    assert props["id_conc"] == {"type": "string", "description": "d" * 256, "example_value": "abc"}
    assert props["page"] == {"type": "integer", "description": ""}
    assert schema["parameters"]["required"] == ["id_conc"] and schema["parameters"]["optional"] == ["page"]


def test_validation_messages():
    api = load_toy().catalog[WEATHER]
    assert api.validate({"city_id": 1}) is None
    assert "Missing required parameter 'city_id'" in api.validate({})
    assert "must be of type integer" in api.validate({"city_id": "1"})
    assert api.validate({"city_id": "1"}, strict=False) is None
    assert "Unexpected parameter 'foo'" in api.validate({"city_id": 1, "foo": 2})
    assert "must be of type integer" in api.validate({"city_id": True})


# ----------------------------------------------------------------------------------------------- rewards
def test_paper_normalised_reward_formula():
    cfg = RewardConfig("step")
    assert cfg(RewardComponents(1, 5)) == pytest.approx((1 + 5 / 5) / 2)
    assert cfg(RewardComponents(1, 3)) == pytest.approx((1 + 3 / 5) / 2)  # 0.8
    assert cfg(RewardComponents(0, 0)) == 0.0
    assert cfg(RewardComponents(0, 0, 0.5)) == 0.5
    assert RewardConfig("step", alpha=3.0)(RewardComponents(1, 2)) == pytest.approx((3 + 0.4) / 4)


@pytest.mark.parametrize(
    ("mode", "intermediate", "final"),
    [("step", 0.8, 1.0), ("final", 0.0, 1.0), ("step_only", 0.8, 0.0), ("sc_only", 1.0, 1.0), ("con_only", 0.6, 1.0)],
)
def test_reward_modes(mode, intermediate, final):
    cfg = RewardConfig(mode)
    assert cfg(RewardComponents(1, 3)) == pytest.approx(intermediate)
    assert cfg(RewardComponents(0, 0, 1.0)) == pytest.approx(final)


def test_reward_config_rejects_bad_values():
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        RewardConfig("dense")
    with pytest.raises(ValueError, match="alpha"):
        RewardConfig(alpha=-1)


def test_custom_reward_fn_plugs_in():
    env = make(reward_fn=lambda c: 10.0 * c.sc)
    assert env.step(ToolCall(SEARCH, {"name": "Paris"}))[1] == 10.0


# ----------------------------------------------------------------------------------------------- env
def test_gold_episode_rewards_statuses_and_components():
    env = make()
    obs, r, term, trunc, info = env.step(ToolCall(SEARCH, {"name": "Paris"}))
    assert (r, term, trunc, info["status"]) == (1.0, False, False, Status.OK)
    assert info["reward_components"] == {"SC": 1.0, "Con": 5.0, "IsSolved": None} and info["gold_call"] is True
    assert json.loads(obs) == {"error": "", "response": {"results": [{"city_id": 1, "name": "Paris"}]}}
    obs, r, *_ = env.step(ToolCall(SEARCH, {"name": "Paris"}))  # a repeat: success, small contribution
    assert r == pytest.approx((1 + 1 / 5) / 2)
    env.step(ToolCall(WEATHER, {"city_id": 1}))
    obs, r, term, trunc, info = env.step(ToolCall("Finish", {"return_type": "give_answer", "final_answer": "18.5 C"}))
    assert (r, term, trunc, info["status"], info["is_solved"]) == (1.0, True, False, Status.FINAL_ANSWER, 1.0)
    assert json.loads(obs)["response"] == "successfully giving the final answer."


def test_error_statuses_score_zero_and_never_raise():
    env = make()
    cases = [
        ("Action: nope\nAction Input: {}", Status.NO_SUCH_FUNCTION, "No such function name: nope"),
        (ToolCall(WEATHER, {}), Status.INPUT_ERROR, "Missing required parameter"),
        (ToolCall(WEATHER, {"city_id": "x"}), Status.INPUT_ERROR, "must be of type integer"),
        (ToolCall(WEATHER, {"city_id": 9}), Status.MESSAGE_ERROR, "unknown city"),
        (ToolCall(BROKEN, {}), Status.REQUEST_ERROR, "KeyError"),
        (ToolCall("Finish", {}), Status.INPUT_ERROR, "return_type"),
    ]
    for action, status, message in cases:
        obs, r, term, trunc, info = env.step(action)
        assert info["status"] == status and message in json.loads(obs)["error"] and r == 0.0 and not term


def test_flaky_api_fails_first_then_succeeds_and_snapshot_replays_it():
    env = make()
    env.reset(options={"task_id": "toy-lyon"})
    snap = env.snapshot()
    first = env.step(ToolCall(WEATHER, {"city_id": 2}))
    assert first[4]["status"] == Status.RATE_LIMIT and first[1] == 0.0
    assert env.step(ToolCall(WEATHER, {"city_id": 2}))[4]["status"] == Status.OK
    env.restore(snap)
    assert env.step(ToolCall(WEATHER, {"city_id": 2}))[4]["status"] == Status.RATE_LIMIT


def test_give_up_terminates_unsolved_and_partial_answer_is_unsure():
    env = make()
    *_, term, _, info = env.step(ToolCall("Finish", {"return_type": "give_up_and_restart"}))
    assert term and info["status"] == Status.GIVE_UP and info["is_solved"] == 0.0


def test_truncation_after_max_steps():
    env = make(max_steps=2)
    assert env.step("junk")[3] is False
    obs, r, term, trunc, info = env.step("junk")
    assert (term, trunc, info["is_solved"]) == (False, True, 0.0)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("junk")


def test_observation_truncated_like_toolbench():
    env = make(max_observation_length=20)
    obs = env.step(ToolCall(SEARCH, {"name": "Paris"}))[0]
    assert len(obs) == 23 and obs.endswith("...")


def test_messages_and_tools_without_reparsing():
    env = make(infos=["messages", "tools", "task"])
    _, info = env.reset(seed=0, options={"task_id": "toy-paris"})
    assert [t["name"] for t in info["tools"]] == [SEARCH, WEATHER, BROKEN, "Finish"]
    assert info["task"]["task_id"] == "toy-paris"
    *_, info = env.step(ToolCall(SEARCH, {"name": "Paris"}, "look up"))
    roles = [m["role"] for m in info["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert info["messages"][2]["tool_calls"][0]["function"]["name"] == SEARCH
    assert "Specifically, you have access to the following APIs" in info["messages"][0]["content"]
    *_, info = env.step("gibberish")
    assert info["messages"][-1] == {"role": "user", "content": env.history[-1].observation}


def test_env_infos_validation():
    assert EnvInfos.coerce({"messages": True}).messages
    with pytest.raises(ValueError, match="Unknown info key"):
        EnvInfos.coerce(["messgaes"])


def test_state_key_is_in_every_info_by_default_and_can_be_dropped():
    env = ToolUseEnv(load_toy())
    _, info = env.reset(seed=0, options={"task_id": "toy-paris"})
    start = info["state_key"]
    assert start == env.state_key()
    *_, info = env.step(ToolCall(SEARCH, {"name": "Paris"}))
    assert info["state_key"] == env.state_key() != start
    assert "state_key" in make(infos=["messages"]).step("junk")[-1]  # naming other keys keeps the default
    quiet = make(infos=EnvInfos(state_key=False))
    assert "state_key" not in quiet.reset(seed=0)[1] and "state_key" not in quiet.step("junk")[-1]


def test_text_space_accepts_real_tool_output():
    space = ToolText(1024)
    assert space.contains("") and space.contains("naïve 中文 🙂 \x00") and not space.contains("x" * 1025)
    assert not space.contains(b"bytes")


def test_reset_task_selection_and_errors():
    env = make()
    assert env.reset(options={"task_index": 1})[1]["task_id"] == "toy-lyon"
    with pytest.raises(ValueError, match="Unknown task_id"):
        env.reset(options={"task_id": "nope"})
    seq = [env.reset(seed=5)[1]["task_id"] for _ in range(2)]
    assert seq == [env.reset(seed=5)[1]["task_id"] for _ in range(2)]


def test_constructor_validation():
    with pytest.raises(ValueError, match="max_steps"):
        ToolUseEnv(load_toy(), max_steps=0)
    with pytest.raises(ValueError, match="render_mode"):
        ToolUseEnv(load_toy(), render_mode="rgb")


def test_render_ansi():
    env = make(render_mode="ansi")
    env.step(ToolCall(SEARCH, {"name": "Paris"}))
    text = env.render()
    assert "toy-paris" in text and "OK" in text


def test_pickle_is_by_reference_and_small():
    env = make()
    env.step(ToolCall(SEARCH, {"name": "Paris"}))
    clone = pickle.loads(pickle.dumps(env))
    assert clone.suite is env.suite and clone.history == env.history


def test_battery_on_toy_env():
    check_determinism(lambda: gym.make("ToyTool-v0"))
    check_pickle(lambda: gym.make("ToyTool-v0"))
    check_snapshot(lambda: gym.make("ToyTool-v0"))
    assert check_fuzz(gym.make("ToyTool-v0")) > 20


# ----------------------------------------------------------------------------------------------- backends
def test_template_simulator_is_deterministic_and_shaped():
    api = API.from_dict({"tool_name": "T", "api_name": "a", "template_response": {
        "name": "str", "n": "int", "items": [{"id": "str", "_list_length": 5}], "tags": ["list of str with length 8"]}})
    sim = TemplateSimulator(max_list=3)
    a = sim.call(api, {"q": "x"}, CallContext())
    assert a == sim.call(api, {"q": "x"}, CallContext()) and a.ok
    assert a.response != sim.call(api, {"q": "y"}, CallContext()).response
    assert len(a.response["items"]) == 3 and isinstance(a.response["n"], int) and len(a.response["tags"]) == 3


def test_chain_backend_falls_through_to_last_resort():
    class Miss:
        name = "miss"

        def call(self, api, arguments, context):
            return None

    api = API.from_dict({"tool_name": "T", "api_name": "a"})
    assert ChainBackend([Miss(), TemplateSimulator()]).call(api, {}, CallContext()).backend == "template"
    assert ChainBackend([Miss()]).call(api, {}, CallContext()).status == Status.API_NOT_WORKING


def test_python_backend_timeout_becomes_status():
    import time

    from steptool_gym import PythonBackend

    api = API("c", "T", "slow", "", ())
    backend = PythonBackend({api.name: lambda a, c: time.sleep(2)}, timeout_s=0.05)
    t0 = time.perf_counter()
    result = backend.call(api, {}, CallContext())
    assert result.status == Status.TIMEOUT and time.perf_counter() - t0 < 1.0


def test_parameter_key_standardised():
    assert Parameter("Page Size").key == "page_size" and Parameter("from").key == "is_from"


def test_progress_mode_is_potential_shaping_with_a_terminal_zero():
    cfg = RewardConfig("progress", gamma=0.9, step_cost=0.05)
    assert RewardConfig().mode == "progress"
    assert cfg(RewardComponents(1, 5, None, 0.0, 0.5)) == pytest.approx(0.9 * 0.5 - 0.0 - 0.05)
    assert cfg(RewardComponents(1, 0, None, 0.5, 0.5)) == pytest.approx(-0.05 * 1 - 0.1 * 0.5)  # a repeat: < 0
    assert cfg(RewardComponents(0, 0, 1.0, 1.0, 0.0)) == pytest.approx(1.0 - 1.0 - 0.05)
    with pytest.raises(ValueError, match="gamma"):
        RewardConfig(gamma=1.5)
    with pytest.raises(ValueError, match="step_cost"):
        RewardConfig(step_cost=-1)
