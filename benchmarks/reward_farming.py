"""Reward farming: the adversary battery per suite/group, mean return per reward mode × policy.

    python benchmarks/reward_farming.py [--tasks 50] [--ids StepTool-ToolBench-G1-v0 ...] [--json]

Each registered env (with no kwargs, so under its default reward) runs the oracle and every adversary of
`steptool_gym.test.adversaries` on the first `--tasks` tasks the oracle solves; each episode's return is
recomputed under every reward mode from its judged components (the policies do not depend on the reward).
Reports per suite: mean return per mode × policy, the share of tasks where an adversary earns >= the oracle
(under the default mode this must be 0; tasks an instant Finish solves and an adversary's episode that replays the
oracle's own are left out, and listed), solve rates, and on 200 seeded draws of held-out ToolBench G1/G2 splits
(``--draws``) the solve and pass rates of the first-untried, kitchen-sink and exhaust heuristics, of random valid
discrete actions, and of the oracle's calls answered through the discrete Finish candidate. Writes
benchmarks/results/reward_farming.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from common import machine_info, package_versions
from rich.progress import Progress

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.errors import DataError, MissingExtraError
from steptool_gym.rewards import DEFAULT_REWARD_MODE, REWARD_MODES
from steptool_gym.sb3_train import heuristic_baseline, random_baseline
from steptool_gym.test.adversaries import ADVERSARIES, POLICIES, battery

RESULTS = Path(__file__).parent / "results" / "reward_farming.json"
# (g), (h), the brute-force probe and the space's ceiling (the oracle's calls, then the admissible Finish).
HEURISTICS = ("first_untried", "kitchen_sink", "exhaust", "oracle_finish")
HELD_OUT_SEED = 20_000  # the SB3 benchmark's held-out draws (reset seeds 20000 + i)


def held_out_heuristics(group: str, split: str, draws: int) -> dict:
    """Solve rate (IsSolved = 1) and pass rate (mean IsSolved, Unsure = 0.5) of each heuristic and of a uniform
    choice among the discrete wrapper's valid calls, on `draws` seeded random draws of a held-out split."""
    env_id, kwargs = f"StepTool-ToolBench-{group}-v0", {"split": split, "reward_mode": "final"}
    rates = {p: heuristic_baseline(env_id, p, episodes=draws, seed=HELD_OUT_SEED, **kwargs) for p in HEURISTICS}
    rates["random"] = random_baseline(env_id, episodes=draws, seed=HELD_OUT_SEED, **kwargs)
    return {"group": group, "split": split, "draws": draws,
            **{p: {"solve_rate": r["solve_rate"], "pass_rate": r["pass_rate"]} for p, r in rates.items()}}


def summarise(env_id: str, results: dict[str, list]) -> dict:
    oracle = results["oracle"]
    trivial = {r.task_index for r in results["empty"] if r.solved >= 1.0}
    table = {mode: {p: float(np.mean([r.returns[mode] for r in results[p]])) for p in POLICIES}
             for mode in REWARD_MODES}
    beats = {mode: {p: float(np.mean([a.returns[mode] >= o.returns[mode] for a, o in zip(results[p], oracle)
                                      if o.task_index not in trivial and not a.replays(o)] or [0.0]))
                    for p in ADVERSARIES} for mode in REWARD_MODES}
    replays = {p: [a.task_index for a, o in zip(results[p], oracle) if o.task_index not in trivial and a.replays(o)]
               for p in ADVERSARIES}
    return {"env_id": env_id, "tasks": len(oracle), "trivial_tasks": sorted(trivial), "mean_return": table,
            "adversary_ge_oracle": beats, "replays_oracle": {p: t for p, t in replays.items() if t},
            "solve_rate": {p: float(np.mean([r.solved >= 1.0 for r in results[p]])) for p in POLICIES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--ids", nargs="+", default=None)
    parser.add_argument("--heuristics", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the held-out G1/G2 heuristic solve rates")
    parser.add_argument("--draws", type=int, default=200, help="seeded held-out draws per heuristic group/split")
    parser.add_argument("--merge", action="store_true", help="keep suites of an earlier result file not rerun")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ids = args.ids or ["StepTool-ToolBench-G1-v0", "StepTool-ToolBench-G2-v0", "StepTool-ToolBench-G3-v0",
                       "StepTool-StableToolBench-v0", "StepTool-BFCL-MultiTurn-v0", "StepTool-Tau2-Airline-v0",
                       "StepTool-Tau2-Retail-v0"]
    suites, heuristics, skipped = [], [], {}
    earlier = json.loads(RESULTS.read_text()) if args.merge and RESULTS.exists() else {}
    start = time.perf_counter()

    def save() -> dict:
        kept = [s for s in earlier.get("suites", []) if s["env_id"] not in {x["env_id"] for x in suites}]
        report = {"machine": machine_info(), "versions": package_versions(), "default_mode": DEFAULT_REWARD_MODE,
                  "tasks_per_suite": args.tasks, "wall_s": round(time.perf_counter() - start, 1),
                  "suites": kept + suites, "heuristics": heuristics or earlier.get("heuristics", []),
                  "skipped": skipped}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")  # after every suite: a cut-short run keeps them
        return report

    with Progress() as progress:
        bar = progress.add_task("battery", total=len(ids) + 4)
        for env_id in ids:
            try:
                gym.make(env_id).close()
            except (MissingExtraError, DataError) as exc:
                skipped[env_id] = str(exc)
                progress.advance(bar)
                continue
            suites.append(summarise(env_id, battery(env_id, n_tasks=args.tasks)))
            save()
            progress.advance(bar)
        for group in ("G1", "G2") if args.heuristics else ():
            for split in ("test_instruction", "test_tool"):
                heuristics.append(held_out_heuristics(group, split, args.draws))
                save()
                progress.advance(bar)
    report = save()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for s in report["suites"]:
        print(f"\n{s['env_id']} ({s['tasks']} tasks; {len(s['trivial_tasks'])} solved by an instant Finish)")
        print(f"{'mode':<10}" + "".join(f"{p[:10]:>11}" for p in POLICIES))
        for mode, row in s["mean_return"].items():
            print(f"{mode:<10}" + "".join(f"{row[p]:>11.3f}" for p in POLICIES))
    for h in report["heuristics"]:
        print(f"{h['group']} {h['split']} ({h['draws']} draws), solve / pass rate: " + ", ".join(
            f"{p} {h[p]['solve_rate']:.3f} / {h[p]['pass_rate']:.3f}" for p in (*HEURISTICS, "random")))


if __name__ == "__main__":
    main()
