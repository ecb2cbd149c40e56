"""Environment throughput: every suite next to its own floor, Sync/Async vector-env scaling, action parsing.

    python benchmarks/env_throughput.py [--env ID ...] [--vector-env ID ...] [--num-envs 1 2 4]
                                        [--sections single vector parse] [--seconds S] [--repeats N]
                                        [--note TEXT] [--profile] [--json]

* single (`steptool_gym.bench.env_throughput`), one env per suite by default: the oracle's actions as ReAct
  text with seeded resets, with rewards and the default infos, in one unwrapped env: steps per CPU-second and per
  wall-second; the suite's floor on the same actions (each action parsed and its tool function called directly,
  `Suite.floor_caller`) in the same rounds, and env/floor ratios; medians of `--repeats` rounds (3). Also
  resets/s (seeded), the state key's share of a step, snapshot/restore ms and peak RSS.
* vector: per suite, one env in a plain loop (``single``, the baseline) next to Gymnasium's `SyncVectorEnv`
  (``sync``), `ToolSyncVectorEnv` (``make_vec``: what ``gym.make_vec(ID, N)`` builds) and `AsyncVectorEnv`
  (``async``, ``shared_memory=False``) with 1, 2, 4 copies, driven by the oracle's actions as ReAct text,
  autoresets included, in `--repeats` interleaved rounds: medians of sub-env steps per wall- and CPU-second,
  ``vs_single`` (steps per CPU-second over the single env's in the same round; wall-clock for ``async``, whose
  workers' CPU is not counted), start-up time and memory.
* latency: ``sync`` vs ``async`` with 4 copies of `--latency-env` and a simulated per-step tool latency
  (`--latencies` ms): where worker processes start to pay (the crossover).
* parse: microseconds per `parse_action` call for ReAct text, JSON text, a call dict and an OpenAI message.

Writes benchmarks/results/env_throughput.json with the machine, package versions and `--note` (e.g. that the
machine was shared) per section in ``measured_on``; sections not run keep their earlier figures. `--profile`
prints the top functions of a cProfile run of the single-process loop.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
from common import machine_info, package_versions

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.bench import action_parse_cost, env_throughput, record_oracle_actions, vector_throughput
from steptool_gym.errors import DataError, MissingExtraError

RESULTS = Path(__file__).parent / "results" / "env_throughput.json"
DEFAULT_IDS = ("StepTool-ToolBench-v0", "StepTool-StableToolBench-v0", "StepTool-BFCL-MultiTurn-v0",
               "StepTool-Tau2-Airline-v0", "StepTool-Tau2-Retail-v0")  # one per suite (τ²: both domains)
VECTOR_IDS = ("StepTool-ToolBench-v0", "StepTool-StableToolBench-v0", "StepTool-BFCL-MultiTurn-v0",
              "StepTool-Tau2-Airline-v0", "StepTool-Tau2-Retail-v0")  # one per suite
SECTIONS = ("single", "vector", "latency", "parse")


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


def _available(ids: list[str] | tuple[str, ...], skipped: dict[str, str]) -> list[str]:
    """The ids whose suite loads here; the others go to `skipped` with the reason (missing extra or data)."""
    out = []
    for env_id in ids:
        try:
            gym.make(env_id, disable_env_checker=True).close()
            out.append(env_id)
        except (MissingExtraError, DataError) as exc:
            skipped[env_id] = str(exc).splitlines()[0]
    return out


def _median_row(rows: list[dict[str, Any]], base: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of one configuration's rounds, with its ratio to the single env of the same rounds."""
    median = statistics.median
    wall = rows[0]["vectorizer"] == "async"  # the workers' CPU is not in this process's clock
    key = "steps_per_s" if wall else "steps_per_cpu_s"
    out = {**rows[len(rows) // 2], "repeats": len(rows)}
    for k in ("steps_per_s", "steps_per_cpu_s", "vector_steps_per_s", "startup_s"):
        out[k] = median(r[k] for r in rows)
    out["vs_single"] = median(r[key] / b[key] for r, b in zip(rows, base, strict=True))
    out["vs_single_clock"] = "wall" if wall else "cpu"
    return out


def vector_section(ids: list[str], num_envs: list[int], seconds: float, repeats: int) -> list[dict[str, Any]]:
    configs = [("single", 1)] + [(v, n) for v in ("sync", "make_vec", "async") for n in num_envs]
    out = []
    for env_id in ids:
        rounds: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in configs}
        for _ in range(repeats):  # interleaved, so every configuration meets the same machine load
            for vectorizer, n in configs:
                rounds[(vectorizer, n)].append(vector_throughput(env_id, n, vectorizer, min_seconds=seconds))
        out += [_median_row(rows, rounds[("single", 1)]) for rows in rounds.values()]
    return out


def latency_section(env_id: str, latencies: list[float], seconds: float, repeats: int) -> list[dict[str, Any]]:
    out = []
    for latency in latencies:
        rows: dict[str, list[dict[str, Any]]] = {"sync": [], "async": []}
        for _ in range(repeats):  # interleaved rounds
            for vectorizer, runs in rows.items():
                runs.append(vector_throughput(env_id, 4, vectorizer, min_seconds=seconds, latency_ms=latency))
        ratio = statistics.median(a["steps_per_s"] / b["steps_per_s"] for a, b in zip(rows["async"], rows["sync"]))
        out += [{**runs[0], "steps_per_s": statistics.median(r["steps_per_s"] for r in runs), "repeats": repeats,
                 "async_over_sync": ratio} for runs in rows.values()]
    return out


def _print_tables(report: dict[str, Any]) -> None:
    if report.get("results"):
        print(f"{'env':<30}{'steps/CPU-s':>12}{'steps/s':>10}{'floor/CPU-s':>12}{'ratio':>7}{'resets/s':>10}"
              f"{'key %':>7}{'snap ms':>8}{'rest ms':>8}{'MB':>7}")
        for r in report["results"]:
            floor, ratio = r.get("floor_steps_per_cpu_s"), r.get("floor_ratio_cpu")
            print(f"{r['env']:<30}{r['steps_per_cpu_s']:>12,.0f}{r['steps_per_s']:>10,.0f}"
                  f"{(f'{floor:,.0f}' if floor else '-'):>12}{(f'{ratio:.2f}' if ratio else '-'):>7}"
                  f"{r['resets_per_s']:>10,.0f}{100 * r['state_key_share']:>7.0f}{r['snapshot_ms']:>8.2f}"
                  f"{r['restore_ms']:>8.2f}{r['peak_rss_mb']:>7.0f}")
    if report.get("vector_scaling"):
        print(f"\n{'env':<30}{'vector':<9}{'N':>3}{'steps/s':>10}{'steps/CPU-s':>12}{'vs single':>10}{'start s':>9}"
              f"{'main MB':>9}{'workers MB':>11}")
        for r in report["vector_scaling"]:
            workers = f"{r['workers_peak_rss_mb']:.0f}" if r["workers_peak_rss_mb"] is not None else "-"
            print(f"{r['env']:<30}{r['vectorizer']:<9}{r['num_envs']:>3}{r['steps_per_s']:>10,.0f}"
                  f"{r['steps_per_cpu_s']:>12,.0f}{r['vs_single']:>9.2f}x{r['startup_s']:>9.2f}"
                  f"{r['main_rss_mb'] or 0:>9.0f}{workers:>11}")
    if report.get("latency_crossover"):
        print(f"\n{'env':<30}{'latency ms':>11}{'vector':>8}{'steps/s':>10}{'async/sync':>11}")
        for r in report["latency_crossover"]:
            print(f"{r['env']:<30}{r['latency_ms']:>11.2f}{r['vectorizer']:>8}{r['steps_per_s']:>10,.0f}"
                  f"{r['async_over_sync']:>10.2f}x")
    if report.get("action_parsing"):
        print(f"\n{'env':<28}{'ReAct µs':>10}{'JSON µs':>10}{'dict µs':>10}{'OpenAI µs':>11}")
        for r in report["action_parsing"]:
            print(f"{r['env']:<28}{r['react_text_us']:>10.2f}{r['json_text_us']:>10.2f}{r['dict_us']:>10.2f}"
                  f"{r['openai_message_us']:>11.2f}")
    for env_id, why in report.get("skipped", {}).items():
        print(f"skipped {env_id}: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="single-process env ID (repeatable); default: ToolBench")
    parser.add_argument("--vector-env", action="append", help="vector-scaling env ID (repeatable); default: "
                        "one env per suite")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-env", default="StepTool-ToolBench-v0")
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0, 3.0],
                        help="simulated per-step tool latency in ms (latency section)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timed (CPU) seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per single-process env (medians)")
    parser.add_argument("--note", default="", help="recorded with the machine, e.g. 'shared with 4 other jobs'")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    skipped: dict[str, str] = {}
    machine = machine_info(args.note)
    report: dict[str, Any] = {"machine": machine, "versions": package_versions(),
                              "measured_on": {section: machine for section in args.sections}}
    if "single" in args.sections:
        report["results"] = [env_throughput(env_id, min_seconds=args.seconds, repeats=args.repeats)
                             for env_id in _available(args.env or DEFAULT_IDS, skipped)]
    if "vector" in args.sections:
        report["vector_scaling"] = vector_section(_available(args.vector_env or VECTOR_IDS, skipped), args.num_envs,
                                                  args.seconds, args.repeats)
    if "latency" in args.sections:
        report["latency_crossover"] = latency_section(args.latency_env, args.latencies, args.seconds, args.repeats)
    if "parse" in args.sections:
        report["action_parsing"] = [action_parse_cost(env_id, min_seconds=args.seconds)
                                    for env_id in _available(args.env or DEFAULT_IDS[:1], skipped)]
    report["skipped"] = skipped
    # A run of some sections keeps the others' earlier figures.
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report["measured_on"] = {**previous.get("measured_on", {}), **report["measured_on"]}
    RESULTS.write_text(json.dumps({**previous, **report}, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_tables(report)
    if args.profile:
        profile((args.env or DEFAULT_IDS)[0])


if __name__ == "__main__":
    main()
