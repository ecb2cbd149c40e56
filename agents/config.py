"""Typed training configuration: nested dataclasses that validate themselves and load from TOML/JSON/YAML.

A config file holds top-level keys of `TrainConfig` and one table per section (``[model]``, ``[rollout]``,
``[ppo]``, ``[sft]``, ``[grpo]``, ``[eto]``, ``[archer]``, ``[gigpo]``); unknown keys are errors, so a typo
never silently falls back to a default. Loading is strict: duplicate keys (JSON, YAML; TOML forbids them
itself), YAML aliases (no alias-expansion bombs), integers beyond ±2**53, non-finite or overflowing floats,
a seed outside [0, 2**32) and an ``env_id`` that is not a registered Gymnasium ID (``module:ID`` forms, which
import a module, included) are each one-line `ConfigError`s.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import gymnasium as gym

from steptool_agents import registry
from steptool_gym.errors import DataError, read_text

__all__ = [
    "ALGOS",
    "CREDIT_ASSIGNMENTS",
    "LEGACY_PPO_MODES",
    "ConfigDeprecationWarning",
    "ConfigError",
    "ArCHerConfig",
    "ETOConfig",
    "GRPOConfig",
    "GiGPOConfig",
    "ModelConfig",
    "PPOConfig",
    "RolloutConfig",
    "SFTConfig",
    "TrainConfig",
    "env_id_hint",
    "load_config",
]

ALGOS = registry.algorithm_names()  # the built-in algorithms (see `registry`)
# `ppo.credit`: which rewards the PPO learners see and over what units GAE runs (one line each in
# `algorithms.returns`). The names clash with no env `reward_mode` (that is the reward the env pays).
CREDIT_ASSIGNMENTS = ("step_gae", "outcome_step_gae", "outcome_token_gae", "outcome_token_discount",
                      "step_token_gae", "official_tokens")
# The former `ppo.mode` values (deprecated: load with a one-line warning, mapped to `ppo.credit`).
LEGACY_PPO_MODES = {"steptool": "step_gae", "no_step_reward": "outcome_step_gae", "final": "outcome_token_gae",
                    "final_token": "outcome_token_discount", "no_step_opt": "step_token_gae",
                    "compat": "official_tokens"}
_WARNED: set[str] = set()
PROMPT_FORMATS = ("react", "react_compact", "react_terse", "chat")
MAX_CONFIG_INT = 2**53  # |int| accepted for any integer setting (exact as a float; far above any real size)
MAX_SEED = 2**32  # seeds are in [0, MAX_SEED): numpy's legacy seeding refuses larger ones


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def env_id_hint(env_id: object) -> str:
    """``did you mean 'X'? run 'steptool envs' for the list`` (the suggestion only when one is close)."""
    import difflib

    close = difflib.get_close_matches(str(env_id)[:200], list(gym.registry), n=1, cutoff=0.6)
    return (f"did you mean {close[0]!r}? " if close else "") + "run 'steptool envs' for the list"


class ConfigDeprecationWarning(UserWarning):
    """A config uses a former key or value; it still loads (a UserWarning, so shown by default: users wrote it)."""


def _deprecated(message: str) -> None:
    """Warn `message` once per process."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, ConfigDeprecationWarning, stacklevel=3)


def _registered(env_id: str) -> bool:
    """Whether `env_id` is a registered Gymnasium ID (the agents' own toy env registers on demand)."""
    if env_id not in gym.registry:
        from steptool_envs.toy import TOY_ENV_ID, register_toy_env

        if env_id == TOY_ENV_ID:
            register_toy_env()
    return env_id in gym.registry


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
    # LoRA on the top N decoder layers only (0: all). Layers below the lowest adapted one need no backward pass
    # and keep no activations for it: most of a small model's training cost on a CPU.
    lora_layers: int = 0
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    # "auto": CUDA when available, else the CPU (ETO and ArCHer always resolve "auto" to the CPU); or "cpu",
    # "cuda", "cuda:N". Weights stay fp32 either way.
    device: str = "auto"

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
        _check(self.lora_layers >= 0, "model.lora_layers must be >= 0 (0: every layer)")
        _check(bool(self.lora_target_modules), "model.lora_target_modules must not be empty")
        _check(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None,
               f"model.device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}")


