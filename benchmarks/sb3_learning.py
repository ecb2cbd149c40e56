"""SB3 learning on StepTool-ToolBench-G1-v0: MaskablePPO and PPO, progress (default) vs final reward, seeds.

    python benchmarks/sb3_learning.py [--timesteps 40000] [--seeds 0 1 2] [--json]

Reports greedy pass rate on the train split and on held-out `test_instruction`, beside a uniform random
choice among the same admissible calls, with env steps and wall time. Writes benchmarks/results/sb3_learning.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from steptool_gym.sb3_train import train_sb3

RESULTS = Path(__file__).parent / "results" / "sb3_learning.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=40_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--algos", nargs="+", default=["sb3-maskable-ppo", "sb3-ppo"])
    parser.add_argument("--modes", nargs="+", default=["progress", "final"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:  # seed-major, each result saved at once: a run cut short keeps whole seeds
        for algo in args.algos:
            for mode in args.modes:
                runs.append(train_sb3(algo, "StepTool-ToolBench-G1-v0", timesteps=args.timesteps, seed=seed,
                                      reward_mode=mode))
                _write(args, runs)
    report = _write(args, runs)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'algo':<18}{'reward':<8}{'train':>8}{'held-out':>16}{'random':>8}{'wall s':>8}")
    for t in report["table"]:
        print(f"{t['algo']:<18}{t['reward_mode']:<8}{t['train_pass_rate']:>8.3f}"
              f"{t['held_out_pass_rate']:>9.3f} ± {t['held_out_std']:.3f}{t['random_held_out']:>8.3f}"
              f"{t['train_wall_s']:>8.1f}")


def _write(args: argparse.Namespace, runs: list[dict]) -> dict:
    table = []
    for algo in args.algos:
        for mode in args.modes:
            rows = [r for r in runs if r["algo"] == algo and r["reward_mode"] == mode]
            if not rows:
                continue
            held = np.array([r["held_out"]["pass_rate"] for r in rows])
            table.append({"algo": algo, "reward_mode": mode, "seeds": len(rows), "timesteps": args.timesteps,
                          "train_pass_rate": float(np.mean([r["train"]["pass_rate"] for r in rows])),
                          "held_out_pass_rate": float(held.mean()), "held_out_std": float(held.std()),
                          "random_held_out": float(np.mean([r["random_held_out"]["pass_rate"] for r in rows])),
                          "train_wall_s": float(np.mean([r["train_wall_s"] for r in rows]))})
    report = {"machine": {"python": platform.python_version(), "cpus": 2, "note": "2-core CPU, shared"},
              "table": table, "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
