"""Which torch thread policy trains fastest on a busy small CPU: 1 thread, 2 threads, or 2 with OMP_WAIT_POLICY=PASSIVE.

    python benchmarks/thread_policy.py [--repeats 3] [--demos 96] [--load 2]

Each trial is a fresh process (OpenMP reads ``OMP_WAIT_POLICY`` at start-up) that builds the quickstart's tiny
model and times one SFT epoch on `--demos` oracle demos (the quickstart's SFT step, shortened). `--load N` keeps
N busy-looping processes running during every trial, i.e. the "busy 2-core machine" of issue 20. Conditions are
interleaved (1, 2, 2+PASSIVE, 1, 2, ...) so drifting background load hits all alike; the result is the median
wall and CPU seconds per condition and their ratio to 1 thread. Writes ``benchmarks/results/thread_policy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from steptool_agents.progress import progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, package_versions

CONDITIONS = {"1 thread": (1, None), "2 threads": (2, None), "2 threads, OMP_WAIT_POLICY=PASSIVE": (2, "PASSIVE")}

TRIAL = r"""
import json, sys, time, resource
import torch
torch.set_num_threads(int(sys.argv[1]))
import steptool_gym  # noqa: F401
from steptool_agents.quickstart import quickstart_config
from steptool_agents.policy.models import Policy, build_tiny_model, train_bpe_tokenizer
from steptool_agents.policy.prompts import make_format
from steptool_agents.algorithms.sft import sft_train
from steptool_agents.rollout.oracle import demo_trajectories, episode_texts, oracle_episodes
from steptool_agents.rollout.envs import env_kwargs
cfg = quickstart_config()
m = cfg.model
eps = oracle_episodes(cfg.env_id, int(sys.argv[2]), 0, **env_kwargs(cfg, cfg.split))
tok = train_bpe_tokenizer(episode_texts(eps, "</s>", m.prompt_format), m.vocab_size)
trajs = demo_trajectories(eps, make_format(m.prompt_format, tok), tok, m.max_prompt_tokens)
policy = Policy(build_tiny_model(m, tok, 0), tok, m)
cpu0, wall0 = time.process_time(), time.perf_counter()
sft_train(policy.model, trajs, int(tok.pad_token_id), epochs=1, lr=cfg.sft.learning_rate,
          batch_size=cfg.sft.batch_size, max_tokens=m.max_context_tokens, seed=0)
print(json.dumps({"wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0}))
"""


def trial(threads: int, wait_policy: str | None, demos: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    out = subprocess.run([sys.executable, "-c", TRIAL, str(threads), str(demos)], env=env, check=True,
                         capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict]:
    """Median wall/CPU seconds per condition and their ratio to 1 thread (conditions with runs only)."""
    summary = {name: {"median_wall_s": statistics.median(r["wall_s"] for r in rs),
                      "median_cpu_s": statistics.median(r["cpu_s"] for r in rs), "runs": rs}
               for name, rs in runs.items() if rs}
    base = summary.get("1 thread")
    for row in summary.values():
        if base:
            row["wall_vs_1_thread"] = row["median_wall_s"] / base["median_wall_s"]
            row["cpu_vs_1_thread"] = row["median_cpu_s"] / base["median_cpu_s"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demos", type=int, default=96)
    parser.add_argument("--load", type=int, default=2, help="busy-looping processes during the trials")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "thread_policy.json"))
    args = parser.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CONDITIONS}
    start = time.perf_counter()

    def write(complete: bool) -> dict:
        result = {"benchmark": "thread_policy", "what": f"one SFT epoch, quickstart tiny model, {args.demos} demos",
                  "background_load_processes": args.load, "load_average_1m": os.getloadavg()[0],
                  "repeats": args.repeats, "complete": complete, "total_s": time.perf_counter() - start,
                  "conditions": summarise(runs), "machine": machine_info(), "packages": package_versions()}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")  # after every trial: partial results survive
        return result

    try:
        plan = [name for _ in range(args.repeats) for name in CONDITIONS]
        with progress(Console(stderr=True), "trials", len(plan)) as bar:
            for name in plan:
                runs[name].append(trial(*CONDITIONS[name], args.demos))
                write(False)
                bar.update(advance=1, info=f"{name}: {runs[name][-1]['wall_s']:.1f}s")
    finally:
        for hog in hogs:
            hog.kill()
    for name, row in write(True)["conditions"].items():
        print(f"{name:<38} wall {row['median_wall_s']:7.1f}s ({row['wall_vs_1_thread']:.2f}x)  "
              f"cpu {row['median_cpu_s']:7.1f}s ({row['cpu_vs_1_thread']:.2f}x)")


if __name__ == "__main__":
    main()