@dataclass
class RolloutConfig:
    """How episodes are sampled: vector env width, generation limits and sampling temperature."""

    num_envs: int = 8
    episodes_per_update: int = 8
    max_new_tokens: int = 96
    temperature: float = 1.0  # the behaviour distribution softmax(logits / T), sampled and scored alike
    top_k: int = 0  # 0 only: truncated sampling cannot be scored exactly (see policy.sampling)
    top_p: float = 1.0  # 1.0 only, as top_k
    stop_strings: list[str] = field(default_factory=lambda: ["\nFunction:", "\nObservation:"])
    stop_on_json_close: bool = True  # stop once the Action Input object closes
    async_envs: bool = False  # sub-envs in worker processes (AsyncVectorEnv); same episodes as synchronous
    prefix_cache: bool = False  # reuse each episode's KV cache across turns (PrefixKVGenerator): same samples

    def __post_init__(self) -> None:
        _check(self.num_envs >= 1, "rollout.num_envs must be >= 1")
        _check(self.episodes_per_update >= 1, "rollout.episodes_per_update must be >= 1")
        _check(self.max_new_tokens >= 1, "rollout.max_new_tokens must be >= 1")
        _check(self.temperature > 0, "rollout.temperature must be > 0")
        _check(self.top_k == 0 and self.top_p == 1.0,
               "rollout.top_k must be 0 and rollout.top_p 1.0: truncated sampling cannot be scored exactly")

    def sampler(self) -> Any:
        """The run's behaviour distribution (`policy.sampling.Sampler`), shared by generation and scoring."""
        from steptool_agents.policy.sampling import Sampler

        return Sampler(self.temperature, self.top_k, self.top_p)


@dataclass
class PPOConfig:
    """Step-grained PPO (and its ablations, chosen by `credit`: the reward placement and GAE unit).

    The former key ``mode`` and its values (``steptool``, ``final``, …) still load, with a one-line deprecation
    warning, mapped through `LEGACY_PPO_MODES`.
    """

    credit: str = "step_gae"
    updates: int = 10
    learning_rate: float = 1e-3
    gamma: float = 0.99  # also the discount of reinforce-rebn's returns
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
        if self.credit in LEGACY_PPO_MODES:
            new = LEGACY_PPO_MODES[self.credit]
            _deprecated(f"ppo.credit = {self.credit!r} is deprecated; use {new!r} (same behaviour)")
            self.credit = new
        _check(self.credit in CREDIT_ASSIGNMENTS,
               f"ppo.credit must be one of {CREDIT_ASSIGNMENTS}; got {str(self.credit)[:40]!r}")
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

    @property
    def mode(self) -> str:
        """Deprecated read of `credit` (the former name)."""
        _deprecated("PPOConfig.mode is deprecated; read PPOConfig.credit")
        return self.credit

    @staticmethod
    def migrate(data: dict[str, Any]) -> dict[str, Any]:
        """`data` with the former key ``mode`` renamed ``credit`` (its value mapped), warning once."""
        if "mode" not in data:
            return data
        if "credit" in data:
            raise ValueError("ppo: set credit only (mode is its deprecated former name)")
        data = {("credit" if k == "mode" else k): v for k, v in data.items()}
        old = data["credit"]
        new = LEGACY_PPO_MODES.get(old, old) if isinstance(old, str) else old
        _deprecated(f"ppo.mode is deprecated; use ppo.credit (mode = {str(old)[:40]!r} → credit = {str(new)[:40]!r})")
        data["credit"] = new
        return data


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
    # share of demos with one rejected call (another function, the gold arguments) before a gold call, kept in the
    # context and not trained on: the policy sees an error message followed by its fix (`rollout.oracle`)
    recovery_share: float = 0.0

    def __post_init__(self) -> None:
        _check(self.episodes >= 1 and self.epochs >= 1 and self.batch_size >= 1, "sft sizes must be >= 1")
        _check(0.0 <= self.recovery_share <= 1.0, "sft.recovery_share must be in [0, 1]")
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
class GiGPOConfig:
    """GiGPO: GRPO's episode-level advantage plus `step_weight` × a step-level one over anchor states (steps
    taken from equal env state keys within a group of `group_size` episodes of one task)."""

    group_size: int = 4
    step_weight: float = 1.0  # ω in A = A_episode + ω·A_step
    gamma: float = 0.95  # discount of the step-level returns
    scale_by_std: bool = True  # divide by the group's std at both levels (False: mean-centring only)

    def __post_init__(self) -> None:
        _check(self.group_size >= 2, "gigpo.group_size must be >= 2")
        _check(self.step_weight >= 0, "gigpo.step_weight must be >= 0")
        _check(0.0 <= self.gamma <= 1.0, "gigpo.gamma must be in [0, 1]")
        _check(isinstance(self.scale_by_std, bool), "gigpo.scale_by_std must be true or false")


