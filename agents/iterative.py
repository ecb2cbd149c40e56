"""The run loop of the round-based baselines (ETO, ArCHer): step, log, checkpoint, resume.

Each trainer's `step` is one round (ETO) or iteration (ArCHer); checkpoints hold the adapter, the optimizer, RNG
states and the trainer's extra tensors (ArCHer: critic, target critic, replay buffer), so ``--resume`` continues
exactly where an uninterrupted run would be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from rich.console import Console

from steptool_agents.archer import ArCHerTrainer
from steptool_agents.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from steptool_agents.config import TrainConfig
from steptool_agents.eto import ETOTrainer
from steptool_agents.metrics import MetricsLogger, plot_curves
from steptool_agents.models import Policy
from steptool_agents.progress import progress
from steptool_agents.prompts import make_format

__all__ = ["IterativeTrainer", "make_trainer", "run_iterative"]

_CURVES = {
    "eto": ["pass_rate", "mean_step_reward", "dpo_loss", "reward_accuracy"],
    "archer": ["pass_rate", "mean_step_reward", "q_loss", "advantage_std", "kl_ref"],
}


class IterativeTrainer(Protocol):
    update: int
    optimizer: torch.optim.Optimizer

    def step(self) -> dict[str, float]: ...

    def extra_tensors(self) -> dict[str, dict[str, torch.Tensor]]: ...

    def load_extra_tensors(self, path: Path) -> None: ...

    def close(self) -> None: ...


def make_trainer(cfg: TrainConfig, policy: Policy, make_envs: Callable[[int], Any],
                 env_kwargs: Mapping[str, Any]) -> tuple[IterativeTrainer, int]:
    """The trainer for ``cfg.algo`` and its number of steps (``eto.rounds`` or ``archer.updates``)."""
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    if cfg.algo == "eto":
        return ETOTrainer(cfg, policy, fmt, make_envs, env_kwargs), cfg.eto.rounds
    if cfg.algo == "archer":
        return ArCHerTrainer(cfg, policy, fmt, make_envs), cfg.archer.updates
    raise ValueError(f"{cfg.algo!r} is not a round-based algorithm")


def run_iterative(cfg: TrainConfig, policy: Policy, out: Path, resume: bool, console: Console,
                  make_envs: Callable[[int], Any], env_kwargs: Mapping[str, Any]) -> dict[str, float]:
    """Train ``cfg.algo`` (eto/archer) into `out`; returns the last step's metrics."""
    trainer, total = make_trainer(cfg, policy, make_envs, env_kwargs)
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        trainer.update = int(load_checkpoint(ckpt, policy, trainer.optimizer)["update"])
        trainer.load_extra_tensors(ckpt)
        console.print(f"resumed from {ckpt.name}")
    logger = MetricsLogger(out, resume_from=trainer.update if ckpt is not None else None, report_to=cfg.report_to)
    last: dict[str, float] = {}
    try:
        with progress(console, cfg.algo, total, completed=trainer.update) as bar:
            while trainer.update < total:
                last = trainer.step()
                logger.log(trainer.update, last)
                bar.update(completed=trainer.update, info=f"reward {last['mean_step_reward']:.3f}  "
                           f"pass {last['pass_rate']:.2f}")
                if trainer.update % cfg.checkpoint_every == 0 or trainer.update == total:
                    save_checkpoint(out, trainer.update, policy, trainer.optimizer, {}, trainer.extra_tensors())
        if logger.rows:
            plot_curves(logger.rows, _CURVES[cfg.algo], out / "learning_curve.png", title=cfg.algo)
    finally:
        logger.close()
        trainer.close()
    return last
