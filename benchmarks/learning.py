"""Learning benchmark: methods × seeds on StepTool-ToolBench-v0, greedy held-out pass rate per group × split.

    python benchmarks/learning.py --preset cpu|cpu_tiny|gpu [--config FILE] [--methods NAME ...] [--seeds N ...]
                                  [--updates N] [--eval-episodes N] [--time-budget SECONDS] [--out DIR]
                                  [--note TEXT] [--reuse RESULTS.json] [--json]

The preset (benchmarks/presets/<preset>.toml, or `--config`) is a `TrainConfig` plus a ``[bench]`` table: seeds,
evaluation cells (``GROUP/SPLIT``), episodes per cell, and the target pass rate of the sample-efficiency
column: a number, or a method's name for that method's final train pass rate (``"ppo"``: the paper's "env steps
to reach PPO-final's final pass rate"). `METHODS` maps each method to its config overrides; methods whose algo
this install lacks are skipped.

Per seed the SFT warm start is built once (``OUT/seed<S>/warm_start/model``) and copied into every method's
run directory whose model/SFT settings match the preset's, so all methods of a seed start from the same
model (``sft`` is that model, evaluated as is). Runs live in ``OUT/seed<S>/<method>/``; one with an
``eval.json`` is done and skipped, an interrupted one resumes from its last checkpoint, so re-running the
same command continues where it stopped. ``eval.json`` holds the run's train curve too, and a results JSON holds
every run's ``eval.json``: ``--reuse benchmarks/results/learning_<name>.json`` continues on another machine
(a file of the same config, cells and episodes only).
``--time-budget`` starts no run that would likely end past it.

Reported per method × cell, over the seeds every method finished (methods paired by seed; the runs of other
seeds stay in the results JSON for ``--reuse``): mean pass rate ± the 95% Student-t half-width; per method: env steps
until the train-rollout pass rate (running mean over ``target_window`` updates, from the run's ``metrics.csv``
``env_steps`` and ``pass_rate``) first reaches the target. Each run records its wall and CPU seconds. Writes
benchmarks/results/learning_<name>.json and the PNGs learning_<name>_curves.png (pass rate and step reward vs
env steps) and learning_<name>_bars.png (one panel per group); <name> is the preset or the config's stem.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from common import machine_info, package_versions

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"

# name → overrides of the preset (top-level keys; sections merge key by key). One line per method.
METHODS: dict[str, dict[str, Any]] = {
    "sft": {"algo": "sft"},
    "ppo": {"algo": "ppo"},
    "steptool": {"algo": "steptool", "ppo": {"credit": "step_gae"}},
    "steptool-no-step-reward": {"algo": "steptool", "ppo": {"credit": "outcome_step_gae"}},
    "steptool-no-step-opt": {"algo": "steptool", "ppo": {"credit": "step_token_gae"}},
    "grpo": {"algo": "grpo"},
    "gigpo": {"algo": "gigpo"},
    "reinforce-rebn": {"algo": "reinforce-rebn"},
    "eto": {"algo": "eto"},
    "archer": {"algo": "archer"},
}

# Two-sided 95% Student-t quantiles t(0.975, df) for df = 1..30; beyond that the normal 1.96 is within 2%.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
# What the SFT warm start depends on: methods that change none of these share the seed's warm start.
_WARM_START_KEYS = ("env_id", "split", "group", "max_steps", "seed", "warm_start_sft", "sft_json", "model", "sft")


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% Student-t interval (None for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci95 needs at least one value")
    mean = sum(values) / n
    if n == 1:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    return mean, t * sd / math.sqrt(n)


def steps_to_target(rows: Sequence[dict[str, Any]], target: float, window: int = 1) -> float | None:
    """Cumulative env steps at the first update whose running-mean pass rate reaches `target` (None: never)."""
    total, recent = 0.0, []
    for row in rows:
        if "env_steps" not in row or row["env_steps"] in ("", None):
            return None
        total += float(row["env_steps"])
        recent = [*recent, float(row["pass_rate"])][-window:]
        if len(recent) == window and sum(recent) / window >= target:
            return total
    return None


def final_pass_rate(rows: Sequence[dict[str, Any]], window: int = 1) -> float | None:
    """Mean train pass rate over the last `window` updates (None for a run without updates)."""
    recent = [float(row["pass_rate"]) for row in rows][-window:]
    return sum(recent) / len(recent) if recent else None


def curve_rows(run: dict[str, Any]) -> list[dict[str, float]]:
    """A run's per-update train rows (``env_steps``, ``pass_rate``, ``mean_step_reward``) from its ``curve``."""
    curve = run.get("curve") or {}
    return [dict(zip(curve, values, strict=True)) for values in zip(*curve.values(), strict=True)]


