"""SB3 learning on StepTool-ToolBench-G1-v0: MaskablePPO and PPO, progress (default) vs final reward, seeds.

    python benchmarks/sb3_learning.py [--timesteps 3000] [--seeds 0 1 2] [--algos ...] [--part NAME] [--json]
    python benchmarks/sb3_learning.py --merge      # combine the --part files into sb3_learning.json

Reports greedy pass rate on the train split and on held-out `test_instruction` (mean ± std and a 95% t-interval
over seeds), beside a uniform random choice among the valid (masked) admissible calls and the scripted
``first_untried``, ``kitchen_sink`` and ``exhaust`` heuristics (`steptool_gym.test.adversaries`) on the same
held-out tasks, with env steps and wall time. Writes benchmarks/results/sb3_learning.json (or
``sb3_learning.<part>.json`` with --part, so two processes can run side by side; --merge joins them).
"""

from __future__ import annotations

import argparse
import json
import platform
from math import sqrt
from pathlib import Path

import numpy as np
import torch
from learning import mean_ci95

from steptool_gym.sb3_train import heuristic_baseline, train_sb3

ENV_ID = "StepTool-ToolBench-G1-v0"
SPLIT = "test_instruction"
HEURISTICS = ("first_untried", "kitchen_sink", "exhaust")
RESULTS = Path(__file__).parent / "results" / "sb3_learning.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=3_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--algos", nargs="+", default=["sb3-maskable-ppo", "sb3-ppo"])
    parser.add_argument("--modes", nargs="+", default=["progress", "final"])
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--part", default=None, help="write results/sb3_learning.<part>.json instead")
    parser.add_argument("--merge", action="store_true", help="join the results/sb3_learning.*.json parts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # One torch thread per process: on a small shared CPU, intra-op threads of a tiny MLP contend, not help.
    torch.set_num_threads(1)
    if args.merge:
        runs, baselines = [], {}
        for part in sorted(RESULTS.parent.glob("sb3_learning.*.json")):
            data = json.loads(part.read_text())
            runs += data["runs"]
            baselines.update(data["baselines"])
        report = _write(RESULTS, runs, baselines)
    else:
        out = RESULTS.with_name(f"sb3_learning.{args.part}.json") if args.part else RESULTS
        runs, baselines = [], {}
        for seed in args.seeds:  # seed-major, each result saved at once: a run cut short keeps whole seeds
            held = {"split": SPLIT, "reward_mode": "final"}  # IsSolved does not depend on the reward mode
            baselines[str(seed)] = {p: heuristic_baseline(ENV_ID, p, episodes=args.eval_episodes,
                                                          seed=20_000 + seed, **held) for p in HEURISTICS}
            for algo in args.algos:
                for mode in args.modes:
                    runs.append(train_sb3(algo, ENV_ID, timesteps=args.timesteps, seed=seed, reward_mode=mode,
                                          eval_episodes=args.eval_episodes))
                    _write(out, runs, baselines)
        report = _write(out, runs, baselines)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'policy':<18}{'reward':<9}{'seeds':>5}{'steps':>7}{'train':>7}{'held-out ± std [95% CI]':>32}"
          f"{'wall s':>8}")
    for t in report["table"]:
        lo, hi = t["held_out_ci95"]
        print(f"{t['algo']:<18}{t['reward_mode']:<9}{t['seeds']:>5}{t['timesteps']:>7}"
              f"{t['train_pass_rate'] if t['train_pass_rate'] is not None else float('nan'):>7.3f}"
              f"{t['held_out_pass_rate']:>11.3f} ± {t['held_out_std']:.3f} [{lo:.3f}, {hi:.3f}]"
              f"{t['train_wall_s'] or 0:>8.1f}")


def _summary(values: list[float]) -> dict[str, object]:
    """Mean, sample std and 95% Student-t interval over seeds (the interval is the mean alone for one seed)."""
    mean, half = mean_ci95(values)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"seeds": len(values), "held_out_pass_rate": mean, "held_out_std": std,
            "held_out_ci95": [mean - (half or 0.0), mean + (half or 0.0)]}


def wilson95(rate: float, n: int) -> list[float]:
    """95% Wilson interval of a rate over `n` episodes: the spread over tasks, which one seed's run still has. A pass
    rate with Unsure = 0.5 varies less than a 0/1 rate, so the interval is conservative for it."""
    z2 = 1.96 ** 2
    scale = 1 + z2 / n
    centre, half = (rate + z2 / (2 * n)) / scale, 1.96 * sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / scale
    return [centre - half, centre + half]


def _write(path: Path, runs: list[dict], baselines: dict[str, dict]) -> dict:
    table = []
    for algo in dict.fromkeys(r["algo"] for r in runs):
        for mode in dict.fromkeys(r["reward_mode"] for r in runs):
            rows = [r for r in runs if r["algo"] == algo and r["reward_mode"] == mode]
            if not rows:
                continue
            rate = float(np.mean([r["held_out"]["pass_rate"] for r in rows]))
            table.append({"algo": algo, "reward_mode": mode, "timesteps": rows[0]["timesteps"],
                          **_summary([r["held_out"]["pass_rate"] for r in rows]),
                          "held_out_episodes_ci95": wilson95(rate, sum(r["held_out"]["episodes"] for r in rows)),
                          "train_pass_rate": float(np.mean([r["train"]["pass_rate"] for r in rows])),
                          "train_wall_s": float(np.mean([r["train_wall_s"] for r in rows]))})
    seeds = sorted({str(r["seed"]) for r in runs})
    random_rates = {str(r["seed"]): r["random_held_out"]["pass_rate"] for r in runs}
    if seeds:  # baselines on the same held-out tasks (reset seeds 20000 + seed + i), one value per seed
        episodes = sum(r["random_held_out"]["episodes"] for r in runs if r["algo"] == runs[0]["algo"]
                       and r["reward_mode"] == runs[0]["reward_mode"])
        table.append({"algo": "random", "reward_mode": "-", "timesteps": 0,
                      **_summary([random_rates[s] for s in seeds]),
                      "held_out_episodes_ci95": wilson95(float(np.mean([random_rates[s] for s in seeds])), episodes),
                      "train_pass_rate": None, "train_wall_s": None})
        for policy in HEURISTICS:
            done = [s for s in seeds if policy in baselines.get(s, {})]
            if done:
                rate = float(np.mean([baselines[s][policy]["pass_rate"] for s in done]))
                n = sum(baselines[s][policy].get("episodes", 200) for s in done)
                table.append({"algo": policy, "reward_mode": "-", "timesteps": 0,
                              **_summary([baselines[s][policy]["pass_rate"] for s in done]),
                              "held_out_episodes_ci95": wilson95(rate, n),
                              "train_pass_rate": None, "train_wall_s": None})
    report = {"machine": {"python": platform.python_version(), "cores": 2, "note": "shared with other jobs"},
              "env": ENV_ID, "held_out_split": SPLIT, "table": table, "baselines": baselines, "runs": runs}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
