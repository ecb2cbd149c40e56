"""Where run metrics go (``report_to``: TensorBoard, CSV, Weights & Biases, none) and their grouped tag names.

TensorBoard files are in ``OUT/tb/`` (``tensorboard --logdir OUT/tb``). Tags are grouped the way SB3 and TRL
group theirs: ``rollout/`` (what the sampled episodes scored and how long they took), ``train/`` (losses, KL,
clipping, the optimiser), ``sft/`` (the warm start's loss per optimiser step) and ``eval/`` (the held-out
evaluation at the end of a run).
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["REPORT_TO", "Reporter", "check_report_to", "tag"]

REPORT_TO = ("tensorboard", "csv", "wandb", "none")

# Keys (of PPO/GRPO/RFT/ETO/ArCHer metrics) that describe the sampled episodes rather than the update.
_ROLLOUT_KEYS = {
    "pass_rate", "mean_return", "mean_step_reward", "avg_steps", "tool_call_precision", "tool_call_recall",
    "tool_call_f1", "episodes", "kept",
    "mean_episode_length", "env_steps", "rollout_s", "rollout_tokens_per_s", "finish_rate", "truncated_rate",
}


def tag(key: str, group: str | None = None) -> str:
    """The grouped TensorBoard tag of a metric key (``pass_rate`` -> ``rollout/pass_rate``)."""
    if "/" in key:
        return key
    if group is None and key.startswith("eval_"):  # the trainer's periodic evaluation (`TrainConfig.eval_every`)
        return f"eval/{key[len('eval_'):]}"
    if group is None:
        group = "rollout" if key in _ROLLOUT_KEYS or key.startswith(("reward", "return")) else "train"
    return f"{group}/{key}"


def check_report_to(report_to: list[str]) -> None:
    """Raise ValueError (one line) for an unknown target, ``none`` mixed with others, or wandb not installed."""
    bad = [r for r in report_to if r not in REPORT_TO]
    if bad:
        raise ValueError(f"report_to: unknown target(s) {bad}; choose from {list(REPORT_TO)}")
    if "none" in report_to and len(report_to) > 1:
        raise ValueError("report_to: 'none' cannot be combined with other targets")
    if "wandb" in report_to and importlib.util.find_spec("wandb") is None:
        raise ValueError("report_to: 'wandb' needs the wandb package: pip install wandb")


class Reporter:
    """Scalars to TensorBoard (``OUT/tb``) and/or wandb, by grouped tag; `purge_step` drops events of a killed run."""

    def __init__(self, out_dir: Path, report_to: list[str], purge_step: int | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self._tb = None
        self._wandb = None
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(out_dir / "tb"), purge_step=purge_step)
        if "wandb" in report_to:
            import wandb

            # One wandb run per run directory: the SFT, training and eval reporters (and a --resume) share it.
            run_id = hashlib.sha1(str(out_dir.resolve()).encode()).hexdigest()[:16]
            self._wandb = wandb.init(dir=str(out_dir), id=run_id, name=out_dir.name, config=dict(config or {}),
                                     resume="allow")

    def scalars(self, metrics: Mapping[str, float], step: int, group: str | None = None) -> None:
        tagged = {tag(k, group): float(v) for k, v in metrics.items()}
        if self._tb is not None:
            for key, value in tagged.items():
                self._tb.add_scalar(key, value, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(tagged, step=step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
