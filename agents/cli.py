"""Entry points behind ``steptool train`` and ``steptool eval`` (``steptool_gym.cli`` forwards argv here).

``python -m steptool_agents.cli {train,eval} ...`` runs them too; that is the module torchrun and
``accelerate launch -m`` start once per process for data-parallel training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from steptool_agents import registry
from steptool_agents.config import TrainConfig, load_config
from steptool_gym.errors import DataError

__all__ = ["eval_main", "main", "train_main"]


def _register_envs() -> None:
    import steptool_gym  # noqa: F401 - importing registers the suites
    from steptool_envs.toy import register_toy_env

    register_toy_env()


def _base_config(path: str | None) -> TrainConfig:
    return load_config(path) if path else TrainConfig()


def train_main(argv: list[str]) -> int:
    """``steptool train --algo ALGO --env ENV_ID --model {tiny,smollm2,PATH} --out DIR [--config FILE] [--resume]``."""
    parser = argparse.ArgumentParser(prog="steptool train", description="Train an LLM tool-use agent.")
    parser.add_argument("--algo", choices=registry.algorithm_names(), default=None,
                        help="overrides the config's algo: " + "; ".join(
                            f"{s.name}: {s.summary}" for s in registry.ALGORITHMS.values()))
    parser.add_argument("--env", default=None, help="Gymnasium env id (overrides the config)")
    parser.add_argument("--model", default=None, help="tiny, smollm2 or a local HF model directory")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", default=None, help="TOML/JSON/YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's latest checkpoint")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--updates", type=int, default=None,
                        help="number of training rounds (PPO/GRPO updates, ETO rounds, ArCHer iterations, RFT rounds)")
    parser.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    args = parser.parse_args(argv)
    _register_envs()
    from steptool_agents.runtime import distributed
    from steptool_agents.runtime.checkpoint import latest_checkpoint
    from steptool_agents.trainer import check_data_parallel, run_training

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
            section, key = registry.get(data["algo"]).rounds
            data[section][key] = args.updates
        cfg = TrainConfig.from_dict(data)
        distributed.init_from_env()  # under torchrun / accelerate launch: join the group before any work
        check_data_parallel(cfg)
    except (ValueError, OSError) as exc:
        print(f"steptool train: {exc}", file=sys.stderr)
        distributed.shutdown()
        return 2
    main_rank = distributed.is_main()
    if main_rank and args.resume and latest_checkpoint(Path(args.out)) is None and registry.get(cfg.algo).resumable:
        print(f"steptool train: --resume given but {args.out} has no checkpoint; starting fresh", file=sys.stderr)
    try:
        summary = run_training(cfg, args.out, resume=args.resume, console=Console(stderr=True, quiet=not main_rank),
                               evaluate=not args.no_eval)
    except DataError as exc:  # a malformed data file: one line naming the file and the record
        print(f"steptool train: {exc}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
    if main_rank:
        print(json.dumps(summary, indent=2, default=float))
    return 0


def eval_main(argv: list[str]) -> int:
    """``steptool eval --env ENV_ID --model DIR --split SPLIT [--episodes N] [--strategy {cot,dfsdt}] [--json]``.

    Without ``--strategy``: greedy chains, batched over a vector env (fastest). With it: the query-by-query
    searches of `steptool_gym.search` (`search_agent.PolicyAgent`), their metrics, and ``--records``.
    """
    parser = argparse.ArgumentParser(prog="steptool eval", description="Evaluate a trained agent.")
    parser.add_argument("--env", required=True)
    parser.add_argument("--model", required=True, help="run directory or HF model directory")
    parser.add_argument("--split", default="test_instruction")
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--config", default=None, help="config of the run (defaults to MODEL/config.json)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--strategy", choices=("cot", "dfsdt"), default=None,
                        help="search strategy (default: batched greedy chains); DFSDT with --width > 1 samples")
    parser.add_argument("--width", type=int, default=2, help="DFSDT children per node")
    parser.add_argument("--max-calls", type=int, default=30, help="DFSDT model-call budget per query")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the run's)")
    parser.add_argument("--records", help="with --strategy: write per-query records (pass_rate_results layout)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    _register_envs()
    from steptool_agents.evaluate import evaluate_policy, load_run_policy

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
    if args.strategy is None:
        result = evaluate_policy(policy, cfg, args.split, args.episodes, seed=args.seed, greedy=not args.sample)
    else:
        from steptool_agents.search_agent import evaluate_search
        from steptool_gym.records import to_pass_rate_records

        try:
            result, searched = evaluate_search(policy, cfg, args.split, args.episodes, args.strategy, seed=args.seed,
                                               width=args.width, max_calls=args.max_calls,
                                               greedy=False if args.sample else None, temperature=args.temperature)
        except ValueError as exc:  # e.g. --width 0
            print(f"steptool eval: {exc}", file=sys.stderr)
            return 2
        if args.records:
            Path(args.records).write_text(json.dumps(to_pass_rate_records(searched), indent=2))
    if args.json:
        print(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m steptool_agents.cli {train,eval} ARGS``."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"train": train_main, "eval": eval_main}
    if not argv or argv[0] not in commands:
        print("usage: python -m steptool_agents.cli {train,eval} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
