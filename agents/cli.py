"""Entry points behind ``steptool train`` and ``steptool eval`` (``steptool_gym.cli`` forwards argv here).

``python -m steptool_agents.cli {train,eval} ...`` runs them too; that is the module torchrun and
``accelerate launch -m`` start once per process for data-parallel training.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from rich.console import Console

from steptool_agents import registry
from steptool_agents.config import TrainConfig, load_config
from steptool_gym.errors import DataError

__all__ = ["add_eval_model_arguments", "eval_main", "eval_parser", "main", "train_main"]


def _offline() -> None:
    """Process defaults, set before torch / transformers / huggingface_hub are imported (the user's values win).

    No hub look-ups: models are local directories. ``OMP_WAIT_POLICY=PASSIVE``: idle OpenMP threads sleep
    instead of spinning; with ``threads`` > 1 on a busy CPU, spinning threads made SFT 7.8x slower than 1 thread,
    passive ones 1.6x (``benchmarks/thread_policy.py``).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _fail(command: str, exc: BaseException) -> int:
    print(f"steptool {command}: {exc}", file=sys.stderr)
    return 2


def _register_envs() -> None:
    import steptool_gym  # noqa: F401 - importing registers the suites
    from steptool_envs.toy import register_toy_env

    register_toy_env()


def _base_config(path: str | None) -> TrainConfig:
    return load_config(path) if path else TrainConfig()


def train_main(argv: list[str]) -> int:
    """``steptool train --algo ALGO --env ENV_ID --model {tiny,smollm2,PATH} --out DIR [--config FILE] [--resume]``."""
    parser = argparse.ArgumentParser(
        prog="steptool train", description="Train an LLM tool-use agent (sb3-* algorithms: steptool train "
        "--algo sb3-ppo --help). Writes OUT/config.json, OUT/model, OUT/final, OUT/metrics.csv, OUT/tb "
        "(tensorboard --logdir OUT/tb) and OUT/eval.json.")
    parser.add_argument("--algo", choices=registry.algorithm_names(), default=None,
                        help="overrides the config's algo: " + "; ".join(
                            f"{s.name}: {s.summary}" for s in registry.ALGORITHMS.values()))
    parser.add_argument("--env", default=None, help="Gymnasium env id (overrides the config)")
    parser.add_argument("--model", default=None, help="tiny, smollm2 or a local HF model directory")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", default=None, help="TOML/JSON/YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's latest checkpoint")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", "--updates", dest="updates", type=int, default=None,
                        help="number of training rounds (PPO/GRPO updates, ETO rounds, ArCHer iterations, RFT rounds);"
                             " --updates is its former name")
    parser.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    args = parser.parse_args(argv)
    _offline()
    _register_envs()
    from steptool_agents.artifacts import check_env_id, check_model_name
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
        # Checked before anything is written: a mistake here leaves no partial run directory behind.
        check_env_id(cfg.env_id)
        if not (Path(args.out) / "model" / "config.json").exists():  # an existing OUT/model is reused as is
            check_model_name(cfg.model.name)
        distributed.init_from_env()  # under torchrun / accelerate launch: join the group before any work
        check_data_parallel(cfg)
    except (ValueError, OSError) as exc:
        distributed.shutdown()
        return _fail("train", exc)
    created = not Path(args.out).exists()
    main_rank = distributed.is_main()
    if main_rank and args.resume and latest_checkpoint(Path(args.out)) is None and registry.get(cfg.algo).resumable:
        print(f"steptool train: --resume given but {args.out} has no checkpoint; starting fresh", file=sys.stderr)
    try:
        summary = run_training(cfg, args.out, resume=args.resume, console=Console(stderr=True, quiet=not main_rank),
                               evaluate=not args.no_eval)
    except DataError as exc:  # a malformed data file: one line naming the file and the record
        if created and main_rank:  # nothing of a run that never started stays behind
            shutil.rmtree(args.out, ignore_errors=True)
        return _fail("train", exc)
    finally:
        distributed.shutdown()
    if main_rank:
        print(json.dumps(summary, indent=2, default=float))
    return 0


