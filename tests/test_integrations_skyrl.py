"""The SkyRL-Gym adapter, driven through skyrl_gym's own make/init/step, keeps the gym env's per-step rewards."""

from __future__ import annotations

import gymnasium as gym
import pytest

skyrl_gym = pytest.importorskip("skyrl_gym")

import steptool_gym  # noqa: E402,F401
from steptool_gym.integrations.skyrl import StepToolTextEnv  # noqa: E402

ENV_ID = "StepTool-ToolBench-G2-v0"


def _gym_episode(task_index: int, actions_from: str) -> tuple[list[str], list[float], list[int], str]:
    """Actions (oracle ReAct text, or a wrong call then give-up) and the gym env's own rewards and statuses."""
    env = gym.make(ENV_ID, split="test_tool")
    _, info = env.reset(options={"task_index": task_index})
    actions, rewards, statuses = [], [], []
    scripted = ['{"name": "no_such_function", "arguments": {}}',
                '{"name": "Finish", "arguments": {"return_type": "give_up_and_restart"}}']
    while True:
        action = env.unwrapped.oracle_action().to_react() if actions_from == "oracle" else scripted[len(actions)]
        actions.append(action)
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(float(reward))
        statuses.append(info["status"])
        if terminated or truncated:
            return actions, rewards, statuses, info["state_key"]


@pytest.mark.parametrize("actions_from", ["oracle", "give_up"])
@pytest.mark.parametrize("env_class", ["steptool", ENV_ID])
def test_whole_episodes_through_skyrl_gym(env_class, actions_from):
    for task_index in (0, 5):
        actions, rewards, statuses, last_key = _gym_episode(task_index, actions_from)
        env_config = {"env_id": ENV_ID, "env_kwargs": {"split": "test_tool"}} if env_class == "steptool" \
            else {"env_kwargs": {"split": "test_tool"}}
        env = skyrl_gym.make(env_class, env_config=env_config, extras={"task_index": task_index})
        assert isinstance(env, StepToolTextEnv)
        prompt = [{"role": "system", "content": "You are a tool-use agent."}]
        messages, meta = env.init(prompt)
        assert messages[0] == prompt[0] and messages[-1]["role"] == "user" and meta["state_key"]
        got = []
        for i, action in enumerate(actions):
            out = env.step(action)
            got.append(out["reward"])
            assert out["metadata"]["status"] == statuses[i]
            assert out["done"] == (i == len(actions) - 1)
            assert (out["observations"] == []) == out["done"]
        assert got == pytest.approx(rewards)  # one reward per turn, the gym env's own
        assert out["metadata"]["state_key"] == last_key
        metrics = env.get_metrics()
        assert metrics["return"] == pytest.approx(sum(rewards)) and metrics["steps"] == len(actions)
        assert metrics["solved"] == (1.0 if actions_from == "oracle" else 0.0)
        env.close()


def test_omegaconf_config_task_id_and_aggregation():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"env_id": ENV_ID, "env_kwargs": {"split": "test_tool"}})
    first = skyrl_gym.make("steptool", env_config=cfg, extras={"task_index": 2})
    _, meta = first.init([])
    by_id = skyrl_gym.make("steptool", env_config=cfg, extras={"task_id": meta["task_id"]})
    _, meta2 = by_id.init([])
    assert meta2["task_id"] == meta["task_id"] and meta2["state_key"] == meta["state_key"]
    agg = StepToolTextEnv.aggregate_metrics([{"steps": 2, "return": 1.0, "solved": 1.0},
                                             {"steps": 4, "return": 0.0, "solved": 0.0}])
    assert agg["steps"] == pytest.approx(3.0) and agg["solved"] == pytest.approx(0.5)


def test_missing_env_id_is_one_line():
    with pytest.raises(ValueError, match="needs an env ID"):
        skyrl_gym.make("steptool", env_config={}, extras={})