def resolve_target(target: float | str, runs: dict[str, dict[int, dict[str, Any]]], window: int) -> float | None:
    """`target` itself, or for a method name the mean over that method's runs of their `final_pass_rate`."""
    if not isinstance(target, str):
        return float(target)
    finals = [final_pass_rate(curve_rows(run), window) for run in runs.get(target, {}).values()]
    finals = [f for f in finals if f is not None]
    return sum(finals) / len(finals) if finals else None


def load_preset(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The preset's `TrainConfig` data and its ``[bench]`` table."""
    data = tomllib.loads(path.read_text())
    bench = data.pop("bench", {})
    for key in ("seeds", "eval_cells", "eval_episodes", "target_pass_rate", "target_window"):
        if key not in bench:
            raise SystemExit(f"{path}: [bench] needs {key!r}")
    target = bench["target_pass_rate"]
    if isinstance(target, str) and target not in METHODS:
        raise SystemExit(f"{path}: [bench] target_pass_rate must be a number or a method name, got {target!r}")
    return data, bench


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied: top-level values replace, section tables merge key by key."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def _cell(cell: str) -> tuple[str | None, str]:
    group, _, split = cell.rpartition("/")
    return group or None, split


def run_method(cfg: Any, run_dir: Path, warm_model: Path | None, cells: Sequence[str], episodes: int,
               console: Any) -> dict[str, Any]:
    """Train (resuming if interrupted) and evaluate one method × seed; writes and returns ``eval.json``'s data."""
    from steptool_agents.evaluate import evaluate_policy, load_run_policy
    from steptool_agents.runtime.metrics import read_csv
    from steptool_agents.trainer import run_training

    run_dir.mkdir(parents=True, exist_ok=True)
    if warm_model is not None and not (run_dir / "model" / "config.json").exists():
        shutil.copytree(warm_model, run_dir / "model")
    start, cpu_start = time.perf_counter(), time.process_time()
    run_training(cfg, run_dir, resume=True, console=console, evaluate=False)
    trained, cpu_trained = time.perf_counter(), time.process_time()
    policy = load_run_policy(run_dir, cfg)
    results = {}
    for cell in cells:
        group, split = _cell(cell)
        results[cell] = evaluate_policy(policy, cfg.replace(group=group), split, episodes, seed=cfg.seed + 777)
        console.print(f"  {cell}: pass rate {results[cell]['pass_rate']:.3f}")
    rows = read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").exists() else []
    logged = rows and all(r.get("env_steps") not in (None, "") for r in rows)
    curve = {key: [float(r[key]) for r in rows] for key in CURVE_KEYS} if logged else None
    out = {"algo": cfg.algo, "credit": cfg.ppo.credit, "seed": cfg.seed, "cells": results,
           "env_steps": sum(curve["env_steps"]) if curve else None, "curve": curve,
           "train_wall_s": trained - start, "eval_wall_s": time.perf_counter() - trained,
           "train_cpu_s": cpu_trained - cpu_start, "eval_cpu_s": time.process_time() - cpu_trained}
    (run_dir / "eval.json").write_text(json.dumps(out, indent=2))
    return out


# Each run's per-update train curve, kept in its eval.json so that results files alone can be aggregated.
CURVE_KEYS = ("env_steps", "pass_rate", "mean_step_reward")

# Reported beside the pass rate, averaged over the evaluation cells: where the pass rate is near 0 (a tiny model
# on the CPU preset) these still tell the methods apart.
SECONDARY = ("tool_call_precision", "tool_call_recall", "tool_call_f1", "mean_return", "avg_steps")


def secondary_metrics(runs: dict[str, dict[int, dict[str, Any]]], cells: Sequence[str]) -> dict[str, Any]:
    """Per method and `SECONDARY` metric: mean ± 95% CI over seeds of the metric's average over `cells`."""
    out: dict[str, Any] = {}
    for method, by_seed in runs.items():
        out[method] = {}
        for key in SECONDARY:
            if any(key not in r["cells"][c] for r in by_seed.values() for c in cells):
                continue  # runs from before a metric existed lack it
            values = [sum(r["cells"][c][key] for c in cells) / len(cells) for r in by_seed.values()]
            mean, ci = mean_ci95(values)
            out[method][key] = {"mean": mean, "ci95": ci, "values": values}
    return out


def aggregate(runs: dict[str, dict[int, dict[str, Any]]], cells: Sequence[str], target: float | None,
              window: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per method × cell mean ± CI over seeds (plus an ``average`` cell), and steps-to-target per method."""
    table, sample_efficiency = [], {}
    for method, by_seed in runs.items():
        for cell in [*cells, "average"]:
            if cell == "average":
                values = [sum(r["cells"][c]["pass_rate"] for c in cells) / len(cells) for r in by_seed.values()]
            else:
                values = [r["cells"][cell]["pass_rate"] for r in by_seed.values()]
            mean, ci = mean_ci95(values)
            table.append({"method": method, "cell": cell, "n": len(values), "mean": mean, "ci95": ci,
                          "values": values})
        per_seed = {seed: steps_to_target(curve_rows(run), target, window) if target is not None else None
                    for seed, run in by_seed.items()}
        reached = [v for v in per_seed.values() if v is not None]
        sample_efficiency[method] = {"per_seed": per_seed, "reached": len(reached), "seeds": len(per_seed),
                                     "mean_env_steps": sum(reached) / len(reached) if reached else None}
    return table, sample_efficiency


def _curves(runs: dict[str, dict[int, dict[str, Any]]]) -> dict[str, dict[str, list[float]]]:
    """Per method: mean over seeds, per update, of cumulative env steps, train pass rate and mean step reward."""
    curves = {}
    for method, by_seed in runs.items():
        series = [run["curve"] for run in by_seed.values() if run.get("curve") and run["curve"]["env_steps"]]
        if not series:
            continue
        n = min(len(c["env_steps"]) for c in series)  # seeds cut short (time budget) bound the common length
        columns = {"env_steps": [list(itertools.accumulate(c["env_steps"][:n])) for c in series],
                   **{key: [c[key][:n] for c in series] for key in CURVE_KEYS[1:]}}
        curves[method] = {key: [sum(v[k] for v in values) / len(values) for k in range(n)]
                          for key, values in columns.items()}
    return curves


def paired_seeds(runs: dict[str, dict[int, dict[str, Any]]], seeds: Sequence[int]) -> tuple[list[int], list[int]]:
    """The seeds every method in `runs` finished (what the tables compare, so methods are paired by seed) and the
    seeds only some finished."""
    done = [s for s in seeds if any(s in by_seed for by_seed in runs.values())]
    complete = [s for s in done if all(s in by_seed for by_seed in runs.values())]
    return complete, [s for s in done if s not in complete]


def reuse_runs(path: Path, base: dict[str, Any], cells: Sequence[str], episodes: int, out: Path,
               todo: Sequence[tuple[int, str]]) -> int:
    """Write ``eval.json`` for each run of `todo` that the results file `path` holds and `out` lacks.

    Runs live on one machine; a results file carries them to another (or to a fresh checkout) so a benchmark
    can be continued there. Only a file made with the same config, evaluation cells and episodes is accepted.
    """
    try:
        data = json.loads(path.read_text())
        theirs = {"config": data["config"], "eval_cells": data["bench"]["eval_cells"],
                  "eval_episodes": data["eval_episodes"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--reuse {path}: not a learning results file ({type(exc).__name__}: {exc})") from None
    mine = {"config": base, "eval_cells": list(cells), "eval_episodes": episodes}
    for key in mine:
        if theirs[key] != mine[key]:
            raise SystemExit(f"--reuse {path}: its {key} differs from this run's")
    written = 0
    for seed, method in todo:
        run = data["runs"].get(method, {}).get(str(seed))
        target = out / f"seed{seed}" / method / "eval.json"
        if run is None or target.exists():
            continue
        if "curve" not in run:
            raise SystemExit(f"--reuse {path}: run {method} seed {seed} has no train curve")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(run, indent=2))
        written += 1
    return written


def plot(name: str, table: list[dict[str, Any]], curves: dict[str, dict[str, list[float]]],
         cells: Sequence[str]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    if curves:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for method, c in curves.items():
            axes[0].plot(c["env_steps"], c["pass_rate"], marker="o", ms=3, label=method)
            axes[1].plot(c["env_steps"], c["mean_step_reward"], marker="o", ms=3, label=method)
        for ax, title in zip(axes, ("train pass rate (mean over seeds)", "mean step reward"), strict=True):
            ax.set_xlabel("env steps")
            ax.set_title(title)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        paths.append(RESULTS / f"learning_{name}_curves.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    groups = list(dict.fromkeys(_cell(c)[0] or "all" for c in cells))
    methods = list(dict.fromkeys(r["method"] for r in table))
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.6), squeeze=False)
    width = 0.8 / max(len(methods), 1)
    for ax, group in zip(axes[0], groups, strict=True):
        group_cells = [c for c in cells if (_cell(c)[0] or "all") == group]
        for i, method in enumerate(methods):
            rows = {r["cell"]: r for r in table if r["method"] == method}
            xs = [k + i * width for k in range(len(group_cells))]
            ax.bar(xs, [rows[c]["mean"] for c in group_cells], width, label=method,
                   yerr=[rows[c]["ci95"] or 0.0 for c in group_cells], capsize=2)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(group_cells))],
                      [_cell(c)[1].removeprefix("test_") for c in group_cells])
        ax.set_title(f"{group}: held-out pass rate (greedy)")
        ax.set_ylim(0, 1)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(RESULTS / f"learning_{name}_bars.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def _mean_ci(stat: dict[str, Any]) -> str:
    """``mean ± ci95`` (just the mean for a single seed)."""
    return f"{stat['mean']:.3f}" + (f" ± {stat['ci95']:.3f}" if stat["ci95"] is not None else "")


def _print_table(console: Any, table: list[dict[str, Any]], efficiency: dict[str, Any], cells: Sequence[str],
                 target: float | None) -> None:
    from rich.table import Table

    out = Table(title="held-out pass rate: mean ± 95% CI over seeds")
    reach = f"env steps to {target:.3f}" if target is not None else "env steps to target (not run)"
    for col in ("method", *cells, "average", reach):
        out.add_column(col, justify="left" if col == "method" else "right")
    for method, eff in efficiency.items():
        rows = {r["cell"]: r for r in table if r["method"] == method}
        cells_text = [_mean_ci(rows[c]) for c in [*cells, "average"]]
        steps = f"{eff['mean_env_steps']:,.0f} ({eff['reached']}/{eff['seeds']})" if eff["reached"] else \
            f"- (0/{eff['seeds']})"
        out.add_row(method, *cells_text, steps)
    console.print(out)


def _print_secondary(console: Any, secondary: dict[str, Any]) -> None:
    from rich.table import Table

    out = Table(title="average over the cells: mean ± 95% CI over seeds")
    for col in ("method", *SECONDARY):
        out.add_column(col, justify="left" if col == "method" else "right")
    for method, metrics in secondary.items():
        out.add_row(method, *(_mean_ci(metrics[k]) for k in SECONDARY))
    console.print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    presets = sorted(p.stem for p in (Path(__file__).parent / "presets").glob("*.toml"))
    parser.add_argument("--preset", choices=presets, default="cpu")
    parser.add_argument("--config", help="a preset file instead of benchmarks/presets/<preset>.toml")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help=f"subset of {', '.join(METHODS)}")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the preset's [bench] seeds")
    parser.add_argument("--updates", type=int, help="override PPO/GRPO updates, ETO rounds, ArCHer iterations")
    parser.add_argument("--eval-episodes", type=int, help="override the episodes per evaluation cell")
    parser.add_argument("--time-budget", type=float, help="seconds: start no run expected to end past this")
    parser.add_argument("--out", help="run directory root (default runs/learning_<name>)")
    parser.add_argument("--note", default="", help="recorded with the machine, e.g. 'shared with 4 other jobs'")
    parser.add_argument("--reuse", help="a results JSON of this preset whose finished runs count as done")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from rich.console import Console

    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents import registry
    from steptool_agents.config import ALGOS, TrainConfig
    from steptool_agents.warmstart import build_base_model
    from steptool_envs.toy import register_toy_env

    register_toy_env()  # lets a smoke preset use the toy env
    preset = Path(args.config) if args.config else Path(__file__).parent / "presets" / f"{args.preset}.toml"
    name = preset.stem
    base, bench = load_preset(preset)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    methods = [m for m in args.methods if METHODS[m].get("algo", base.get("algo", "steptool")) in ALGOS]
    skipped = {m: "algo not in steptool_agents.config.ALGOS" for m in args.methods if m not in methods}
    seeds = args.seeds or list(bench["seeds"])
    cells, episodes = list(bench["eval_cells"]), args.eval_episodes or int(bench["eval_episodes"])
    out = Path(args.out) if args.out else ROOT / "runs" / f"learning_{name}"
    console = Console(stderr=True)
    start, durations = time.perf_counter(), []
    runs: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in methods}
    todo = [(seed, method) for seed in seeds for method in methods]
    if args.reuse:
        reused = reuse_runs(Path(args.reuse), base, cells, episodes, out, todo)
        console.print(f"reused {reused} finished run(s) from {args.reuse}")
    for k, (seed, method) in enumerate(todo, 1):
        run_dir = out / f"seed{seed}" / method
        if (run_dir / "eval.json").exists():
            runs[method][seed] = json.loads((run_dir / "eval.json").read_text())
            continue
        elapsed = time.perf_counter() - start
        expected = sum(durations) / len(durations) if durations else 0.0
        if args.time_budget is not None and elapsed + expected > args.time_budget:
            skipped.update({f"{m} seed {s}": "time budget" for s, m in todo[k - 1:]})
            console.print(f"[yellow]time budget: {len(todo) - k + 1} run(s) not started")
            break
        eta = f", ~{expected * (len(todo) - k + 1) / 60:.0f} min left" if durations else ""
        console.rule(f"[{k}/{len(todo)}] {method}, seed {seed} ({elapsed / 60:.1f} min elapsed{eta})")
        seed_base = merge(base, {"seed": seed})
        overrides = METHODS[method]
        if args.updates is not None:
            section, key = registry.get(overrides.get("algo", base.get("algo", "steptool"))).rounds
            overrides = merge(overrides, {section: {**overrides.get(section, {}), key: args.updates}})
        cfg = TrainConfig.from_dict(merge(seed_base, overrides))
        warm_cfg = TrainConfig.from_dict(seed_base)
        shared = all(getattr(cfg, key) == getattr(warm_cfg, key) for key in _WARM_START_KEYS)
        warm = build_base_model(warm_cfg, out / f"seed{seed}" / "warm_start", console) if shared else None
        t0 = time.perf_counter()
        runs[method][seed] = run_method(cfg, run_dir, warm, cells, episodes, console)
        durations.append(time.perf_counter() - t0)
    finished = {m: by_seed for m, by_seed in runs.items() if by_seed}
    complete, partial = paired_seeds(finished, seeds)
    runs = {m: {s: r for s, r in by_seed.items() if s in complete} for m, by_seed in finished.items()}
    runs = {m: by_seed for m, by_seed in runs.items() if by_seed}
    if partial:
        console.print(f"[yellow]seed(s) {', '.join(map(str, partial))}: not every method finished; kept in the "
                      "results file's runs (for --reuse), left out of the tables")
    window = int(bench["target_window"])
    target = resolve_target(bench["target_pass_rate"], runs, window)
    table, efficiency = aggregate(runs, cells, target, window)
    secondary = secondary_metrics(runs, cells)
    curves = _curves(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = plot(name, table, curves, cells) if table else []
    report = {"preset": name, "config": base, "bench": bench, "machine": machine_info(args.note),
              "versions": package_versions(), "methods": {m: METHODS[m] for m in runs}, "seeds": complete,
              "partial_seeds": partial,
              "eval_episodes": episodes, "target_pass_rate": target, "table": table, "secondary": secondary,
              "steps_to_target": efficiency, "curves": curves,
              "runs": {m: {str(s): r for s, r in by_seed.items()} for m, by_seed in finished.items()},
              "skipped": skipped, "figures": [str(p.relative_to(RESULTS.parent)) for p in figures],
              "wall_s": time.perf_counter() - start}
    (RESULTS / f"learning_{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    elif table:
        _print_table(Console(), table, efficiency, cells, target)
        _print_secondary(Console(), secondary)
    for what, why in skipped.items():
        console.print(f"skipped {what}: {why}")


if __name__ == "__main__":
    main()
