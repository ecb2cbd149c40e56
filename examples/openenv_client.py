"""Play episodes against `steptool serve` with OpenEnv's client; needs the openenv extra.

    steptool serve StepTool-ToolBench-G1-v0 --env-kwarg split=test_instruction &     # 127.0.0.1:8000
    python examples/openenv_client.py --url http://127.0.0.1:8000 --episodes 3

The agent here replays the oracle of a local copy of the same env (so the remote step rewards can be checked
against the local ones); put your LLM's turns in `action` instead. With a token: STEPTOOL_SERVE_TOKEN=... on both.
"""

import argparse
import os

import gymnasium as gym

import steptool_gym  # noqa: F401
from steptool_gym.integrations.openenv_server import StepToolAction, StepToolEnvClient

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8000")
parser.add_argument("--env", default="StepTool-ToolBench-G1-v0")
parser.add_argument("--split", default="test_instruction")
parser.add_argument("--episodes", type=int, default=3)
args = parser.parse_args()

local = gym.make(args.env, split=args.split)
with StepToolEnvClient(args.url, token=os.environ.get("STEPTOOL_SERVE_TOKEN")).sync() as remote:
    for task_index in range(args.episodes):
        local.reset(options={"task_index": task_index})
        result = remote.reset(task_index=task_index)
        print(f"task {result.observation.task_id}: state_key {result.observation.state_key[:12]}")
        while not result.done:
            action = local.unwrapped.oracle_action().to_react()
            _, local_reward, *_ = local.step(action)
            result = remote.step(StepToolAction(action=action))
            print(f"  status {result.observation.status}  reward {result.reward:.3f} (local {local_reward:.3f})")
        print(f"  step rewards {result.observation.step_rewards}  solved {result.observation.info['is_solved']}")
