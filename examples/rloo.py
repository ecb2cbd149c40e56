"""RLOO (REINFORCE leave-one-out) added as a new critic-free algorithm: one class plus one registry line.

    python examples/rloo.py --out runs/rloo

Groups of ``grpo.group_size`` episodes play one task; each episode's return minus the mean return of the other
episodes of its group is the advantage of every one of its action tokens. The KL penalty to the reference, the
clipped surrogate, minibatching, logging, checkpoints and resume come from `CriticFreeAlgorithm` and the run loop.
"""

from __future__ import annotations

import argparse

from steptool_agents.algorithms.base import CriticFreeAlgorithm
from steptool_agents.policy.tokenization import Trajectory
from steptool_agents.registry import AlgorithmSpec, register


class RLOO(CriticFreeAlgorithm):
    def step_advantages(self, trajs: list[Trajectory]) -> list[list[float]]:
        k = self.group_size  # episodes come in consecutive groups of k sharing one task
        returns = [sum(t.rewards) for t in trajs]
        out = []
        for i, t in enumerate(trajs):
            group = returns[i // k * k:(i // k + 1) * k]
            baseline = (sum(group) - returns[i]) / (k - 1)
            out.append([returns[i] - baseline] * len(t.rewards))
        return out


register(AlgorithmSpec("rloo", f"{__name__}:RLOO", "REINFORCE leave-one-out", critic_free=True,
                       group_section="grpo"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/rloo")
    parser.add_argument("--updates", type=int, default=4)
    args = parser.parse_args()
    from steptool_agents.config import TrainConfig
    from steptool_agents.trainer import run_training
    from steptool_envs.toy import register_toy_env

    # The tiny setup of tests/test_golden_traces.py: an SFT warm start on oracle demos, so some episodes score.
    cfg = TrainConfig.from_dict({
        "algo": "rloo", "env_id": register_toy_env(), "max_steps": 3, "eval_split": "test", "eval_episodes": 8,
        "threads": 1, "model": {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                                "vocab_size": 400, "tokenizer_episodes": 8, "max_context_tokens": 448,
                                "max_prompt_tokens": 40, "lora_r": 4},
        "sft": {"episodes": 32, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2},
        "rollout": {"num_envs": 4, "episodes_per_update": 8, "max_new_tokens": 96},
        "grpo": {"group_size": 4}, "ppo": {"updates": args.updates, "minibatch_size": 4, "learning_rate": 1e-2}})
    print(run_training(cfg, args.out))


if __name__ == "__main__":
    main()
