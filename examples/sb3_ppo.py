"""Train sb3-contrib's MaskablePPO on the synthetic ToolBench G1 suite, save it, report held-out pass rates.

    .venv/bin/python examples/sb3_ppo.py [--timesteps 60000] [--reward-mode progress|step|final] [--out runs/sb3_ppo]

Duration: the default 60,000 env steps take a few minutes on 2 idle CPU cores (``benchmarks/sb3_learning.py``
trains MaskablePPO for 40,000 steps in 19-204 s there) and about 25 minutes on a heavily loaded machine, plus
the greedy evaluation (3 x 200 episodes); a progress bar shows the ETA. ``--timesteps 5000`` is a short try. Writes
``OUT/<algo>.zip`` (reload with ``MaskablePPO.load``) and ``OUT/result.json`` (train and held-out greedy pass
rate, mean return, steps, and a random-policy baseline on the same held-out split).
"""

import argparse
import json

from steptool_gym.sb3_train import SB3_ALGOS, train_sb3

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--algo", default="sb3-maskable-ppo", choices=SB3_ALGOS)
parser.add_argument("--timesteps", type=int, default=60_000, help="env steps (default 60000: minutes on 2 idle cores)")
parser.add_argument("--reward-mode", default="progress", choices=("progress", "step", "final"))
parser.add_argument("--out", default="runs/sb3_ppo", help="where the model and result.json are saved")
args = parser.parse_args()
print(f"training {args.algo} for {args.timesteps:,} env steps; model and result.json go to {args.out}/")
result = train_sb3(args.algo, "StepTool-ToolBench-G1-v0", timesteps=args.timesteps, reward_mode=args.reward_mode,
                   eval_split="test_instruction", out=args.out, verbose=1)
print(json.dumps(result, indent=2))
print(f"saved {args.out}/{args.algo}.zip and {args.out}/result.json")
