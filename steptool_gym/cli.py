"""The ``steptool`` command line: ``envs``, ``play``, ``bench``, ``serve`` (openenv extra), and (with the agents
extra) ``train``/``eval``."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

__all__ = ["main"]


def _env_ids() -> list[str]:
    import steptool_gym  # noqa: F401 - registers the envs

    return [env_id for env_id in gym.registry if env_id.startswith("StepTool-")]


def _describe(env_id: str) -> str:
    spec = gym.spec(env_id)
    module, _, name = str(spec.entry_point).partition(":")
    kwargs = ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items())
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
        doc = (cls.__doc__ or "").strip().splitlines()[0]
    except ImportError as exc:  # a suite whose extra is missing still gets listed
        doc = f"(unavailable: {exc})"
    return f"{doc} {('[' + kwargs + ']') if kwargs else ''}".strip()


def _parse_kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are Python literals when they parse as one, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"steptool: --env-kwarg expects key=value, got {pair!r}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def _cmd_envs(args: argparse.Namespace) -> int:
    rows = [(env_id, _describe(env_id)) for env_id in _env_ids()]
    if args.json:
        print(json.dumps([{"id": i, "description": d} for i, d in rows], indent=2))
    else:
        width = max(len(i) for i, _ in rows)
        for env_id, desc in rows:
            print(f"{env_id:<{width}}  {desc}")
    return 0


def _make(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    if env_id not in _env_ids() and ":" not in env_id:
        raise SystemExit(f"steptool: unknown env {env_id!r}; run 'steptool envs' for the list")
    try:
        return gym.make(env_id, **kwargs)
    except (ImportError, ValueError, TypeError) as exc:
        raise SystemExit(f"steptool: cannot make {env_id}: {exc}") from None


def _cmd_play(args: argparse.Namespace) -> int:
    from steptool_gym.records import metrics
    from steptool_gym.scripted import OracleAgent, RandomAgent
    from steptool_gym.search import run_search

    env = _make(args.env_id, _parse_kwargs(args.env_kwarg))
    agent = OracleAgent() if args.agent == "oracle" else RandomAgent(args.seed)
    if args.json:
        results = run_search("cot", env, agent, args.episodes, seed=args.seed)
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"{args.agent} on {args.env_id}", total=args.episodes)
            results = run_search("cot", env, agent, args.episodes, seed=args.seed,
                                 progress=lambda n: bar.update(task, completed=n))
    summary = {"env": args.env_id, "agent": args.agent, "seed": args.seed, "episodes": len(results),
               **metrics(results)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from steptool_gym.bench import env_throughput

    _make(args.env_id, _parse_kwargs(args.env_kwarg)).close()  # fail early with a clear message
    result = env_throughput(args.env_id, tasks=args.tasks, min_seconds=args.seconds, repeats=args.repeats,
                            **_parse_kwargs(args.env_kwarg))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value:,.1f}" if isinstance(value, float) else f"{key:>20}: {value}")
    return 0


def _algo(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--algo" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--algo="):
            return arg.split("=", 1)[1]
    return ""


def _forward(name: str, argv: list[str]) -> int:
    if name == "train" and _algo(argv).startswith("sb3-"):
        from steptool_gym.sb3_train import train_main

        return train_main(argv)
    try:
        from steptool_agents import cli as agents_cli
    except ImportError as exc:
        print(f"steptool {name}: needs the agents extra ({exc}): pip install 'steptool-gym[agents]'", file=sys.stderr)
        return 2
    return int(getattr(agents_cli, f"{name}_main")(argv))


def _cmd_eval(args: argparse.Namespace) -> int:
    from steptool_gym.endpoint_agent import EndpointAgent
    from steptool_gym.records import metrics, to_pass_rate_records
    from steptool_gym.scripted import OracleAgent, RandomAgent
    from steptool_gym.search import run_search

    if args.config or args.sample:
        raise SystemExit("steptool eval: --config and --sample apply to a trained agent: add --model DIR")
    if not args.env:
        raise SystemExit("steptool eval: --env ENV_ID is required (or --model DIR for a trained agent)")
    kwargs = _parse_kwargs(args.env_kwarg)
    if args.split:
        kwargs["split"] = args.split
    env = _make(args.env, kwargs)
    if args.agent == "endpoint":
        if not args.endpoint or not args.endpoint_model:
            raise SystemExit("steptool eval: --agent endpoint needs --endpoint URL and --endpoint-model NAME")
        agent: Any = EndpointAgent(args.endpoint, args.endpoint_model, temperature=args.temperature)
    else:
        agent = OracleAgent() if args.agent == "oracle" else RandomAgent(args.seed)
    extra = {"width": args.width, "max_calls": args.max_calls} if args.strategy == "dfsdt" else {}
    results = run_search(args.strategy, env, agent, args.episodes, seed=args.seed, **extra)
    summary = {"env": args.env, "agent": args.agent, "strategy": args.strategy, "split": args.split,
               "episodes": len(results), **metrics(results)}
    if args.records:
        with open(args.records, "w", encoding="utf-8") as fh:
            json.dump(to_pass_rate_records(results), fh, indent=2)
    print(json.dumps(summary, indent=2) if args.json else "\n".join(f"{k:>20}: {v}" for k, v in summary.items()))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """``steptool serve ENV_ID``: an OpenEnv-compatible server (steptool_gym.integrations.openenv_server)."""
    import os

    try:
        from steptool_gym.integrations.openenv_server import ServeConfig, serve
    except ImportError as exc:
        raise SystemExit(f"steptool serve: {exc}") from None
    if args.env_id not in _env_ids() and ":" not in args.env_id:
        raise SystemExit(f"steptool: unknown env {args.env_id!r}; run 'steptool envs' for the list")
    token = os.environ.get("STEPTOOL_SERVE_TOKEN") or None
    try:
        config = ServeConfig(args.env_id, host=args.host, port=args.port, max_sessions=args.max_sessions,
                             idle_timeout_s=args.idle_timeout if args.idle_timeout > 0 else None, token=token,
                             max_request_bytes=args.max_request_bytes, env_kwargs=_parse_kwargs(args.env_kwarg))
        if config.host not in ("127.0.0.1", "localhost", "::1") and token is None:
            print(f"steptool serve: warning: listening on {config.host} without a token "
                  "(set STEPTOOL_SERVE_TOKEN)", file=sys.stderr)
        serve(config, log_level=args.log_level)
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"steptool serve: {str(exc).splitlines()[0]}") from None
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steptool", description="StepTool-Gym: tool-use envs and step-grained RL")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("envs", help="list registered environment IDs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_envs)

    p = sub.add_parser("play", help="run a scripted agent and print its metrics")
    p.add_argument("env_id")
    p.add_argument("--agent", choices=("oracle", "random"), default="oracle")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE", help="e.g. split=test_tool")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_play)

    p = sub.add_parser("bench", help="benchmarks")
    bench = p.add_subparsers(dest="what", required=True)
    b = bench.add_parser("env", help="oracle-replay steps per CPU-/wall-second of one env next to its suite's floor")
    b.add_argument("env_id")
    b.add_argument("--tasks", type=int, default=200)
    b.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement and round")
    b.add_argument("--repeats", type=int, default=3, help="rounds (figures are medians)")
    b.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench)

    p = sub.add_parser(
        "eval", help="evaluate an agent with CoT@1 or DFSDT (--model DIR: a trained LLM agent)",
        description="Evaluate a scripted or endpoint agent (--agent) or, with --model DIR, a trained LLM agent. "
        "With --model, --env/--split/--episodes/--seed default to the run's own (its eval.json is reproduced) "
        "and --strategy defaults to batched greedy chains.")
    p.add_argument("--env", default=None, help="env id (required without --model)")
    p.add_argument("--agent", choices=("oracle", "random", "endpoint"), default="oracle")
    p.add_argument("--strategy", choices=("cot", "dfsdt"), default="cot")
    p.add_argument("--split", default=None)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=2, help="DFSDT children per node")
    p.add_argument("--max-calls", type=int, default=30, help="DFSDT agent-call budget per query")
    p.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--endpoint-model", help="model name served at --endpoint")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--records", help="write per-query records (pass_rate_results layout) to this JSON file")
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    llm = p.add_argument_group("trained LLM agent (needs the agents extra)")
    llm.add_argument("--model", metavar="DIR",
                     help="a run directory (steptool train --out), its model/ or final/, or a local HF model directory")
    llm.add_argument("--config", help="config of the run (default: the one saved with --model)")
    llm.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("serve", help="serve an env over OpenEnv's HTTP/WebSocket protocol (extra: openenv)")
    p.add_argument("env_id")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-sessions", type=int, default=64, help="concurrent WebSocket sessions (one env each)")
    p.add_argument("--idle-timeout", type=float, default=300.0, help="seconds before an idle session closes (0: never)")
    p.add_argument("--max-request-bytes", type=int, default=1 << 20, help="largest HTTP body / WebSocket message")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE")
    p.epilog = "A bearer token is read from the STEPTOOL_SERVE_TOKEN environment variable (never from argv)."
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("train", help="train an agent: LLM algorithms (agents extra) or sb3-* (sb3 extra)",
                       add_help=False)
    p.set_defaults(forward="train")
    return parser


def _has_model(argv: Sequence[str]) -> bool:
    """``--model DIR`` or ``--model=DIR`` (argparse accepts both; so does this check)."""
    return any(a == "--model" or a.startswith("--model=") for a in argv) and not {"-h", "--help"} & set(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] == "train" or (argv[0] == "eval" and _has_model(argv))):
        return _forward(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "play" and args.episodes < 1:
        raise SystemExit("steptool: --episodes must be >= 1")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
