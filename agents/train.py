"""Run orchestration: build or load the base model, warm-start with SFT, train (PPO/GRPO/RFT/ETO/ArCHer), evaluate.

Run directory layout::

    OUT/model/                 base model (HF, safetensors) + tokenizer; after SFT when warm-started
    OUT/checkpoints/update_N/  adapter + value head (safetensors), optimizer, RNG states, state.json
                               (ArCHer: + critic, target critic, replay buffer safetensors)
    OUT/final/                 the trained adapter + value head
    OUT/metrics.csv, OUT/tb/   per-update metrics (CSV, TensorBoard)
    OUT/learning_curve.png     reward / pass rate / KL curves
    OUT/config.json, OUT/eval.json

Under torchrun / ``accelerate launch`` every rank trains (see `distributed`); only rank 0 builds the base model and
writes files, so OUT must be a folder every rank can read.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from steptool_agents import distributed
from steptool_agents.atomic import save_dir_atomic, write_text_atomic
from steptool_agents.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from steptool_agents.config import TrainConfig
from steptool_agents.iterative import run_iterative
from steptool_agents.metrics import MetricsLogger, plot_curves
from steptool_agents.models import (
    Policy,
    build_tiny_model,
    load_base_model,
    load_policy,
    prepare_smollm2,
    resolve_device,
    save_base_model,
    train_bpe_tokenizer,
)
from steptool_agents.offline import load_sft_json, load_step_grained_csv
from steptool_agents.ppo import PPOTrainer, episode_stats
from steptool_agents.prompts import make_format
from steptool_agents.rollout import HFGenerator, collect_episodes, make_vector_env
from steptool_agents.sft import demo_trajectories, episode_texts, oracle_episodes, sft_train
from steptool_gym.rewards import DEFAULT_REWARD_MODE

__all__ = [
    "CPU_ONLY_ALGOS",
    "DATA_PARALLEL_ALGOS",
    "build_base_model",
    "check_data_parallel",
    "evaluate_policy",
    "load_run_policy",
    "run_training",
    "seed_everything",
]

DATA_PARALLEL_ALGOS = ("steptool", "ppo", "grpo")  # the algorithms that run on several processes
CPU_ONLY_ALGOS = ("eto", "archer")  # their trainers build tensors on the CPU: "auto" resolves to it


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def learner_gamma(cfg: TrainConfig) -> float:
    """The discount the run's learner uses (1.0 for the episode-level ones): the env's `gamma` for progress
    shaping, which is policy-invariant only when the two agree."""
    if cfg.algo == "gigpo":
        return cfg.gigpo.gamma
    if cfg.algo == "archer":
        return cfg.archer.gamma
    if cfg.algo in ("steptool", "ppo", "reinforce-rebn"):
        return cfg.ppo.gamma
    return 1.0


_COMPAT_WARNED = False


def env_kwargs(cfg: TrainConfig, split: str) -> dict[str, Any]:
    global _COMPAT_WARNED
    if cfg.ppo.mode == "compat" and cfg.algo in ("steptool", "ppo") and not _COMPAT_WARNED:
        _COMPAT_WARNED = True
        warnings.warn("ppo.mode='compat' places reward t × (T − t) at step t (the official code): longer episodes "
                      "earn more, so a policy can farm it by stalling (issue 14 measured 11.5 vs 3.7 per episode for a "
                      "repeat policy vs the oracle on G1); prefer mode='steptool'", UserWarning, stacklevel=2)
    kwargs: dict[str, Any] = {"reward_mode": DEFAULT_REWARD_MODE, "gamma": learner_gamma(cfg), **cfg.env_kwargs,
                              "split": split, "max_steps": cfg.max_steps}
    if cfg.group is not None:
        kwargs["group"] = cfg.group
    return kwargs


def env_factory(cfg: TrainConfig, split: str) -> Callable[[int], Any]:
    return lambda n: make_vector_env(cfg.env_id, n, asynchronous=cfg.rollout.async_envs, **env_kwargs(cfg, split))


def run_device(cfg: TrainConfig) -> torch.device:
    """The device a run trains on (`model.device`; ETO and ArCHer run on the CPU)."""
    return resolve_device(cfg.model.device, cpu_only=cfg.algo in CPU_ONLY_ALGOS)


def _cache_dir() -> Path:
    return Path(os.environ.get("STEPTOOL_CACHE", "~/.cache/steptool")).expanduser()


def build_base_model(cfg: TrainConfig, out: Path, console: Console | None = None) -> Path:
    """Create ``OUT/model``: the named model (tiny: tokenizer + random init), SFT-warm-started when asked."""
    target = out / "model"
    if (target / "config.json").exists():
        return target
    say = console.print if console else (lambda *a, **k: None)
    m = cfg.model
    demos_needed = cfg.algo == "sft" or cfg.warm_start_sft
    episodes = oracle_episodes(cfg.env_id, max(cfg.sft.episodes, m.tokenizer_episodes if m.name == "tiny" else 0),
                               cfg.seed, **env_kwargs(cfg, cfg.split))
    if m.name == "tiny":
        tokenizer = train_bpe_tokenizer(episode_texts(episodes[:m.tokenizer_episodes], "</s>",
                                                        compact=m.prompt_format == "react_compact"), m.vocab_size)
        model = build_tiny_model(m, tokenizer, cfg.seed)
        say(f"tiny {m.arch}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, "
            f"vocab {len(tokenizer)}")
    else:
        path = prepare_smollm2(_cache_dir()) if m.name == "smollm2" else Path(m.name)
        model, tokenizer = load_base_model(path)
    meta: dict[str, Any] = {"source": m.name, "sft": None}
    if demos_needed:
        fmt = make_format(m.prompt_format, tokenizer)
        if cfg.sft_json:
            trajs = load_sft_json(cfg.sft_json, fmt, tokenizer, m.max_prompt_tokens)
        else:
            trajs = demo_trajectories(episodes[:cfg.sft.episodes], fmt, tokenizer, m.max_prompt_tokens)

        def log(epoch: int, loss: float) -> None:
            say(f"  sft epoch {epoch + 1}/{cfg.sft.epochs}: loss {loss:.4f}")

        device = run_device(cfg)
        model.to(device)
        if cfg.sft.full_finetune:
            stats = sft_train(model, trajs, int(tokenizer.pad_token_id), epochs=cfg.sft.epochs,
                              lr=cfg.sft.learning_rate, batch_size=cfg.sft.batch_size,
                              max_tokens=m.max_context_tokens, seed=cfg.seed, log=log)
        else:  # LoRA SFT, then merge so the SFT model becomes the frozen reference of later RL
            policy = Policy(model, tokenizer, m).to(device)
            stats = sft_train(policy.model, trajs, int(tokenizer.pad_token_id), epochs=cfg.sft.epochs,
                              lr=cfg.sft.learning_rate, batch_size=cfg.sft.batch_size,
                              max_tokens=m.max_context_tokens, seed=cfg.seed, log=log)
            model = policy.model.merge_and_unload()
        meta["sft"] = {"episodes": len(trajs), **stats}
        say(f"  sft done: {stats['tokens_per_s']:.0f} tok/s, {stats['truncated_frac']:.0%} of demos cut by "
            f"max_context_tokens={m.max_context_tokens}")
    save_base_model(model, tokenizer, target, meta)
    return target


def load_run_policy(model_dir: str | Path, cfg: TrainConfig) -> Policy:
    """A policy from a run directory (``model/`` + ``final/``), a bare adapter dir, or any HF model dir."""
    path = Path(model_dir)
    if (path / "model" / "config.json").exists():
        adapter = path / "final" if (path / "final" / "adapter_model.safetensors").exists() else None
        return load_policy(path / "model", cfg.model, adapter)
    return load_policy(path, cfg.model)


def evaluate_policy(policy: Policy, cfg: TrainConfig, split: str, episodes: int, seed: int = 12345,
                    greedy: bool = True) -> dict[str, Any]:
    """Pass rate, average steps, tool-call precision/recall/F1 and mean return on `split` (batched, greedy)."""
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    gen = HFGenerator.from_config(policy.model, policy.tokenizer, cfg.rollout)
    envs = env_factory(cfg, split)(min(cfg.rollout.num_envs, episodes))
    try:
        trajs = collect_episodes(envs, gen, fmt, policy.tokenizer, episodes,
                                 [seed + i for i in range(envs.num_envs)], cfg.model.max_context_tokens,
                                 cfg.rollout.max_new_tokens, greedy=greedy,
                                 max_prompt_tokens=cfg.model.max_prompt_tokens)
    finally:
        envs.close()
    stats = episode_stats(trajs)
    return {"env": cfg.env_id, "split": split, "episodes": len(trajs), "pass_rate": stats["pass_rate"],
            "avg_steps": stats["avg_steps"], "tool_call_precision": stats["tool_call_precision"],
            "tool_call_recall": stats["tool_call_recall"], "tool_call_f1": stats["tool_call_f1"],
            "mean_return": stats["mean_return"]}


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=console, transient=False)


def _run_rft(cfg: TrainConfig, policy: Policy, out: Path, console: Console) -> list[dict[str, float]]:
    """Rejection-sampling fine-tuning: sample with the policy, keep solved episodes, SFT the adapter on them."""
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    gen = HFGenerator.from_config(policy.model, policy.tokenizer, cfg.rollout)
    envs = env_factory(cfg, cfg.split)(cfg.rollout.num_envs)
    logger = MetricsLogger(out)
    rows = []
    try:
        for rnd in range(cfg.sft.rft_rounds):
            seeds = [cfg.seed * 1_000_003 + rnd * 10_007 + i for i in range(envs.num_envs)]
            trajs = collect_episodes(envs, gen, fmt, policy.tokenizer, cfg.sft.rft_episodes, seeds,
                                     cfg.model.max_context_tokens, cfg.rollout.max_new_tokens,
                                     max_prompt_tokens=cfg.model.max_prompt_tokens)
            kept = [t for t in trajs if t.is_solved >= 1.0]
            stats: dict[str, float] = {**episode_stats(trajs), "kept": float(len(kept))}
            if kept:
                stats.update(sft_train(policy.model, kept, int(policy.tokenizer.pad_token_id), epochs=cfg.sft.epochs,
                                       lr=cfg.ppo.learning_rate, batch_size=cfg.sft.batch_size,
                                       max_tokens=cfg.model.max_context_tokens, seed=cfg.seed + rnd,
                                       params=policy.trainable_parameters()))
            logger.log(rnd + 1, stats)
            rows.append(stats)
            console.print(f"rft round {rnd + 1}: pass {stats['pass_rate']:.2f}, kept {len(kept)}")
    finally:
        envs.close()
        logger.close()
    return rows


def check_data_parallel(cfg: TrainConfig) -> None:
    """Raise ValueError when `cfg` cannot run on the current number of processes (nothing to check for one)."""
    if distributed.world_size() == 1:
        return
    if cfg.algo not in DATA_PARALLEL_ALGOS:
        raise ValueError(f"algo {cfg.algo!r} runs in one process; data-parallel training supports "
                         f"{', '.join(DATA_PARALLEL_ALGOS)}")
    r = cfg.rollout
    if cfg.algo == "grpo":
        distributed.shard(r.episodes_per_update // cfg.grpo.group_size, "GRPO groups per update")
    else:
        distributed.shard(r.episodes_per_update, "rollout.episodes_per_update")
        if cfg.offline_csv is None:
            distributed.shard(r.num_envs, "rollout.num_envs")


def run_training(cfg: TrainConfig, out: str | Path, resume: bool = False, console: Console | None = None,
                 evaluate: bool = True) -> dict[str, Any]:
    """Train per `cfg` into `out`; returns a summary (final metrics and, on rank 0, the evaluation).

    Joins the process group when launched by torchrun / ``accelerate launch`` (see `distributed`).
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
    if cfg.algo == "rft":
        _run_rft(cfg, policy, out, console)
        save_dir_atomic(out / "final", policy.save)
    elif cfg.algo in ("steptool", "ppo", "grpo", "gigpo", "reinforce-rebn"):
        if cfg.algo == "ppo":
            cfg = cfg.replace(ppo={**cfg.to_dict()["ppo"], "mode": "final"})
        summary["train"] = _run_rl(cfg, policy, out, resume, console)
        if main:
            save_dir_atomic(out / "final", policy.save)
    elif cfg.algo in ("eto", "archer"):
        summary["train"] = run_iterative(cfg, policy, out, resume, console, env_factory(cfg, cfg.split),
                                         env_kwargs(cfg, cfg.split))
        save_dir_atomic(out / "final", policy.save)
    if evaluate and main:
        summary["eval"] = evaluate_policy(policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777)
        write_text_atomic(out / "eval.json", json.dumps(summary["eval"], indent=2))
    return summary


