"""Entry points behind ``steptool train`` and ``steptool eval`` (``steptool_gym.cli`` forwards argv here)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from steptool_agents.config import ALGOS, TrainConfig, load_config

__all__ = ["eval_main", "train_main"]


def _register_envs() -> None:
    import steptool_gym  # noqa: F401 - importing registers the suites
    from steptool_agents.toy import register_toy_env

    register_toy_env()


def _base_config(path: str | None) -> TrainConfig:
    return load_config(path) if path else TrainConfig()


def train_main(argv: list[str]) -> int:
    """``steptool train --algo ALGO --env ENV_ID --model {tiny,smollm2,PATH} --out DIR [--config FILE] [--resume]``."""
    parser = argparse.ArgumentParser(prog="steptool train", description="Train an LLM tool-use agent.")
    parser.add_argument("--algo", choices=ALGOS, default=None, help="overrides the config's algo")
    parser.add_argument("--env", default=None, help="Gymnasium env id (overrides the config)")
    parser.add_argument("--model", default=None, help="tiny, smollm2 or a local HF model directory")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", default=None, help="TOML/JSON/YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's latest checkpoint")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--updates", type=int, default=None, help="number of PPO/GRPO updates")
    parser.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    args = parser.parse_args(argv)
    _register_envs()
    from steptool_agents.train import run_training

    try:
        cfg = _base_config(args.config)
        data = cfg.to_dict()
        if args.algo:
            data["algo"] = args.algo
        if args.env:
            data["env_id"] = args.env
        if args.model:
            data["model"]["name"] = args.model
        if args.seed is not None:
            data["seed"] = args.seed
        if args.updates is not None:
            data["ppo"]["updates"] = args.updates
        cfg = TrainConfig.from_dict(data)
    except (ValueError, OSError) as exc:
        print(f"steptool train: {exc}", file=sys.stderr)
        return 2
    if args.resume and not (Path(args.out) / "checkpoints" / "latest").exists() and cfg.algo not in ("sft", "rft"):
        print(f"steptool train: --resume given but {args.out} has no checkpoint; starting fresh", file=sys.stderr)
    summary = run_training(cfg, args.out, resume=args.resume, console=Console(stderr=True),
                           evaluate=not args.no_eval)
    print(json.dumps(summary, indent=2, default=float))
    return 0


def eval_main(argv: list[str]) -> int:
    """``steptool eval --env ENV_ID --model DIR --split SPLIT [--episodes N] [--json]``."""
    parser = argparse.ArgumentParser(prog="steptool eval", description="Evaluate a trained agent.")
    parser.add_argument("--env", required=True)
    parser.add_argument("--model", required=True, help="run directory or HF model directory")
    parser.add_argument("--split", default="test_instruction")
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--config", default=None, help="config of the run (defaults to MODEL/config.json)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    _register_envs()
    from steptool_agents.train import evaluate_policy, load_run_policy

    run_cfg = Path(args.model) / "config.json"
    try:
        if args.config:
            cfg = load_config(args.config)
        elif run_cfg.exists() and "algo" in json.loads(run_cfg.read_text()):
            cfg = TrainConfig.from_dict(json.loads(run_cfg.read_text()))
        else:
            cfg = TrainConfig()
        cfg = cfg.replace(env_id=args.env)
        if args.episodes < 1:
            raise ValueError("--episodes must be >= 1")
    except (ValueError, OSError) as exc:
        print(f"steptool eval: {exc}", file=sys.stderr)
        return 2
    policy = load_run_policy(args.model, cfg)
    result = evaluate_policy(policy, cfg, args.split, args.episodes, seed=args.seed, greedy=not args.sample)
    if args.json:
        print(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))
    return 0