def eval_parser() -> argparse.ArgumentParser:
    """The options of ``steptool eval --model`` (``steptool eval --help`` lists them beside the scripted ones)."""
    parser = argparse.ArgumentParser(
        prog="steptool eval", description="Evaluate a trained agent. Defaults come from the run saved with --model "
        "(its env, eval split, episodes and seed), so evaluating a run reproduces its OUT/eval.json.")
    add_eval_model_arguments(parser)
    return parser


def add_eval_model_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                             shared: bool = True) -> None:
    """``--model`` and the options only it uses; with `shared`, also --env/--split/--episodes/--seed/--strategy."""
    add = parser.add_argument
    if shared:
        add("--env", default=None, help="Gymnasium env id (default: the run's)")
        add("--split", default=None, help="split (default: the run's eval_split)")
        add("--episodes", type=int, default=None, help="episodes (default: the run's eval_episodes)")
        add("--seed", type=int, default=None, help="first reset seed (default: the run's, i.e. its seed + 777)")
        add("--strategy", choices=("cot", "dfsdt"), default=None,
            help="search strategy (default: batched greedy chains); DFSDT with --width > 1 samples")
        add("--width", type=int, default=2, help="DFSDT children per node")
        add("--max-calls", type=int, default=30, help="DFSDT model-call budget per query")
        add("--temperature", type=float, default=None, help="sampling temperature (default: the run's)")
        add("--records", help="with --strategy: write per-query records (pass_rate_results layout)")
        add("--json", action="store_true", help="print only the JSON result")
    add("--model", default=None, metavar="DIR",
        help="a run directory (steptool train --out), its model/ or final/, or a local HF model directory")
    add("--config", default=None, help="config of the run (default: the one saved with --model)")
    add("--sample", action="store_true", help="with --model: sample instead of greedy decoding")


def eval_main(argv: list[str]) -> int:
    """``steptool eval --model DIR [--env ENV_ID] [--split SPLIT] [--episodes N] [--strategy {cot,dfsdt}] [--json]``.

    Without ``--strategy``: greedy chains, batched over a vector env (fastest). With it: the query-by-query
    searches of `steptool_gym.search` (`search_agent.PolicyAgent`), their metrics, and ``--records``. Defaults
    (env, split, episodes, seed, prompt format, context sizes, env settings) come from the run's saved config.
    """
    args = eval_parser().parse_args(argv)
    _offline()
    _register_envs()
    from steptool_agents.artifacts import check_env_id, eval_defaults, find_run_config, model_source

    try:
        if args.model is None:
            raise ValueError("--model DIR is required (a run directory or a local HF model directory)")
        model_source(args.model)  # one line when DIR holds no model; never a hub look-up
        found = find_run_config(args.model)
        if args.config:
            cfg = load_config(args.config)
        else:
            cfg = found[0] if found else TrainConfig()
        defaults = eval_defaults(cfg) if found or args.config else {"split": "test_instruction", "episodes": 32,
                                                                      "seed": 12345}
        cfg = cfg.replace(env_id=args.env or cfg.env_id)
        check_env_id(cfg.env_id)
        split = args.split or defaults["split"]
        episodes = args.episodes if args.episodes is not None else defaults["episodes"]
        seed = args.seed if args.seed is not None else defaults["seed"]
        if episodes < 1:
            raise ValueError("--episodes must be >= 1")
    except (ValueError, OSError) as exc:
        return _fail("eval", exc)
    import torch

    from steptool_agents.evaluate import evaluate_policy, load_run_policy

    if cfg.threads:  # the run's thread count: the same float reductions as its own evaluation
        torch.set_num_threads(cfg.threads)
    policy = load_run_policy(args.model, cfg)
    console = Console(stderr=True)
    if args.strategy is None:
        result = evaluate_policy(policy, cfg, split, episodes, seed=seed, greedy=not args.sample, console=console)
    else:
        from steptool_agents.search_agent import evaluate_search
        from steptool_gym.records import to_pass_rate_records

        try:
            result, searched = evaluate_search(policy, cfg, split, episodes, args.strategy, seed=seed,
                                               width=args.width, max_calls=args.max_calls,
                                               greedy=False if args.sample else None, temperature=args.temperature)
        except ValueError as exc:  # e.g. --width 0
            return _fail("eval", exc)
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