def _run_rl(cfg: TrainConfig, policy: Policy, out: Path, resume: bool, console: Console) -> dict[str, float]:
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    offline = None
    if cfg.offline_csv:
        offline = load_step_grained_csv(cfg.offline_csv, policy.tokenizer, cfg.model.max_prompt_tokens)
        console.print(f"offline: {len(offline)} step-grained trajectories from {cfg.offline_csv}")
    trainer = PPOTrainer(cfg, policy, fmt, env_factory(cfg, cfg.split), offline=offline)
    start = 0
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, policy, trainer.optimizer)
        start = trainer.update = int(state["update"])
        trainer.kl.value = float(state["kl_coef"])
        console.print(f"resumed from {ckpt.name}")
    main = distributed.is_main()
    logger = MetricsLogger(out, resume_from=start if ckpt is not None else None) if main else None
    last: dict[str, float] = {}
    try:
        with _progress(console) as progress:
            task = progress.add_task(cfg.algo, total=cfg.ppo.updates, completed=start, info="")
            while trainer.update < cfg.ppo.updates:
                last = trainer.step()
                if logger is not None:
                    logger.log(trainer.update, last)
                progress.update(task, advance=1, info=f"reward {last['mean_step_reward']:.3f}  "
                                f"pass {last['pass_rate']:.2f}  kl {last['kl_ref']:.4f}")
                if trainer.update % cfg.checkpoint_every == 0 or trainer.update == cfg.ppo.updates:
                    if main:
                        save_checkpoint(out, trainer.update, policy, trainer.optimizer,
                                        {"kl_coef": trainer.kl.value})
                    distributed.barrier()  # no rank moves past an update whose checkpoint is not on disk
        if logger is not None and logger.rows:
            plot_curves(logger.rows, ["mean_step_reward", "pass_rate", "kl_ref", "explained_variance"],
                        out / "learning_curve.png", title=f"{cfg.algo} ({cfg.ppo.mode})")
    finally:
        if logger is not None:
            logger.close()
        trainer.envs.close()
    return last