@dataclass
class ETOConfig:
    """ETO (Song et al. 2024): explore, pair failed episodes with successes of the same task, DPO on the pairs."""

    rounds: int = 3  # explore → pair → train iterations
    episodes: int = 16  # exploration episodes per round
    explore_temperature: float = 0.0  # 0: greedy, as ETO's script explores; > 0: sampled at this temperature
    beta: float = 0.1
    epochs: int = 3  # DPO epochs over each round's pairs
    learning_rate: float = 1e-4
    batch_size: int = 8  # pairs per optimizer step
    sft_weight: float = 0.0  # + weight × NLL of the winner's action tokens (0: pure DPO, as ETO)
    reference: str = "sft"  # "sft": the adapter disabled; "round": the policy as the round began (ETO's script)
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        _check(self.rounds >= 0, "eto.rounds must be >= 0")
        _check(self.episodes >= 1 and self.epochs >= 1 and self.batch_size >= 1,
               "eto.episodes, epochs and batch_size must be >= 1")
        _check(self.beta > 0 and self.learning_rate > 0, "eto.beta and learning_rate must be > 0")
        _check(self.explore_temperature >= 0, "eto.explore_temperature must be >= 0")
        _check(self.sft_weight >= 0, "eto.sft_weight must be >= 0")
        _check(self.reference in ("sft", "round"), "eto.reference must be 'sft' or 'round'")
        _check(self.max_grad_norm > 0, "eto.max_grad_norm must be > 0")


@dataclass
class ArCHerConfig:
    """ArCHer (Zhou et al. 2024): utterance-level TD critic on a replay buffer, token-level policy gradient."""

    updates: int = 10  # iterations: collect ``rollout.episodes_per_update`` episodes, train critic, then actor
    buffer_size: int = 1024  # replay buffer capacity in steps (utterances)
    gamma: float = 0.95
    tau: float = 0.1  # Polyak rate of the target critic, applied after every critic step
    critic_lr: float = 1e-3
    critic_updates: int = 50  # critic gradient steps per iteration (per actor update); head-only steps are cheap
    critic_batch_size: int = 64  # transitions sampled from the buffer per critic step
    actor_lr: float = 2e-4
    actor_epochs: int = 3  # actor gradient steps on each iteration's fresh episodes
    minibatch_size: int = 4  # episodes per forward pass of the actor (gradients accumulate)
    warmup_updates: int = 0  # first iterations train only the critic
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        _check(self.updates >= 0 and self.warmup_updates >= 0, "archer.updates and warmup_updates must be >= 0")
        _check(min(self.buffer_size, self.critic_updates, self.critic_batch_size, self.actor_epochs,
                   self.minibatch_size) >= 1,
               "archer.buffer_size, critic_updates, critic_batch_size, actor_epochs, minibatch_size must be >= 1")
        _check(0.0 <= self.gamma <= 1.0, "archer.gamma must be in [0, 1]")
        _check(0.0 < self.tau <= 1.0, "archer.tau must be in (0, 1]")
        _check(self.critic_lr > 0 and self.actor_lr > 0, "archer.critic_lr and actor_lr must be > 0")
        _check(self.max_grad_norm > 0, "archer.max_grad_norm must be > 0")


