"""GPU check for a lent machine: generation and training tokens/s, then the quickstart scaled to one GPU.

    python benchmarks/gpu_quickstart.py [--out runs/gpu_quickstart] [--config configs/gpu_quickstart.toml]

1. Generation: 48 greedy held-out episodes of the untrained SmolLM2 with the preset's rollout width; tokens/s =
   sampled tokens / wall time (prefill included, as a rollout pays it).
2. Training: one LoRA SFT epoch over 64 oracle demonstrations; tokens/s = non-padding tokens / wall time.
3. The quickstart (`steptool_agents.quickstart`) on the preset: SFT warm start, StepTool PPO, held-out table
   (untrained, SFT, StepTool pass rate with 95% intervals) and plot in OUT.

Needs CUDA (one line and exit 2 otherwise; CI never runs it). Writes benchmarks/results/gpu_quickstart.json with
the machine, both throughputs, the table and the wall time of each part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common import machine_info, package_versions

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/gpu_quickstart.py")
    parser.add_argument("--out", default="runs/gpu_quickstart")
    parser.add_argument("--config", default=str(HERE.parent / "configs" / "gpu_quickstart.toml"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        print("gpu_quickstart: no CUDA device visible to torch; run it on a GPU machine", file=sys.stderr)
        return 2
    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents import quickstart
    from steptool_agents.algorithms.sft import sft_train
    from steptool_agents.config import load_config
    from steptool_agents.evaluate import evaluate_policy
    from steptool_agents.policy.models import load_policy
    from steptool_agents.policy.prompts import make_format
    from steptool_agents.rollout.envs import env_kwargs
    from steptool_agents.rollout.oracle import demo_trajectories, oracle_episodes
    from steptool_agents.warmstart import untrained_model_dir

    cfg = load_config(args.config)
    out = Path(args.out)
    policy = load_policy(untrained_model_dir(cfg, out), cfg.model)
    start = time.perf_counter()
    gen = evaluate_policy(policy, cfg, cfg.eval_split, 48, seed=cfg.seed + 777)
    gen_s = time.perf_counter() - start
    sampled = gen["action_tokens"]
    episodes = oracle_episodes(cfg.env_id, 64, cfg.seed, **env_kwargs(cfg, cfg.split))
    demos = demo_trajectories(episodes, make_format(cfg.model.prompt_format, policy.tokenizer), policy.tokenizer)
    train = sft_train(policy.model, demos, int(policy.tokenizer.pad_token_id), epochs=1, lr=cfg.sft.learning_rate,
                      batch_size=cfg.sft.batch_size, max_tokens=cfg.model.max_context_tokens)
    del policy
    torch.cuda.empty_cache()
    start = time.perf_counter()
    rc = quickstart.main(["--out", str(out), "--config", args.config, "--fresh"])
    summary = json.loads((out / "quickstart.json").read_text())
    report = {"machine": {**machine_info(), "gpu": torch.cuda.get_device_name(0)}, "versions": package_versions(),
              "config": cfg.to_dict(), "generation": {"episodes": 48, "wall_s": gen_s, "sampled_tokens": sampled,
                                                      "tokens_per_s": sampled / gen_s},
              "training": {"tokens_per_s": train["tokens_per_s"], "demos": len(demos)},
              "quickstart": {**summary, "wall_s": time.perf_counter() - start}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gpu_quickstart.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"generation_tokens_per_s": report["generation"]["tokens_per_s"],
                      "training_tokens_per_s": train["tokens_per_s"],
                      "pass_rate": {k: v["pass_rate"] for k, v in summary["results"].items()},
                      "quickstart_wall_s": report["quickstart"]["wall_s"]}, indent=2))
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
