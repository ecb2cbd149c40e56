"""``OUT/model``: the base model of a run (tiny from scratch, SmolLM2 or any HF model), SFT-warm-started when asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from steptool_agents import registry
from steptool_agents.algorithms.sft import sft_train
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import (
    Policy,
    build_tiny_model,
    load_base_model,
    prepare_smollm2,
    resolve_device,
    save_base_model,
    train_bpe_tokenizer,
)
from steptool_agents.policy.prompts import make_format
from steptool_agents.progress import progress
from steptool_agents.reporting import Reporter
from steptool_agents.rollout.envs import env_kwargs
from steptool_agents.rollout.offline import load_sft_json
from steptool_agents.rollout.oracle import demo_trajectories, episode_texts, oracle_episodes

__all__ = ["build_base_model", "run_device", "untrained_model_dir"]


def run_device(cfg: TrainConfig) -> torch.device:
    """The device a run trains on (`model.device`; CPU-only algorithms, e.g. ETO and ArCHer, on the CPU)."""
    return resolve_device(cfg.model.device, cpu_only=registry.get(cfg.algo).cpu_only)


def _cache_dir() -> Path:
    return Path(os.environ.get("STEPTOOL_CACHE", "~/.cache/steptool")).expanduser()


def untrained_model_dir(cfg: TrainConfig, out: Path) -> Path:
    """The model before any training: SmolLM2's converted copy, a local model's directory, or (tiny) the random
    initialisation `build_base_model` keeps in ``OUT/untrained``."""
    if cfg.model.name == "smollm2":
        return prepare_smollm2(_cache_dir())
    return out / "untrained" if cfg.model.name == "tiny" else Path(cfg.model.name)


def build_base_model(cfg: TrainConfig, out: Path, console: Console | None = None) -> Path:
    """Create ``OUT/model``: the named model (tiny: tokenizer + random init), SFT-warm-started when asked."""
    target = out / "model"
    if (target / "config.json").exists():
        return target
    say = console.print if console else (lambda *a, **k: None)
    m = cfg.model
    demos_needed = registry.get(cfg.algo).demos or cfg.warm_start_sft
    episodes = oracle_episodes(cfg.env_id, max(cfg.sft.episodes, m.tokenizer_episodes if m.name == "tiny" else 0),
                               cfg.seed, recovery_share=cfg.sft.recovery_share, **env_kwargs(cfg, cfg.split))
    if m.name == "tiny":
        corpus_format = "react" if m.prompt_format == "chat" else m.prompt_format  # a new tokenizer has no template
        tokenizer = train_bpe_tokenizer(episode_texts(episodes[:m.tokenizer_episodes], "</s>", corpus_format),
                                        m.vocab_size)
        model = build_tiny_model(m, tokenizer, cfg.seed)
        save_base_model(model, tokenizer, out / "untrained", {"source": "tiny", "sft": None, "config": cfg.to_dict()})
        say(f"tiny {m.arch}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, "
            f"vocab {len(tokenizer)}")
    else:
        path = prepare_smollm2(_cache_dir()) if m.name == "smollm2" else Path(m.name)
        model, tokenizer = load_base_model(path)
    meta: dict[str, Any] = {"source": m.name, "sft": None, "config": cfg.to_dict()}  # the config: eval needs it
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
        steps = cfg.sft.epochs * -(-len(trajs) // cfg.sft.batch_size)
        reporter = Reporter(out, [r for r in cfg.report_to if r != "csv"])  # sft/loss per optimiser step
        try:
            with progress(console, "sft", steps) as bar:
                def on_step(step: int, loss: float) -> None:
                    bar.update(completed=step, info=f"loss {loss:.3f}")
                    if step % 10 == 0 or step == steps:
                        reporter.scalars({"loss": loss}, step, "sft")

                # LoRA SFT is merged afterwards, so the SFT model becomes the frozen reference of later RL
                sft_model = model if cfg.sft.full_finetune else Policy(model, tokenizer, m).to(device).model
                stats = sft_train(sft_model, trajs, int(tokenizer.pad_token_id), epochs=cfg.sft.epochs,
                                  lr=cfg.sft.learning_rate, batch_size=cfg.sft.batch_size,
                                  max_tokens=m.max_context_tokens, seed=cfg.seed, log=log, on_step=on_step)
        finally:
            reporter.close()
        if not cfg.sft.full_finetune:
            model = sft_model.merge_and_unload()
        meta["sft"] = {"episodes": len(trajs), **stats}
        say(f"  sft done: {stats['tokens_per_s']:.0f} tok/s, {stats['truncated_frac']:.0%} of demos cut by "
            f"max_context_tokens={m.max_context_tokens}")
    save_base_model(model, tokenizer, target, meta)
    return target