@dataclass
class TrainConfig:
    """One training run."""

    algo: str = "steptool"
    env_id: str = "StepTool-ToolBench-v0"
    split: str = "train"
    group: str | None = None
    eval_split: str = "test_instruction"
    eval_episodes: int = 32
    # Also evaluate every N updates and at the last (0: only at the end of the run): greedy, on the same task list
    # as the final evaluation; the results are the update's eval_* columns of metrics.csv (TensorBoard eval/).
    eval_every: int = 0
    max_steps: int = 6
    seed: int = 0
    checkpoint_every: int = 5
    warm_start_sft: bool = True  # PPO/GRPO start from an SFT warm start when the model is fresh
    threads: int = 0  # torch threads (0: leave torch's default); 1 avoids oversubscription on shared CPUs
    # Where metrics go: any of "tensorboard" (OUT/tb), "csv" (OUT/metrics.csv), "wandb" (if installed), or "none".
    report_to: list[str] = field(default_factory=lambda: ["tensorboard", "csv"])
    offline_csv: str | None = None  # step-grained CSV: PPO trains on its trajectories instead of rollouts
    sft_json: str | None = None  # ToolLLaMA SFT JSON: demonstrations instead of the env's oracle
    # Extra keyword arguments of gym.make for every env of the run (e.g. {alpha = 0.2, max_observation_length =
    # 512}); split, group and max_steps have their own keys.
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    eto: ETOConfig = field(default_factory=ETOConfig)
    archer: ArCHerConfig = field(default_factory=ArCHerConfig)
    gigpo: GiGPOConfig = field(default_factory=GiGPOConfig)

    def __post_init__(self) -> None:
        _check(self.algo in registry.ALGORITHMS,
               f"algo must be one of {registry.algorithm_names()}; got {self.algo!r}")
        spec = registry.get(self.algo)
        _check(isinstance(self.env_id, str) and ":" not in self.env_id and _registered(self.env_id),
               f"env_id must be a registered env ID; got {str(self.env_id)[:80]!r}; {env_id_hint(self.env_id)}")
        _check(0 <= self.seed < MAX_SEED, f"seed must be in [0, 2**32); got {str(self.seed)[:40]}")
        _check(self.eval_episodes >= 1, "eval_episodes must be >= 1")
        _check(self.eval_every >= 0, "eval_every must be >= 0")
        _check(self.max_steps >= 1, "max_steps must be >= 1")
        _check(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        _check(self.threads >= 0, "threads must be >= 0")
        from steptool_agents.reporting import check_report_to

        check_report_to(self.report_to)
        _check(isinstance(self.env_kwargs, dict) and all(isinstance(k, str) for k in self.env_kwargs),
               "env_kwargs must be a table of gym.make keyword arguments")
        clash = sorted({"split", "group", "max_steps"} & set(self.env_kwargs))
        _check(not clash, f"env_kwargs must not set {clash}: use the top-level keys")
        offline = [s.name for s in registry.ALGORITHMS.values() if s.offline_data]
        _check(self.offline_csv is None or spec.offline_data,
               f"offline_csv works with algo {' or '.join(repr(n) for n in offline)}")
        if spec.group_section is not None:
            group_size = getattr(self, spec.group_section).group_size
            _check(self.rollout.episodes_per_update % group_size == 0,
                   f"rollout.episodes_per_update must be a multiple of {spec.group_section}.group_size")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with top-level `changes` applied (re-validated)."""
        return _build(TrainConfig, {**self.to_dict(), **changes})


class ConfigError(DataError):
    """A config file is unreadable or invalid; the message names the file, where in it, and the problem."""


def _typed(value: Any, hint: Any, where: str) -> Any:
    """`value` checked against a field's type (bool, int, float, str, list[...], X | None); ints pass as floats."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                try:
                    return _typed(value, option, where)
                except ValueError:
                    continue
        raise ValueError(f"{where}: expected {_type_name(hint)}, got {type(value).__name__} {value!r:.60}")
    ok = True
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:
                raise ValueError(f"{where}: number out of range") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: expected a finite number, got {value}")
    elif hint in (bool, str):
        ok = isinstance(value, hint)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -MAX_CONFIG_INT <= value <= MAX_CONFIG_INT:
            raise ValueError(f"{where}: integer out of range (|value| must be <= 2**53)")
    elif typing.get_origin(hint) is list:
        ok = isinstance(value, list)
        if ok:
            (item,) = typing.get_args(hint)
            value = [_typed(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if not ok:
        raise ValueError(f"{where}: expected {_type_name(hint)}, got {type(value).__name__} {value!r:.60}")
    return value


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint).replace("typing.", "")


def _build(cls: type, data: dict[str, Any], where: str = "") -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__} expects a table, got {type(data).__name__}")
    migrate = getattr(cls, "migrate", None)
    if migrate is not None:
        data = migrate(data)  # former keys renamed (with a deprecation warning)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} key(s) {unknown}; valid: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint, path = hints[key], f"{where}.{key}" if where else key
        kwargs[key] = _build(hint, value, path) if dataclasses.is_dataclass(hint) else _typed(value, hint, path)
    return cls(**kwargs)


def load_config(path: str | Path) -> TrainConfig:
    """Read a `TrainConfig` from ``.toml``, ``.json`` or ``.yaml``/``.yml``.

    Files are data: TOML/JSON parsers and YAML's safe loader build plain values only, never objects or code.
    Every problem raises `ConfigError` naming the file, the line or key, and what is wrong.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json", ".yaml", ".yml"):
        raise ConfigError(f"{path}: unsupported config format {suffix!r}; use .toml, .json or .yaml")
    text = read_text(path, ConfigError)
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        else:
            data = _load_yaml(text, path)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except ValueError as exc:  # duplicate keys, NaN/Infinity, integers past Python's digit limit
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top level, got {type(data).__name__}")
    try:
        return TrainConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid setting")


def _strict_yaml_loader() -> type:
    """YAML's safe loader without aliases (no expansion bombs) and with duplicate keys refused."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(None, None, "aliases are not allowed in config files",
                                                        event.start_mark)
            node = super().compose_node(parent, index)
            if getattr(node, "anchor", None) is not None:
                raise yaml.constructor.ConstructorError(None, None, "anchors are not allowed in config files",
                                                        node.start_mark)
            return node

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, list | dict) or key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate or invalid key {key!r:.60}",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def _load_yaml(text: str, path: Path) -> Any:
    import yaml  # optional dependency, only needed for YAML presets

    try:
        return yaml.load(text, Loader=_strict_yaml_loader()) or {}  # a SafeLoader subclass: plain values only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
