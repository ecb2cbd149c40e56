"""The one list of training algorithms and their traits (no torch import: the CLI, configs and benchmarks read it).

Each entry names the class that implements the algorithm (``module:Class``, imported on first use) and the traits the
run loop, the config checks and the CLI need. Adding an algorithm is one new file under `algorithms/` plus one
`register` call (see README "Add an algorithm")::

    register(AlgorithmSpec("rloo", "my_package.rloo:RLOO", "REINFORCE leave-one-out", critic_free=True,
                           group_section="grpo"))
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["ALGORITHMS", "AlgorithmSpec", "algorithm_names", "get", "register"]


@dataclass(frozen=True)
class AlgorithmSpec:
    """An algorithm's name, implementation and traits.

    * ``target``: ``"module:Class"`` of its `algorithms.base.Algorithm` subclass; None for ``sft``, which trains
      only in the warm start (``OUT/model``).
    * ``rounds``: the config (section, key) holding its number of training rounds (what ``--rounds`` sets).
    * ``critic_free``: no value loss; the KL to the reference enters the loss.
    * ``data_parallel``: can run on several processes (torchrun / accelerate).
    * ``cpu_only``: its tensors live on the CPU; ``model.device = "auto"`` resolves to it.
    * ``group_section``: the config section whose ``group_size`` episodes share one task (GRPO, GiGPO).
    * ``offline_data``: can train on ``offline_csv`` step-grained data instead of rollouts.
    * ``resumable``: ``--resume`` continues from checkpoints (not SFT, RFT: they keep no optimizer).
    * ``demos``: needs the oracle demonstrations of the SFT warm start even when ``warm_start_sft`` is off.
    * ``curves``: the metrics drawn in ``OUT/learning_curve.png``.
    * ``gamma``: the config (section, key) of the learner's per-step discount; None for episode-level learners
      (γ = 1). The env's ``gamma`` gets this value: progress shaping is policy-invariant only when they agree.
    """

    name: str
    target: str | None
    summary: str
    rounds: tuple[str, str] = ("ppo", "updates")
    critic_free: bool = False
    data_parallel: bool = False
    cpu_only: bool = False
    group_section: str | None = None
    offline_data: bool = False
    demos: bool = False
    resumable: bool = True
    curves: tuple[str, ...] = ("mean_step_reward", "pass_rate", "kl_ref", "explained_variance")
    gamma: tuple[str, str] | None = None

    def load(self) -> type[Any]:
        """The implementing class (imports its module, so torch, on first use)."""
        if self.target is None:
            raise ValueError(f"algo {self.name!r} trains in the SFT warm start only; it has no training rounds")
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


_PPO_CURVES = ("mean_step_reward", "pass_rate", "kl_ref", "explained_variance")
ALGORITHMS: dict[str, AlgorithmSpec] = {}


def register(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add `spec` to the registry (names are unique); returns it."""
    if spec.name in ALGORITHMS:
        raise ValueError(f"algo {spec.name!r} is already registered")
    ALGORITHMS[spec.name] = spec
    return spec


def get(name: str) -> AlgorithmSpec:
    """The spec of algorithm `name`; a one-line ValueError naming the choices otherwise."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"algo must be one of {algorithm_names()}; got {name!r}") from None


def algorithm_names() -> tuple[str, ...]:
    return tuple(ALGORITHMS)


_A = "steptool_agents.algorithms."
for _spec in (
    AlgorithmSpec("steptool", _A + "steptool_ppo:StepToolPPO", "step-grained PPO (StepTool)", data_parallel=True,
                  offline_data=True, gamma=("ppo", "gamma")),
    AlgorithmSpec("ppo", _A + "steptool_ppo:FinalRewardPPO",
                  "PPO on the final reward, discounted per step (the paper's PPO baseline)",
                  data_parallel=True, offline_data=True, gamma=("ppo", "gamma")),
    AlgorithmSpec("ppo-token", _A + "steptool_ppo:FinalRewardTokenPPO",
                  "PPO on the final reward, discounted per token", data_parallel=True, offline_data=True,
                  gamma=("ppo", "gamma")),
    AlgorithmSpec("sft", None, "supervised fine-tuning on oracle demonstrations (the warm start only)",
                  demos=True, resumable=False),
    AlgorithmSpec("rft", _A + "sft:RFT", "rejection-sampling fine-tuning", rounds=("sft", "rft_rounds"),
                  resumable=False, curves=("pass_rate", "mean_step_reward", "kept")),
    AlgorithmSpec("grpo", _A + "grpo:GRPO", "group-relative policy optimisation", critic_free=True,
                  data_parallel=True, group_section="grpo"),
    AlgorithmSpec("eto", _A + "eto:ETO", "exploration-based trajectory optimisation (DPO rounds)",
                  rounds=("eto", "rounds"), cpu_only=True,
                  curves=("pass_rate", "mean_step_reward", "dpo_loss", "reward_accuracy")),
    AlgorithmSpec("archer", _A + "archer:ArCHer", "hierarchical actor-critic (utterance-level critic)",
                  rounds=("archer", "updates"), cpu_only=True,
                  curves=("pass_rate", "mean_step_reward", "q_loss", "advantage_std", "kl_ref"),
                  gamma=("archer", "gamma")),
    AlgorithmSpec("gigpo", _A + "gigpo:GiGPO", "group-in-group policy optimisation", critic_free=True,
                  group_section="gigpo", gamma=("gigpo", "gamma")),
    AlgorithmSpec("reinforce-rebn", _A + "rebn:ReBN", "REINFORCE with batch-normalised returns",
                  critic_free=True, gamma=("ppo", "gamma")),
):
    register(_spec)
