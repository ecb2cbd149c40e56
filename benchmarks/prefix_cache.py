"""Generation with and without the prefix KV cache (`rollout.prefix_cache`) on the same held-out episodes.

    python benchmarks/prefix_cache.py [--model DIR] [--episodes 16] [--repeats 3] [--threads 2] [--note TEXT]

One model (default: SmolLM2-135M-Instruct as converted for the quickstart; pass a run's ``model/`` directory for an
SFT model, whose episodes are longer), the quickstart preset (configs/quickstart.toml), greedy evaluation of the same
fixed held-out task list with `HFGenerator` (``model.generate``, the whole context re-encoded every turn) and
`PrefixKVGenerator` (each episode's keys and values kept between turns), alternating, `--repeats` rounds each.
Reports wall and CPU seconds (medians), the tokens each side encoded per episode, and whether both played the
same episodes token for token (greedy: they should, up to float rounding at a near-tie).
Writes benchmarks/results/prefix_cache.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import time
from pathlib import Path
from typing import Any

from common import machine_info, package_versions

RESULTS = Path(__file__).parent / "results" / "prefix_cache.json"
PRESET = Path(__file__).resolve().parent.parent / "configs" / "quickstart.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="", help="a base model directory (default: SmolLM2 as the quickstart uses)")
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--note", default="")
    args = ap.parse_args()

    import torch
    from rich.console import Console

    from steptool_agents.config import load_config
    from steptool_agents.evaluate import eval_task_ids
    from steptool_agents.policy.models import load_policy
    from steptool_agents.policy.prompts import make_format
    from steptool_agents.progress import progress
    from steptool_agents.rollout.collect import HFGenerator, StopCondition, collect_episodes
    from steptool_agents.rollout.envs import env_kwargs, fixed_task_vector_env
    from steptool_agents.rollout.prefix_cache import PrefixKVGenerator
    from steptool_agents.warmstart import untrained_model_dir

    torch.set_num_threads(args.threads)
    console = Console()
    cfg = load_config(PRESET)
    model_dir = Path(args.model) if args.model else untrained_model_dir(cfg, Path("."))
    policy = load_policy(model_dir, cfg.model)
    tok = policy.tokenizer
    fmt = make_format(cfg.model.prompt_format, tok)
    stop = StopCondition.from_config(tok, cfg.rollout)
    split = cfg.eval_split
    tasks = eval_task_ids(cfg, split, args.episodes, 12345)
    n = min(cfg.rollout.num_envs, args.episodes)

    def play(kind: str) -> dict[str, Any]:
        if kind == "full":
            gen: Any = HFGenerator(policy.model, tok, stop, cfg.rollout.max_new_tokens, sampler=cfg.rollout.sampler())
        else:
            gen = PrefixKVGenerator(policy.model, tok, stop, cfg.rollout.max_new_tokens, cfg.rollout.sampler())
        envs = fixed_task_vector_env(cfg.env_id, n, tasks, **env_kwargs(cfg, split))
        contexts: list[int] = []

        def counting(ctxs: list[list[int]], greedy: bool = False) -> Any:
            contexts.extend(len(c) for c in ctxs)
            return gen(ctxs, greedy=greedy)

        wall, cpu = time.perf_counter(), time.process_time()
        try:
            with progress(console, kind, args.episodes) as bar:
                trajs = collect_episodes(envs, counting if kind == "full" else gen, fmt, tok, args.episodes,
                                         [12345 + i for i in range(n)], cfg.model.max_context_tokens,
                                         cfg.rollout.max_new_tokens, greedy=True,
                                         max_prompt_tokens=cfg.model.max_prompt_tokens,
                                         on_episode=lambda k: bar.update(completed=k))
        finally:
            envs.close()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        encoded = sum(contexts) if kind == "full" else gen.encoded_tokens
        return {"wall_s": wall, "cpu_s": cpu, "encoded_per_episode": encoded / args.episodes,
                "actions": sum(t.num_steps for t in trajs), "pass_rate": sum(t.is_solved for t in trajs) / len(trajs),
                "played": sorted((t.task_id, t.tokens) for t in trajs)}

    rounds: dict[str, list[dict[str, Any]]] = {"full": [], "cached": []}
    for r in range(args.repeats):
        for kind in ("full", "cached") if r % 2 == 0 else ("cached", "full"):
            rounds[kind].append(play(kind))
            last = rounds[kind][-1]
            print(f"round {r + 1} {kind}: wall {last['wall_s']:.1f}s cpu {last['cpu_s']:.1f}s, "
                  f"{last['encoded_per_episode']:.0f} tokens encoded per episode", flush=True)

    def med(kind: str, key: str) -> float:
        return statistics.median(x[key] for x in rounds[kind])

    same = all(a["played"] == b["played"] for a, b in zip(rounds["full"], rounds["cached"], strict=True))
    report = {
        "command": "python benchmarks/prefix_cache.py " + " ".join(f"--{k} {shlex.quote(str(v))}"
                                                                  for k, v in vars(args).items() if v and k != "note"),
        "machine": machine_info(args.note), "versions": package_versions(),
        "model": str(model_dir), "episodes": args.episodes, "repeats": args.repeats, "threads": args.threads,
        "full": {k: med("full", k) for k in ("wall_s", "cpu_s", "encoded_per_episode", "pass_rate")},
        "cached": {k: med("cached", k) for k in ("wall_s", "cpu_s", "encoded_per_episode", "pass_rate")},
        "same_episodes": same,
    }
    report["speedup_wall"] = report["full"]["wall_s"] / report["cached"]["wall_s"]
    report["speedup_cpu"] = report["full"]["cpu_s"] / report["cached"]["cpu_s"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("machine", "versions")}, indent=2))


if __name__ == "__main__":
    main()
