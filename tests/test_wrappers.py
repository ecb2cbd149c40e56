"""SB3 adapters: encoding and discrete-call wrappers pass SB3's checker and map indices to the right calls."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from toy_suite import make_toy_env

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym import Status
from steptool_gym.wrappers import ByteTokenizer, DiscreteToolCalls, EncodeObservation, HashingTokenizer, make_sb3_env

sb3 = pytest.importorskip("stable_baselines3", reason="the sb3 extra is not installed")
from stable_baselines3.common.env_checker import check_env  # noqa: E402

gym.register("ToyToolSB3-v0", entry_point="toy_suite:make_toy_env")


def wrapped(**kw):
    return make_sb3_env("ToyToolSB3-v0", **kw)


def test_tokenizers_are_deterministic_and_in_range():
    tok = HashingTokenizer(64)
    ids = tok.encode("What is the Temperature in Paris?")
    assert ids == tok.encode("what is the temperature in paris ?") and all(1 <= i < 64 for i in ids)
    assert ByteTokenizer().encode("é") == [0xC3 + 1, 0xA9 + 1]


def test_sb3_check_env_on_wrapped_env():
    check_env(wrapped(), warn=True)
    check_env(wrapped(context="conversation", bow_dim=0, token_ids=True, tokenizer=ByteTokenizer()), warn=True)
    assert "tokens" not in wrapped().observation_space.spaces  # MLP default: bag of words only


def test_gymnasium_check_env_on_wrapped_env():
    """Gymnasium's own checker rebuilds the env from its spec, so the wrappers record their arguments."""
    from gymnasium.utils.env_checker import check_env as gym_check_env

    env = make_sb3_env("StepTool-ToolBench-G1-v0", max_candidates=12)
    gym_check_env(env, skip_render_check=True)
    again = env.spec.make()
    assert again.action_space == env.action_space and again.observation_space == env.observation_space


ENV_IDS = sorted(i for i in gym.registry if i.startswith("StepTool-"))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_registered_env_wrapped_passes_sb3_check_env(env_id):
    from steptool_gym.errors import DataError, MissingExtraError

    try:
        env = make_sb3_env(env_id)
    except (MissingExtraError, DataError) as exc:
        pytest.skip(str(exc))
    check_env(env, warn=True)
    obs, _ = env.reset(seed=0)
    assert env.candidates and env.candidates[0].is_finish and env.observation_space.contains(obs)


def test_default_admissible_calls_fill_values_from_responses():
    from steptool_gym.admissible import default_admissible_calls

    env = make_toy_env()
    env.reset(options={"task_id": "toy-paris"})
    env.step({"name": "search_city_for_city_finder", "arguments": {"name": "Paris"}})
    calls = default_admissible_calls(env.tools, env.history)
    assert ("current_weather_for_weatherapi", {"city_id": 1}) in [(c.name, dict(c.arguments)) for c in calls]
    assert calls[-1].is_finish and "Paris" in calls[-1].arguments["final_answer"]
    assert ("search_city_for_city_finder", {"name": "Paris"}) not in [(c.name, dict(c.arguments)) for c in calls]


def test_discrete_actions_follow_admissible_calls_and_mask():
    env = wrapped(max_candidates=8)
    obs, _ = env.reset(seed=0, options={"task_id": "toy-paris"})
    calls = [(c.name, dict(c.arguments)) for c in env.candidates]
    assert calls[0][0] == "Finish" and calls[1:] == [("search_city_for_city_finder", {"name": "What"}),
                                                      ("search_city_for_city_finder", {"name": "Paris"})]
    # Finish is masked before any successful call, empty slots always.
    assert obs["action_mask"].tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
    assert env.action_masks().tolist() == [False] + [True] * 2 + [False] * 5
    obs, reward, *_ = env.step(2)  # search Paris: a gold call
    assert reward == 1.0 and env.action_masks()[0] and obs["action_mask"][0] == 1
    weather = [i for i, c in enumerate(env.candidates) if c.name.startswith("current_weather")]
    assert weather and obs["candidates"].reshape(8, -1)[weather[0], -1] == 1.0  # argument from last response
    env.step(weather[0])
    assert env.candidates[0].is_finish
    *_, terminated, _, info = env.step(0)
    assert terminated and info["is_solved"] == 1.0


def test_action_mask_rules_out_only_calls_that_cannot_succeed():
    """Over random masked play: every masked call, sent anyway, fails for good (never OK, never a retryable
    status); Finish is masked exactly while no call has succeeded; and the mask is not all ones."""
    env = make_sb3_env("StepTool-ToolBench-G1-v0", split="test_instruction")
    base, rng = env.unwrapped, np.random.default_rng(0)
    retryable = (Status.OK, Status.TIMEOUT, Status.API_NOT_WORKING, Status.TOO_MANY_REQUESTS, Status.RATE_LIMIT)
    masked = 0
    for seed in range(15):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            mask = env.action_masks()
            assert mask.any() and obs["action_mask"].tolist() == mask.astype(int).tolist()
            succeeded = any(r.status == Status.OK for r in base.history)
            for i, call in enumerate(env.candidates):
                if call.is_finish:
                    assert mask[i] == succeeded
                elif not mask[i]:
                    snapshot = base.snapshot()
                    assert base.step(call)[-1]["status"] not in retryable, call
                    base.restore(snapshot)
                    masked += 1
            obs, _, terminated, truncated, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
            done = terminated or truncated
    assert masked > 15  # decoys of other tools and failed repeats: MaskablePPO sees more than PPO


def test_action_mask_keeps_a_flaky_call_to_retry():
    from steptool_envs.toolbench.registry import build_registry

    env = make_sb3_env("StepTool-ToolBench-G1-v0")
    endpoints = build_registry(0).endpoints
    index = next(i for i, t in enumerate(env.unwrapped.suite.tasks)
                 if endpoints[t.gold.nodes[0].name].fails_first(t.gold.nodes[0].arguments))
    env.reset(seed=0, options={"task_index": index})
    gold = env.unwrapped.task.gold.calls[0]

    def slots() -> list[int]:
        return [i for i, c in enumerate(env.candidates) if (c.name, dict(c.arguments)) == (gold.name, gold.arguments)]

    *_, info = env.step(slots()[0])
    assert info["status"] in (Status.RATE_LIMIT, Status.API_NOT_WORKING, Status.TIMEOUT)
    assert slots() and env.action_masks()[slots()[0]] and not env.action_masks()[0]  # retry valid; Finish not yet


def test_empty_slot_is_an_invalid_call():
    env = wrapped(max_candidates=8)
    env.reset(seed=0, options={"task_id": "toy-paris"})
    *_, info = env.step(7)
    assert info["status"] == Status.NO_SUCH_FUNCTION


def test_reward_mode_reaches_the_wrapper_unchanged():
    env = wrapped(reward_mode="final")
    env.reset(seed=0, options={"task_id": "toy-paris"})
    assert env.step(2)[1] == 0.0


def test_wrapper_argument_validation():
    with pytest.raises(TypeError, match="EncodeObservation first"):
        DiscreteToolCalls(make_toy_env())
    with pytest.raises(ValueError, match="context"):
        EncodeObservation(make_toy_env(), context="all")


def test_encoding_is_deterministic():
    a, b = wrapped(), wrapped()
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)
