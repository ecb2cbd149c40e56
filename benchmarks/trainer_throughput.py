"""Trainer throughput: one StepTool PPO optimisation pass vs TRL's GRPOTrainer on the same model and batch.

    python benchmarks/trainer_throughput.py [--model tiny|smollm2|DIR] [--batch 8] [--repeats 3] [--threads 1]
                                            [--note TEXT] [--json]

Needs the ``bench`` extra (``pip install 'steptool-gym[bench]'``: TRL). Method:

* One fixed batch: `--batch` gold episodes of StepTool-ToolBench-v0 (G1, train) tokenised as the SFT
  demonstrations are (multi-turn: prompt, then actions interleaved with tool observations), cut to the
  preset's context (configs/quickstart.toml), and one base model (the tiny Llama of the preset, SmolLM2 or a
  local HF directory) with the preset's LoRA adapter on both sides. Both sides run fp32 on the CPU with the
  same torch thread count, each in a fresh process so that peak memory is its own.
* StepTool: `StepToolPPO.train` on the scored batch (``compute_advantages`` runs once, untimed),
  one epoch, the whole batch as one minibatch: forward of policy + value head, clipped surrogate + value
  loss, backward, clip, AdamW step.
* TRL: GRPO's generation is not comparable (ours generates in the rollout, outside `train`), so only its
  optimisation step is timed, as `Trainer.training_step` does it minus `_prepare_inputs`:
  ``compute_loss`` + ``accelerator.backward`` + clip + optimizer step, on inputs built from the same
  trajectories (prompt = tokens before the first action, left-padded; completion = the rest, right-padded,
  ``tool_mask`` = our action mask, so the loss covers the same tokens). Reference log-probs are precomputed
  (as GRPO does during generation, and as ours does in scoring); matched settings: ``loss_type="bnpo"``
  (token mean over the batch, like ours), ``beta`` = our KL coefficient, no gradient checkpointing, fp32.
* Tokens/s = real (non-padding) tokens of the batch × timed passes / time; both sides see the same tokens.
  Peak memory: the process's peak RSS during the timed passes (the counter is reset after warm-up) and that
  peak minus the RSS before them (the step's working memory). A ratio > 1 means StepTool is faster.

Structural differences that remain (reported with the results): ours adds a value head and loss, and runs the
LM head only at action positions; TRL computes logits at every completion position (tool tokens included).
TRL no longer ships a PPO trainer (checked at run time); the GRPO row is the comparison.
Writes benchmarks/results/trainer_throughput.json (``runs``: one report per model).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import machine_info, package_versions

RESULTS = Path(__file__).parent / "results" / "trainer_throughput.json"
PRESET = Path(__file__).resolve().parent.parent / "configs" / "quickstart.toml"
ENV_ID = "StepTool-ToolBench-v0"


def _rss_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) so it covers only what follows; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _timed(step: Callable[[], None], repeats: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        step()
    fresh_peak = _reset_peak_rss()
    before = _rss_mb("VmRSS")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = _rss_mb("VmHWM")
    return {"step_s": statistics.median(times), "step_s_all": times, "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(peak, 1), "step_extra_mb": round(peak - before, 1) if fresh_peak else None,
            "peak_covers_only_steps": fresh_peak}


def _config(batch: int) -> Any:
    from steptool_agents.config import load_config

    cfg = load_config(PRESET)
    ppo = {**cfg.to_dict()["ppo"], "n_epochs": 1, "minibatch_size": batch, "grad_accum_steps": 1,
           "target_approx_kl": None}
    return cfg.replace(group="G1", ppo=ppo)


def prepare(workdir: Path, model_name: str, batch: int, seed: int) -> dict[str, Any]:
    """Save the base model (``workdir/model``) and the batch's trajectories (both workers load them)."""
    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.policy.models import load_base_model
    from steptool_agents.policy.prompts import make_format
    from steptool_agents.rollout.envs import env_kwargs
    from steptool_agents.rollout.oracle import demo_trajectories, oracle_episodes
    from steptool_agents.warmstart import build_base_model

    cfg = _config(batch)
    base = cfg.to_dict()
    base["model"]["name"] = model_name
    model, tokenizer = load_base_model(build_base_model(cfg.from_dict({**base, "warm_start_sft": False}), workdir))
    fmt = make_format(cfg.model.prompt_format, tokenizer)
    episodes = oracle_episodes(ENV_ID, batch, seed + 10_000, **env_kwargs(cfg, "train"))
    trajs = [t.truncate_left(cfg.model.max_context_tokens)
             for t in demo_trajectories(episodes, fmt, tokenizer, cfg.model.max_prompt_tokens)]
    (workdir / "batch.json").write_text(json.dumps([dataclasses.asdict(t) for t in trajs]))
    return {"model": model_name, "parameters": sum(p.numel() for p in model.parameters()),
            "batch": batch, "tokens": sum(len(t.tokens) for t in trajs),
            "action_tokens": sum(sum(t.action_mask) for t in trajs),
            "max_length": max(len(t.tokens) for t in trajs), "max_context_tokens": cfg.model.max_context_tokens,
            "lora_r": cfg.model.lora_r, "lora_target_modules": cfg.model.lora_target_modules}


