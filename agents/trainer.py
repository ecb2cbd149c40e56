"""The one run loop: build or load the base model (SFT warm start), train ``cfg.algo``, evaluate.

Run directory layout::

    OUT/model/                 base model (HF, safetensors) + tokenizer; after SFT when warm-started
    OUT/checkpoints/update_N/  adapter + value head (safetensors), optimizer, RNG states, state.json
                               (+ the algorithm's extra tensors, e.g. ArCHer's critics and replay buffer)
    OUT/final/                 the trained adapter + value head
    OUT/metrics.csv, OUT/tb/   per-round metrics (CSV, TensorBoard)
    OUT/learning_curve.png     the algorithm's curves (`registry.AlgorithmSpec.curves`)
    OUT/config.json, OUT/eval.json

`train` drives any `algorithms.base.Algorithm` the registry names: ``iterate()`` once per round, then log,
checkpoint (every ``checkpoint_every`` rounds and at the end) and show progress; ``resume`` continues from the
latest checkpoint exactly where an uninterrupted run would be.

Under torchrun / ``accelerate launch`` every rank trains (see `runtime.distributed`); only rank 0 builds the base
model and writes files, so OUT must be a folder every rank can read.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from steptool_agents import registry
from steptool_agents.algorithms.base import build_algorithm
from steptool_agents.artifacts import save_adapter_dir
from steptool_agents.config import TrainConfig
from steptool_agents.evaluate import evaluate_policy
from steptool_agents.policy.models import Policy, load_policy
from steptool_agents.progress import progress
from steptool_agents.reporting import Reporter
from steptool_agents.rollout.envs import env_factory, env_kwargs
from steptool_agents.rollout.offline import load_step_grained_csv
from steptool_agents.runtime import distributed
from steptool_agents.runtime.atomic import save_dir_atomic, write_text_atomic
from steptool_agents.runtime.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from steptool_agents.runtime.metrics import MetricsLogger, plot_curves
from steptool_agents.warmstart import build_base_model, run_device

__all__ = ["EVAL_CURVE_KEYS", "check_data_parallel", "run_training", "seed_everything", "total_rounds", "train"]

# What the periodic evaluation (`TrainConfig.eval_every`) adds to an update's metrics, as ``eval_<key>``.
EVAL_CURVE_KEYS = ("pass_rate", "avg_steps", "tool_call_precision", "tool_call_recall", "mean_return")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def total_rounds(cfg: TrainConfig) -> int:
    """The number of training rounds of ``cfg.algo`` (the config key its registry entry names)."""
    section, key = registry.get(cfg.algo).rounds
    return int(getattr(getattr(cfg, section), key))


def check_data_parallel(cfg: TrainConfig) -> None:
    """Raise ValueError when `cfg` cannot run on the current number of processes (nothing to check for one)."""
    if distributed.world_size() == 1:
        return
    spec = registry.get(cfg.algo)
    if not spec.data_parallel:
        supported = [s.name for s in registry.ALGORITHMS.values() if s.data_parallel]
        raise ValueError(f"algo {cfg.algo!r} runs in one process; data-parallel training supports "
                         f"{', '.join(supported)}")
    r = cfg.rollout
    if spec.group_section is not None:
        distributed.shard(r.episodes_per_update // getattr(cfg, spec.group_section).group_size,
                          f"{spec.name.upper()} groups per update")
    else:
        distributed.shard(r.episodes_per_update, "rollout.episodes_per_update")
        if cfg.offline_csv is None:
            distributed.shard(r.num_envs, "rollout.num_envs")


def run_training(cfg: TrainConfig, out: str | Path, resume: bool = False, console: Console | None = None,
                 evaluate: bool = True) -> dict[str, Any]:
    """Train per `cfg` into `out`; returns a summary (final metrics and, on rank 0, the evaluation).

    Joins the process group when launched by torchrun / ``accelerate launch`` (see `runtime.distributed`).
    """
    out = Path(out)
    distributed.init_from_env()
    check_data_parallel(cfg)
    main = distributed.is_main()
    console = console or Console(quiet=not main)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        build_base_model(cfg, out, console)
    distributed.barrier()  # the other ranks load the model rank 0 built
    policy = load_policy(out / "model", cfg.model, device=run_device(cfg))
    summary: dict[str, Any] = {"algo": cfg.algo, "out": str(out)}
    last_eval = None
    if registry.get(cfg.algo).target is not None:  # sft trains in the warm start only
        summary["train"], last_eval = train(cfg, policy, out, resume, console)
        if main:
            save_dir_atomic(out / "final", lambda d: save_adapter_dir(policy, cfg, d))
    if evaluate and main:
        # The periodic evaluation of the last update is this one (same policy, tasks and seed): not played twice.
        if last_eval is None:
            last_eval = evaluate_policy(policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777,
                                        console=console)
        summary["eval"] = last_eval
        write_text_atomic(out / "eval.json", json.dumps(summary["eval"], indent=2))
        reporter = Reporter(out, [r for r in cfg.report_to if r != "csv"])
        reporter.scalars({k: v for k, v in summary["eval"].items() if isinstance(v, float)}, total_rounds(cfg), "eval")
        reporter.close()
    return summary


def _info(stats: dict[str, float]) -> str:
    info = f"reward {stats.get('mean_step_reward', 0.0):.3f}  pass {stats.get('pass_rate', 0.0):.2f}"
    return info + (f"  kl {stats['kl_ref']:.4f}" if "kl_ref" in stats else "")


def train(cfg: TrainConfig, policy: Policy, out: Path, resume: bool, console: Console,
          ) -> tuple[dict[str, float], dict[str, Any] | None]:
    """Run ``cfg.algo``'s rounds on `policy` into `out` (log, checkpoint, resume, evaluate every ``eval_every``
    rounds); returns the last round's metrics and, when this call evaluated the last round, that evaluation."""
    spec = registry.get(cfg.algo)
    offline = None
    if cfg.offline_csv:
        offline = load_step_grained_csv(cfg.offline_csv, policy.tokenizer, cfg.model.max_prompt_tokens)
        console.print(f"offline: {len(offline)} step-grained trajectories from {cfg.offline_csv}")
    algo = build_algorithm(cfg, policy, env_factory(cfg, cfg.split), env_kwargs=env_kwargs(cfg, cfg.split),
                           offline=offline)
    total = total_rounds(cfg)
    ckpt = latest_checkpoint(out) if resume and algo.optimizer is not None else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, policy, algo.optimizer)
        algo.update = int(state["update"])
        algo.load_state(state)
        algo.load_extra_tensors(ckpt)
        console.print(f"resumed from {ckpt.name}")
    main = distributed.is_main()
    logger = (MetricsLogger(out, resume_from=algo.update if ckpt is not None else None, report_to=cfg.report_to)
              if main else None)
    last: dict[str, float] = {}
    last_eval = None
    try:
        with progress(console, f"{cfg.algo} rounds", total, completed=algo.update) as bar:
            algo.on_progress = lambda info: bar.update(info=info)
            while algo.update < total:
                last = algo.iterate()
                if main and cfg.eval_every and (algo.update % cfg.eval_every == 0 or algo.update == total):
                    last_eval = evaluate_policy(
                        policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777,
                        on_episode=lambda n: bar.update(info=f"round {algo.update}: eval {n}/{cfg.eval_episodes}"))
                    last = {**last, **{f"eval_{k}": float(last_eval[k]) for k in EVAL_CURVE_KEYS}}
                if logger is not None:
                    logger.log(algo.update, last)
                bar.update(completed=algo.update, info=_info(last))
                if algo.optimizer is not None and (algo.update % cfg.checkpoint_every == 0 or algo.update == total):
                    if main:
                        save_checkpoint(out, algo.update, policy, algo.optimizer, algo.state(), algo.extra_tensors())
                    distributed.barrier()  # no rank moves past a round whose checkpoint is not on disk
        if logger is not None and logger.rows:
            plot_curves(logger.rows, [*spec.curves, "eval_pass_rate"], out / "learning_curve.png", title=algo.title)
    finally:
        if logger is not None:
            logger.close()
        algo.close()
    return last, (last_eval if last_eval is not None and algo.update == total else None)
