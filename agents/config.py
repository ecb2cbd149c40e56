"""Typed training configuration: nested dataclasses that validate themselves and load from TOML/JSON/YAML.

A config file holds top-level keys of `TrainConfig` and one table per section (``[model]``, ``[rollout]``,
``[ppo]``, ``[sft]``, ``[grpo]``); unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


__all__ = [
    "ALGOS",
    "ADVANTAGE_MODES",
    "GRPOConfig",
    "ModelConfig",
    "PPOConfig",
    "RolloutConfig",
    "SFTConfig",
    "TrainConfig",
    "load_config",
]

ALGOS = ("steptool", "ppo", "sft", "rft", "grpo")
ADVANTAGE_MODES = ("steptool", "final", "no_step_reward", "no_step_opt", "compat")
PROMPT_FORMATS = ("react", "chat")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass
class ModelConfig:
    """Which model to load (``tiny``, ``smollm2`` or a path) and how it is adapted."""

    name: str = "tiny"
    arch: str = "llama"  # tiny only: "llama" or "qwen2"
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    vocab_size: int = 4096  # tiny only: BPE vocabulary trained on the env's text
    tokenizer_episodes: int = 200  # tiny only: oracle episodes whose text trains the tokenizer
    prompt_format: str = "react"
    max_context_tokens: int = 1024
    max_prompt_tokens: int = 512  # the initial prompt keeps its last N tokens (0: all)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )

    def __post_init__(self) -> None:
        _check(self.arch in ("llama", "qwen2"), f"model.arch must be 'llama' or 'qwen2'; got {self.arch!r}")
        _check(self.prompt_format in PROMPT_FORMATS, f"model.prompt_format must be one of {PROMPT_FORMATS}")
        _check(self.hidden_size % self.num_heads == 0, "model.hidden_size must be divisible by num_heads")
        _check(min(self.hidden_size, self.num_layers, self.num_heads, self.intermediate_size) > 0,
               "model sizes must be positive")
        _check(self.vocab_size >= 300, "model.vocab_size must be >= 300 (256 bytes + specials + merges)")
        _check(self.max_context_tokens >= 64, "model.max_context_tokens must be >= 64")
        _check(0 <= self.max_prompt_tokens <= self.max_context_tokens,
               "model.max_prompt_tokens must be in [0, max_context_tokens]")
        _check(self.lora_r > 0 and self.lora_alpha > 0, "model.lora_r and lora_alpha must be positive")
        _check(0.0 <= self.lora_dropout < 1.0, "model.lora_dropout must be in [0, 1)")
        _check(bool(self.lora_target_modules), "model.lora_target_modules must not be empty")


@dataclass
class RolloutConfig:
    """How episodes are sampled: vector env width, generation limits and sampling temperature."""

    num_envs: int = 8
    episodes_per_update: int = 8
    max_new_tokens: int = 96
    temperature: float = 1.0
    stop_strings: list[str] = field(default_factory=lambda: ["\nFunction:", "\nObservation:"])
    stop_on_json_close: bool = True  # stop once the Action Input object closes

    def __post_init__(self) -> None:
        _check(self.num_envs >= 1, "rollout.num_envs must be >= 1")
        _check(self.episodes_per_update >= 1, "rollout.episodes_per_update must be >= 1")
        _check(self.max_new_tokens >= 1, "rollout.max_new_tokens must be >= 1")
        _check(self.temperature > 0, "rollout.temperature must be > 0")


@dataclass
class PPOConfig:
    """Step-grained PPO (and its ablations, chosen by `mode`)."""

    mode: str = "steptool"
    updates: int = 10
    learning_rate: float = 1e-3
    gamma: float = 0.99
    lam: float = 0.95
    n_epochs: int = 2
    minibatch_size: int = 4
    grad_accum_steps: int = 1
    clip_range: float = 0.2
    clip_range_vf: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    kl_coef: float = 0.05
    kl_estimator: str = "k1"
    adaptive_kl: bool = False
    kl_target: float = 0.1
    kl_horizon: int = 10_000
    target_approx_kl: float | None = 0.05  # early stop of the epoch loop (None: never)
    whiten_advantages: bool = True
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        _check(self.mode in ADVANTAGE_MODES, f"ppo.mode must be one of {ADVANTAGE_MODES}; got {self.mode!r}")
        _check(self.kl_estimator in ("k1", "k3"), "ppo.kl_estimator must be 'k1' or 'k3'")
        _check(self.updates >= 0, "ppo.updates must be >= 0")
        _check(self.learning_rate > 0, "ppo.learning_rate must be > 0")
        _check(0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0, "ppo.gamma and ppo.lam must be in [0, 1]")
        _check(self.n_epochs >= 1 and self.minibatch_size >= 1 and self.grad_accum_steps >= 1,
               "ppo.n_epochs, minibatch_size and grad_accum_steps must be >= 1")
        _check(self.clip_range > 0 and self.clip_range_vf > 0, "ppo clip ranges must be > 0")
        _check(self.kl_coef >= 0 and self.vf_coef >= 0 and self.ent_coef >= 0, "ppo coefficients must be >= 0")
        _check(self.kl_target > 0 and self.kl_horizon > 0, "ppo.kl_target and kl_horizon must be > 0")
        _check(self.target_approx_kl is None or self.target_approx_kl > 0, "ppo.target_approx_kl must be > 0")
        _check(self.max_grad_norm > 0, "ppo.max_grad_norm must be > 0")


@dataclass
class SFTConfig:
    """Behaviour cloning on oracle demonstrations (also the warm start and RFT's inner loop)."""

    episodes: int = 64  # oracle demonstrations collected from the env
    epochs: int = 3
    learning_rate: float = 3e-3
    batch_size: int = 8
    full_finetune: bool = True  # train all weights (a from-scratch tiny model); False: LoRA only
    rft_rounds: int = 2  # RFT: sample, keep solved trajectories, fine-tune
    rft_episodes: int = 16

    def __post_init__(self) -> None:
        _check(self.episodes >= 1 and self.epochs >= 1 and self.batch_size >= 1, "sft sizes must be >= 1")
        _check(self.learning_rate > 0, "sft.learning_rate must be > 0")
        _check(self.rft_rounds >= 1 and self.rft_episodes >= 1, "sft.rft_rounds and rft_episodes must be >= 1")


@dataclass
class GRPOConfig:
    """Group-relative advantages: `group_size` episodes of the same task share a baseline."""

    group_size: int = 4
    scale_by_std: bool = True

    def __post_init__(self) -> None:
        _check(self.group_size >= 2, "grpo.group_size must be >= 2")


@dataclass
class TrainConfig:
    """One training run."""

    algo: str = "steptool"
    env_id: str = "StepTool-ToolBench-v0"
    split: str = "train"
    group: str | None = None
    eval_split: str = "test_instruction"
    eval_episodes: int = 32
    max_steps: int = 6
    seed: int = 0
    checkpoint_every: int = 5
    warm_start_sft: bool = True  # PPO/GRPO start from an SFT warm start when the model is fresh
    threads: int = 0  # torch threads (0: leave torch's default); 1 avoids oversubscription on shared CPUs
    offline_csv: str | None = None  # step-grained CSV: PPO trains on its trajectories instead of rollouts
    sft_json: str | None = None  # ToolLLaMA SFT JSON: demonstrations instead of the env's oracle
    model: ModelConfig = field(default_factory=ModelConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)

    def __post_init__(self) -> None:
        _check(self.algo in ALGOS, f"algo must be one of {ALGOS}; got {self.algo!r}")
        _check(self.eval_episodes >= 1, "eval_episodes must be >= 1")
        _check(self.max_steps >= 1, "max_steps must be >= 1")
        _check(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        _check(self.threads >= 0, "threads must be >= 0")
        _check(self.offline_csv is None or self.algo in ("steptool", "ppo"),
               "offline_csv works with algo 'steptool' or 'ppo'")
        if self.algo == "grpo":
            _check(self.rollout.episodes_per_update % self.grpo.group_size == 0,
                   "rollout.episodes_per_update must be a multiple of grpo.group_size")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with top-level `changes` applied (re-validated)."""
        return _build(TrainConfig, {**self.to_dict(), **changes})


def _build(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} expects a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} key(s) {unknown}; valid: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        kwargs[key] = _build(hint, value) if dataclasses.is_dataclass(hint) else value
    return cls(**kwargs)


def load_config(path: str | Path) -> TrainConfig:
    """Read a `TrainConfig` from ``.toml``, ``.json`` or ``.yaml``/``.yml``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        data = tomllib.loads(path.read_text())
    elif suffix == ".json":
        data = json.loads(path.read_text())
    elif suffix in (".yaml", ".yml"):
        import yaml  # optional dependency, only needed for YAML presets

        data = yaml.safe_load(path.read_text()) or {}
    else:
        raise ValueError(f"Unsupported config format {suffix!r}; use .toml, .json or .yaml")
    return TrainConfig.from_dict(data)
