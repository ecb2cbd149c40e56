"""Is a rise in a run's rollout pass rate learning or luck? Replay one training round exactly, then resample it.

    python benchmarks/rollout_replay.py --run DIR --round N [--resamples K]

Builds the run's algorithm on the run's own model and restores checkpoint ``update_<N-1>`` (weights, optimizer and
RNG states, as ``--resume`` does), then collects round N's rollouts again: the same env seeds and sampling stream,
so their pass rate, mean step reward and action-token count must equal those ``metrics.csv`` logged for round N
(a mismatch means training and this replay play different policies or tasks). Then it samples the same tasks K
more times (torch seeds 1..K) with that checkpoint and with the run's start model (the adapter switched off: the
SFT warm start), so a round's logged pass rate can be read against the sampling noise and against what the start
model scores on the same tasks. Writes benchmarks/results/rollout_replay.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import machine_info, package_versions

RESULTS = Path(__file__).parent / "results"
# What a round logs that an exact replay must reproduce (the token count moves with every sampled token).
_MATCHED = ("pass_rate", "mean_step_reward", "action_tokens")


def replay(run: Path, round_: int, resamples: int) -> dict[str, Any]:
    """Round `round_` of the run in `run`: the logged, the exactly replayed and the resampled pass rates."""
    import torch

    from steptool_agents.algorithms.base import OnPolicyAlgorithm, build_algorithm, episode_stats
    from steptool_agents.artifacts import find_run_config
    from steptool_agents.policy.models import load_policy
    from steptool_agents.rollout.envs import env_factory, env_kwargs
    from steptool_agents.runtime.checkpoint import load_checkpoint
    from steptool_agents.runtime.metrics import read_csv

    found = find_run_config(run)
    if found is None:
        raise SystemExit(f"{run}: no run config found (a `steptool train --out` directory)")
    cfg = found[0]
    ckpt = run / "checkpoints" / f"update_{round_ - 1:06d}"
    if round_ < 2 or not (ckpt / "state.json").is_file():
        raise SystemExit(f"{run}: round {round_} has no checkpoint before it ({ckpt.name}); rounds 2.. of a run "
                         "with checkpoint_every = 1 can be replayed")
    logged = {int(float(r["update"])): {k: float(r[k]) for k in _MATCHED} for r in read_csv(run / "metrics.csv")}
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    policy = load_policy(run / "model", cfg.model)
    algo = build_algorithm(cfg, policy, env_factory(cfg, cfg.split), env_kwargs=env_kwargs(cfg, cfg.split))
    try:
        if not isinstance(algo, OnPolicyAlgorithm) or algo.optimizer is None:
            raise SystemExit(f"{run}: algo {cfg.algo!r} has no on-policy rollouts to replay")
        state = load_checkpoint(ckpt, policy, algo.optimizer)
        algo.update = int(state["update"])
        algo.load_state(state)
        algo.load_extra_tensors(ckpt)

        def play() -> dict[str, Any]:
            start, cpu = time.perf_counter(), time.process_time()
            trajs = algo.collect_rollouts()
            stats = episode_stats(trajs)
            return {"pass_rate": stats["pass_rate"], "mean_step_reward": stats["mean_step_reward"],
                    "action_tokens": float(sum(sum(t.action_mask) for t in trajs)), "avg_steps": stats["avg_steps"],
                    "tasks": sorted(t.task_id for t in trajs), "wall_s": time.perf_counter() - start,
                    "cpu_s": time.process_time() - cpu}

        exact = play()
        models = {"checkpoint": contextlib.nullcontext, "start_model": policy.reference}
        samples: dict[str, list[dict[str, Any]]] = {key: [] for key in models}
        for key, adapter in models.items():
            for k in range(1, resamples + 1):
                torch.manual_seed(k)
                with adapter():
                    samples[key].append(play())
    finally:
        algo.close()
    summary = {key: {"pass_rates": [s["pass_rate"] for s in runs],
                     "mean": statistics.fmean(s["pass_rate"] for s in runs) if runs else None}
               for key, runs in samples.items()}
    log = logged.get(round_, {})
    return {"run": str(run), "algo": cfg.algo, "round": round_, "episodes": len(exact["tasks"]),
            "logged_curve": [logged[u]["pass_rate"] for u in sorted(logged)], "logged": log, "replayed": exact,
            "replay_matches_log": all(log.get(k) == exact[k] for k in _MATCHED),
            "resamples": summary, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="a run directory (steptool train --out)")
    parser.add_argument("--round", required=True, type=int, help="the round to replay (2 or later)")
    parser.add_argument("--resamples", type=int, default=2, help="extra samples of the same tasks per model")
    parser.add_argument("--out", type=Path, default=RESULTS / "rollout_replay.json")
    parser.add_argument("--note", default="", help="recorded with the machine")
    args = parser.parse_args()
    if args.resamples < 0:
        raise SystemExit("--resamples must be >= 0")
    import steptool_gym  # noqa: F401 - registers the envs

    result = replay(args.run, args.round, args.resamples)
    result.update(machine=machine_info(args.note), versions=package_versions())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    r = result["resamples"]
    print(f"round {args.round}: logged {result['logged']['pass_rate']}, replayed {result['replayed']['pass_rate']} "
          f"({'matches' if result['replay_matches_log'] else 'DIFFERS'}); resampled: checkpoint "
          f"{r['checkpoint']['pass_rates']}, start model {r['start_model']['pass_rates']}")


if __name__ == "__main__":
    main()
