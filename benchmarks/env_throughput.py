"""Environment throughput: oracle-action replay with rewards, single process.

    python benchmarks/env_throughput.py [--env ID ...] [--profile] [--json]

Writes benchmarks/results/env_throughput.json. The bar for StepTool-ToolBench-v0 is >= 20,000 steps/s on a
2-core machine. `--profile` prints the top functions of a cProfile run of the replay loop.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
from pathlib import Path

import gymnasium as gym

import steptool_gym
from steptool_gym.bench import env_throughput, record_oracle_actions

RESULTS = Path(__file__).parent / "results" / "env_throughput.json"
DEFAULT_IDS = ("StepTool-ToolBench-v0", "StepTool-ToolBench-G1-v0", "StepTool-ToolBench-G2-v0",
               "StepTool-ToolBench-G3-v0")


def profile(env_id: str, top: int = 15) -> None:
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    episodes = record_oracle_actions(env, 200)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        for index, actions in episodes:
            env.reset(options={"task_index": index})
            for action in actions:
                env.step(action)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="env ID (repeatable); default: the ToolBench suite")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [env_throughput(env_id, min_seconds=args.seconds) for env_id in (args.env or DEFAULT_IDS)]
    report = {"machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                          "steptool_gym": steptool_gym.__version__, "gymnasium": gym.__version__},
              "results": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'env':<28}{'steps/s':>12}{'resets/s':>12}{'peak MB':>10}")
        for r in rows:
            print(f"{r['env']:<28}{r['steps_per_s']:>12,.0f}{r['resets_per_s']:>12,.0f}{r['peak_rss_mb']:>10.1f}")
    if args.profile:
        profile(rows[0]["env"])


if __name__ == "__main__":
    main()
