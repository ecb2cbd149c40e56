"""Quickstart: tiny model → SFT warm start on oracle demonstrations → StepTool PPO → held-out comparison.

    python -m steptool_agents.quickstart --out runs/quickstart

Builds a tiny Llama with a BPE tokenizer trained on the env's text, behaviour-clones the gold policy, then runs
step-grained PPO from that SFT model (the KL reference), evaluates both greedily on the same held-out episodes,
prints a table and writes ``comparison.png`` (pass rates + learning curve). The preset is
``configs/quickstart.toml``; `quickstart_config` is the same preset in code (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from steptool_agents.config import TrainConfig, load_config

__all__ = ["main", "quickstart_config"]


def quickstart_config() -> TrainConfig:
    """The quickstart preset (mirrors ``configs/quickstart.toml``)."""
    return TrainConfig.from_dict({
        "algo": "steptool",
        "env_id": "StepTool-ToolBench-v0",
        "split": "train",
        "group": "G1",
        "eval_split": "test_instruction",
        "eval_episodes": 48,
        "max_steps": 6,
        "seed": 0,
        "checkpoint_every": 5,
        "threads": 2,
        "model": {"name": "tiny", "hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 384,
                  "vocab_size": 4096, "tokenizer_episodes": 200, "prompt_format": "react_compact",
                  "max_context_tokens": 768, "max_prompt_tokens": 160, "lora_r": 16, "lora_alpha": 32},
        "sft": {"episodes": 1200, "epochs": 4, "learning_rate": 3e-3, "batch_size": 4},
        "rollout": {"num_envs": 8, "episodes_per_update": 16, "max_new_tokens": 96, "temperature": 0.7},
        "ppo": {"mode": "steptool", "updates": 16, "learning_rate": 1e-3, "n_epochs": 2, "minibatch_size": 8,
                "grad_accum_steps": 2, "kl_coef": 0.02, "target_approx_kl": 0.1},
    })


def _plot(out: Path, results: dict[str, dict[str, Any]], rows: list[dict[str, str]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    names = list(results)
    metrics = ("pass_rate", "mean_return", "tool_call_f1")
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [m + i * width for m in range(len(metrics))]
        bars = ax1.bar(xs, [results[name][k] for k in metrics], width, label=name)
        ax1.bar_label(bars, fmt="%.2f", fontsize=7)
    ax1.set_xticks([m + 0.4 - width / 2 for m in range(len(metrics))], metrics)
    ax1.legend()
    ax1.set_title("held-out split (greedy)")
    if rows:
        xs = [float(r["update"]) for r in rows]
        ax2.plot(xs, [float(r["mean_step_reward"]) for r in rows], marker="o", ms=3, label="mean step reward")
        ax2.plot(xs, [float(r["pass_rate"]) for r in rows], marker="s", ms=3, label="train pass rate")
        ax2.set_xlabel("PPO update")
        ax2.legend()
        ax2.grid(alpha=0.3)
    ax2.set_title("StepTool PPO (train split)")
    fig.tight_layout()
    path = out / "comparison.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steptool_agents.quickstart")
    parser.add_argument("--out", default="runs/quickstart")
    parser.add_argument("--config", default=None, help="override the built-in preset")
    parser.add_argument("--env", default=None, help="env id (default: the preset's)")
    args = parser.parse_args(argv)
    import torch

    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.metrics import read_csv
    from steptool_agents.models import load_policy
    from steptool_agents.train import build_base_model, evaluate_policy, run_training, seed_everything

    cfg = load_config(args.config) if args.config else quickstart_config()
    if args.env:
        cfg = cfg.replace(env_id=args.env)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    console = Console()
    out = Path(args.out)
    start = time.perf_counter()
    seed_everything(cfg.seed)
    console.rule(f"[bold]StepTool quickstart on {cfg.env_id}")
    console.print("1/4 tiny model + tokenizer, SFT warm start on oracle demonstrations")
    build_base_model(cfg, out, console)
    t_sft = time.perf_counter()
    console.print("2/4 evaluating the SFT model on the held-out split")
    sft_policy = load_policy(out / "model", cfg.model)
    results = {"SFT": evaluate_policy(sft_policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777)}
    del sft_policy
    t_eval = time.perf_counter()
    console.print(f"3/4 StepTool PPO: {cfg.ppo.updates} updates × {cfg.rollout.episodes_per_update} episodes")
    summary = run_training(cfg, out, console=console, evaluate=False)
    t_ppo = time.perf_counter()
    console.print("4/4 evaluating StepTool on the held-out split")
    policy = load_policy(out / "model", cfg.model, adapter_dir=out / "final")
    results["StepTool"] = evaluate_policy(policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777)
    elapsed = time.perf_counter() - start

    table = Table(title=escape(f"{cfg.env_id} [{cfg.eval_split}], {cfg.eval_episodes} episodes, greedy"))
    for col in ("method", "pass rate", "avg steps", "call precision", "call recall", "call F1", "mean return"):
        table.add_column(col, justify="right" if col != "method" else "left")
    for name, r in results.items():
        table.add_row(name, f"{r['pass_rate']:.3f}", f"{r['avg_steps']:.2f}", f"{r['tool_call_precision']:.3f}",
                      f"{r['tool_call_recall']:.3f}", f"{r['tool_call_f1']:.3f}", f"{r['mean_return']:.3f}")
    console.print(table)
    rows = read_csv(out / "metrics.csv") if (out / "metrics.csv").exists() else []
    png = _plot(out, results, rows)
    timings = {"sft_s": t_sft - start, "eval_sft_s": t_eval - t_sft, "ppo_s": t_ppo - t_eval,
               "eval_steptool_s": elapsed - (t_ppo - start), "total_s": elapsed,
               "ppo_train_tokens_per_s": summary.get("train", {}).get("train_tokens_per_s", 0.0)}
    (out / "quickstart.json").write_text(json.dumps({"results": results, "timings": timings}, indent=2))
    console.print(f"wall time {elapsed / 60:.1f} min (SFT {timings['sft_s']:.0f}s, PPO {timings['ppo_s']:.0f}s); "
                  f"plot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