def _load(workdir: Path, batch: int) -> tuple[Any, list[Any]]:
    from steptool_agents.policy.tokenization import Trajectory

    trajs = [Trajectory(**d) for d in json.loads((workdir / "batch.json").read_text())]
    return _config(batch), trajs


def run_steptool(workdir: Path, batch: int, repeats: int, warmup: int) -> dict[str, Any]:
    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.algorithms.base import build_algorithm
    from steptool_agents.policy.models import load_policy
    from steptool_agents.policy.prompts import make_format
    from steptool_agents.rollout.envs import env_factory

    cfg, trajs = _load(workdir, batch)
    policy = load_policy(workdir / "model", cfg.model)
    trainer = build_algorithm(cfg, policy, env_factory(cfg, "train"),
                              fmt=make_format(cfg.model.prompt_format, policy.tokenizer))
    scored, _ = trainer.compute_advantages(trajs)
    result = _timed(lambda: trainer.train(scored), repeats, warmup)
    trainer.envs.close()
    return {"trainer": "StepTool StepToolPPO.train (1 epoch, 1 minibatch)",
            "tokens": int(scored.attention_mask.sum()), "padded_shape": list(scored.input_ids.shape), **result}


def _trl_inputs(trajs: list[Any], pad_id: int) -> dict[str, Any]:
    """GRPO's training inputs from our trajectories: left-padded prompts, right-padded multi-turn completions."""
    import torch

    splits = [t.action_mask.index(1) for t in trajs]
    p_len = max(splits)
    c_len = max(len(t.tokens) - s for t, s in zip(trajs, splits, strict=True))
    b = len(trajs)
    prompt_ids = torch.full((b, p_len), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros((b, p_len), dtype=torch.long)
    completion_ids = torch.full((b, c_len), pad_id, dtype=torch.long)
    completion_mask = torch.zeros((b, c_len), dtype=torch.long)
    tool_mask = torch.zeros((b, c_len), dtype=torch.long)
    for row, (t, s) in enumerate(zip(trajs, splits, strict=True)):
        prompt_ids[row, p_len - s:] = torch.tensor(t.tokens[:s])
        prompt_mask[row, p_len - s:] = 1
        n = len(t.tokens) - s
        completion_ids[row, :n] = torch.tensor(t.tokens[s:])
        completion_mask[row, :n] = 1
        tool_mask[row, :n] = torch.tensor(t.action_mask[s:])
    advantages = torch.randn(b, generator=torch.Generator().manual_seed(0))
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
            "completion_mask": completion_mask, "tool_mask": tool_mask, "advantages": advantages}


