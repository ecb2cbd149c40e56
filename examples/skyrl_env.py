"""Drive the SkyRL-Gym adapter the way SkyRL's generator does; needs the skyrl extra.

    python examples/skyrl_env.py

In a SkyRL run: import steptool_gym.integrations.skyrl in your entry point (it registers the envs), name
`environment.env_class: StepTool-ToolBench-G1-v0` (or `steptool` with `environment.skyrl_gym.steptool.env_id`),
and give each dataset row `task_id` (or `task_index`) next to its `prompt`. SkyRL puts each step's reward on the
last token of that turn, so StepTool's per-step rewards reach the policy loss unchanged.
"""

import gymnasium as gym
import skyrl_gym

import steptool_gym.integrations.skyrl  # noqa: F401 - registers "steptool" and every StepTool-* ID

ENV_ID = "StepTool-ToolBench-G1-v0"
oracle = gym.make(ENV_ID, split="test_instruction")  # stands in for the LLM: its actions as ReAct text
for task_index in range(3):
    oracle.reset(options={"task_index": task_index})
    env = skyrl_gym.make(ENV_ID, env_config={"env_kwargs": {"split": "test_instruction"}},
                         extras={"task_index": task_index})
    messages, meta = env.init([{"role": "system", "content": "Solve the task with the functions."}])
    done, rewards = False, []
    while not done:
        action = oracle.unwrapped.oracle_action().to_react()
        oracle.step(action)
        out = env.step(action)
        rewards.append(out["reward"])
        done = out["done"]
    print(meta["task_id"], "per-turn rewards", rewards, "metrics", env.get_metrics())
    env.close()
