"""Train sb3-contrib's MaskablePPO on the synthetic ToolBench G1 suite and report held-out pass rates.

    python examples/sb3_ppo.py [--timesteps 60000] [--reward-mode progress|step|final]
"""

import argparse
import json

from steptool_gym.sb3_train import train_sb3

parser = argparse.ArgumentParser()
parser.add_argument("--algo", default="sb3-maskable-ppo")
parser.add_argument("--timesteps", type=int, default=60_000)
parser.add_argument("--reward-mode", default="progress")
args = parser.parse_args()
result = train_sb3(args.algo, "StepTool-ToolBench-G1-v0", timesteps=args.timesteps, reward_mode=args.reward_mode,
                   eval_split="test_instruction", verbose=1)
print(json.dumps(result, indent=2))