def run_trl(workdir: Path, batch: int, repeats: int, warmup: int) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from steptool_agents.policy.models import load_base_model

    cfg, trajs = _load(workdir, batch)
    model, tokenizer = load_base_model(workdir / "model")
    inputs = _trl_inputs(trajs, int(tokenizer.pad_token_id))
    p = cfg.ppo
    args = GRPOConfig(
        output_dir=str(workdir / "trl"), per_device_train_batch_size=batch, gradient_accumulation_steps=1,
        num_generations=2, max_completion_length=inputs["completion_ids"].shape[1], beta=p.kl_coef,
        loss_type="bnpo", epsilon=p.clip_range, learning_rate=p.learning_rate, max_grad_norm=p.max_grad_norm,
        gradient_checkpointing=False, bf16=False, use_cpu=True, report_to="none", seed=cfg.seed,
    )
    lora = LoraConfig(r=cfg.model.lora_r, lora_alpha=cfg.model.lora_alpha, lora_dropout=cfg.model.lora_dropout,
                      target_modules=list(cfg.model.lora_target_modules), task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=model, reward_funcs=lambda completions, **_: [0.0] * len(completions), args=args,
                          train_dataset=Dataset.from_dict({"prompt": ["-"] * batch}), processing_class=tokenizer,
                          peft_config=lora)
    net = trainer.model
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    with torch.no_grad(), net.disable_adapter():  # the reference: the base model, as GRPO computes it
        inputs["ref_per_token_logps"], _, _ = trainer._get_per_token_logps_and_entropies(
            net, ids, mask, inputs["completion_ids"].shape[1])
    optimizer = trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, which this bypasses
    params = [q for q in net.parameters() if q.requires_grad]
    net.train()

    def step() -> None:
        loss = trainer.compute_loss(net, inputs)
        trainer.accelerator.backward(loss)
        torch.nn.utils.clip_grad_norm_(params, p.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    result = _timed(step, repeats, warmup)
    return {"trainer": "TRL GRPOTrainer compute_loss + backward + optimizer step",
            "tokens": int(mask.sum()), "padded_shape": list(ids.shape), **result}


def _trl_ppo_status() -> str:
    import importlib.util
    import warnings

    import trl

    with warnings.catch_warnings():  # importing trl.experimental warns that its APIs are unstable
        warnings.simplefilter("ignore")
        experimental = importlib.util.find_spec("trl.experimental.ppo") is not None
    if hasattr(trl, "PPOTrainer") or experimental:
        return "TRL ships a PPO trainer; it is not benchmarked here"
    return f"TRL {trl.__version__} ships no PPO trainer (neither trl.PPOTrainer nor trl.experimental.ppo)"


WORKERS = {"steptool": run_steptool, "trl": run_trl}


def _worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = WORKERS[args.worker](Path(args.workdir), args.batch, args.repeats, args.warmup)
    out["tokens_per_s"] = out["tokens"] / out["step_s"]
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny (the quickstart preset's), smollm2 or a HF directory")
    parser.add_argument("--batch", type=int, default=8, help="episodes in the batch")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per trainer (median reported)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="recorded with the machine, e.g. 'shared with 4 other jobs'")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    if args.batch < 2 or args.batch % 2:
        raise SystemExit("--batch must be even and >= 2 (TRL GRPO groups of 2)")
    with tempfile.TemporaryDirectory(prefix="trainer_throughput_") as tmp:
        setup = prepare(Path(tmp), args.model, args.batch, args.seed)
        rows = []
        for name in WORKERS:  # a fresh process each: imports, allocator state and peak RSS are its own
            cmd = [sys.executable, __file__, "--worker", name, "--workdir", tmp, "--batch", str(args.batch),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"{name} worker failed:\n{done.stderr[-4000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    ours, trl_row = rows
    report = {"machine": machine_info(args.note), "versions": package_versions(), "threads": args.threads,
              "setup": setup, "results": rows, "ratio_tokens_per_s": ours["tokens_per_s"] / trl_row["tokens_per_s"],
              "trl_ppo": _trl_ppo_status(),
              "method": "StepTool StepToolPPO.train vs TRL GRPOTrainer compute_loss+backward+step on the same "
                        "trajectories, model and LoRA; generation excluded on both sides (see the script docstring)",
              "differences": ["StepTool adds a value head and value loss",
                              "StepTool runs the LM head only at action positions; TRL at every completion position"]}
    # One entry per model: a run with another model keeps the earlier ones.
    runs = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else {}
    runs[Path(args.model).name] = report
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{setup['model']} ({setup['parameters'] / 1e6:.1f}M params), batch {setup['batch']} episodes, "
          f"{setup['tokens']} tokens ({setup['action_tokens']} action), {args.threads} thread(s)")
    print(f"{'trainer':<58}{'step s':>8}{'tok/s':>9}{'peak MB':>9}{'step +MB':>9}")
    for r in rows:
        extra = f"{r['step_extra_mb']:.0f}" if r["step_extra_mb"] is not None else "-"
        print(f"{r['trainer']:<58}{r['step_s']:>8.2f}{r['tokens_per_s']:>9,.0f}{r['peak_rss_mb']:>9.0f}{extra:>9}")
    print(f"StepTool / TRL tokens/s: {report['ratio_tokens_per_s']:.2f}x; {report['trl_ppo']}")


if __name__ == "__main__":
    main()
