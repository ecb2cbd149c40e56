"""Scoring fidelity: does the trainer score the distribution it sampled from? (issue 16, item 1)

    python benchmarks/scoring_fidelity.py [--temperature 0.7] [--episodes 4] [--seed 3]

A tiny random-init Llama on the toy suite, a context (128 tokens, 32 new) that every episode outgrows, LoRA dropout
0.3. Collects episodes with the PPO trainer's collector while recording each action's behaviour log-probs from
``generate``, then reports the largest |sampled − scored| log-prob (nats) for the trainer's scorer, for a scorer
that leaves the temperature out (the old behaviour), and how many action tokens a single left cut of the context
would score at all. Prints JSON; writes nothing. About 6 s on a 2-core CPU (shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from steptool_agents.algorithms.steptool_ppo import StepToolPPO
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer
from steptool_agents.policy.sampling import Sampler
from steptool_agents.policy.tokenization import collate
from steptool_agents.rollout.collect import Generated, HFGenerator, StopCondition
from steptool_agents.rollout.envs import env_factory, env_kwargs
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes
from steptool_envs.toy import register_toy_env


def _max_error(records: list[tuple[list[int], Generated]], ids: torch.Tensor, logp: torch.Tensor) -> float:
    worst = 0.0
    for context, g in records:
        prefix = context + g.ids
        row = next(r for r in range(ids.shape[0]) if ids[r, :len(prefix)].tolist() == prefix)
        scored = logp[row, len(context) - 1:len(context) - 1 + len(g.ids)]
        worst = max(worst, float((scored - torch.tensor(g.logprobs)).abs().max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    env_id = register_toy_env()
    cfg = TrainConfig.from_dict({
        "algo": "steptool", "env_id": env_id, "max_steps": 5, "seed": args.seed, "threads": 2,
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "max_context_tokens": 128, "max_prompt_tokens": 40, "lora_r": 4, "lora_dropout": 0.3},
        "rollout": {"num_envs": 2, "episodes_per_update": args.episodes, "max_new_tokens": 32,
                    "temperature": args.temperature},
        "ppo": {"updates": 1, "minibatch_size": 64, "n_epochs": 1, "target_approx_kl": None},
    })
    torch.set_num_threads(cfg.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(env_id, 4, 0), "</s>")), cfg.model.vocab_size)
        save_base_model(build_tiny_model(cfg.model, tok, seed=0), tok, Path(tmp) / "m", {"source": "tiny"})
        policy = load_policy(Path(tmp) / "m", cfg.model)
    torch.manual_seed(args.seed)
    gen = HFGenerator(policy.model, tok, StopCondition.from_config(tok, cfg.rollout), cfg.rollout.max_new_tokens,
                      sampler=cfg.rollout.sampler(), return_logprobs=True)
    records: list[tuple[list[int], Generated]] = []

    def recording(contexts: list[list[int]], greedy: bool = False) -> list[Generated]:
        outs = gen(contexts, greedy=greedy)
        records.extend(zip(contexts, outs, strict=True))
        return outs

    algo = StepToolPPO(cfg, policy, env_factory(cfg, "train"), env_kwargs=env_kwargs(cfg, "train"),
                       generator=recording)
    try:
        trajs = algo.collect_rollouts()
        batch, _ = algo.compute_advantages(trajs)
        fixed = _max_error(records, batch.input_ids, batch.old_logprobs)
        algo.sampler = Sampler(1.0)  # the old scorer: softmax(z), not softmax(z / T)
        no_temp, _ = algo.compute_advantages(trajs)
        without_t = _max_error(records, no_temp.input_ids, no_temp.old_logprobs)
    finally:
        algo.close()
    one_cut = collate(trajs, int(tok.pad_token_id), "right", cfg.model.max_context_tokens)
    action_tokens = sum(sum(t.action_mask) for t in trajs)
    print(json.dumps({
        "temperature": args.temperature, "episodes": len(trajs), "actions": len(records),
        "episodes_longer_than_context": sum(len(t.tokens) > cfg.model.max_context_tokens for t in trajs),
        "action_tokens": action_tokens,
        "max_abs_error_nats": {"trainer": fixed, "scored_without_temperature": without_t},
        "action_tokens_in_one_left_cut": int(one_cut.pred_action_mask.sum()),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
