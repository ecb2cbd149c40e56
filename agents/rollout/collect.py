"""Batched episode collection over a Gymnasium vector env.

`collect_episodes` drives N sub-envs of a `gym.vector.SyncVectorEnv` with one batched generation per step.
Gymnasium 1.x uses *next-step* autoreset: after a sub-env ends an episode, the next ``step`` call resets it
(the action passed for it is ignored) and returns the reset observation. The loop therefore marks such envs
as pending, sends them a placeholder action, and starts a new trajectory from the observation that comes back.
Exactly `episodes` episodes are started; sub-envs left over once the quota is reached idle until the end.

Generation (`HFGenerator`) uses ``model.generate`` with the KV cache on left-padded contexts and stops a row at
EOS, at a stop string, once the ``Action Input`` JSON object closes, or after ``max_new_tokens``. Only the
sampled ids are kept (`StopCondition.cut`); log-probs and values are recomputed later by a forward pass.
With ``rollout.prefix_cache`` the generator is a `PrefixKVGenerator` (same samples, each episode's KV cache kept
across turns); a generator with a ``reset()`` method is reset at the start of every collection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from steptool_agents.config import ModelConfig, RolloutConfig
from steptool_agents.policy.models import model_device
from steptool_agents.policy.prompts import PromptFormat, after_action_text
from steptool_agents.policy.sampling import Sampler
from steptool_agents.policy.tokenization import Trajectory, encode, prompt_ids
from steptool_gym.vector import ToolSyncVectorEnv

__all__ = [
    "Collector",
    "Generated",
    "Generator",
    "HFGenerator",
    "StopCondition",
    "collect_episodes",
    "json_object_closed",
    "make_vector_env",
    "round_seeds",
]

_PLACEHOLDER = ""  # sent to sub-envs whose action is ignored (autoreset step) or that idle


def make_vector_env(env_id: str, num_envs: int, asynchronous: bool = False, **kwargs: Any) -> gym.vector.VectorEnv:
    """`num_envs` copies of `env_id` (next-step autoreset): a `ToolSyncVectorEnv` (Gymnasium's `SyncVectorEnv`,
    same results, infos batched once per step), or with `asynchronous` an `AsyncVectorEnv` whose sub-envs step in
    worker processes (worth it when a step waits on a tool server)."""
    fns = [partial(gym.make, env_id, **kwargs) for _ in range(num_envs)]
    # Text observations cannot live in shared memory: workers send them through their pipes.
    return gym.vector.AsyncVectorEnv(fns, shared_memory=False) if asynchronous else ToolSyncVectorEnv(fns)


def json_object_closed(text: str) -> bool:
    """True once the JSON object after the last ``Action Input:`` has closed (strings and escapes respected)."""
    at = text.rfind("Action Input:")
    if at < 0:
        return False
    rest = text[at + len("Action Input:"):].lstrip()
    if not rest.startswith("{"):
        return False
    depth, in_string, escaped = 0, False, False
    for ch in rest:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return True
    return False


class Generated(NamedTuple):
    """One action: the sampled ids (exactly as sampled), whether the last one is the model's EOS, and (when the
    generator was asked for them) each id's log-prob under the behaviour distribution."""

    ids: list[int]
    emitted_eos: bool
    logprobs: list[float] | None = None


class StopCondition:
    """Where an action ends: EOS, a stop string, or a closed ``Action Input`` object."""

    def __init__(self, tokenizer: Any, stop_strings: Sequence[str] = (), json_close: bool = True) -> None:
        self.tokenizer = tokenizer
        self.eos_id = int(tokenizer.eos_token_id)
        self.stop_strings = tuple(stop_strings)
        self.json_close = json_close

    @classmethod
    def from_config(cls, tokenizer: Any, rollout: RolloutConfig) -> StopCondition:
        """The run's stop rules (``rollout.stop_strings``, ``rollout.stop_on_json_close``)."""
        return cls(tokenizer, rollout.stop_strings, rollout.stop_on_json_close)

    def text_done(self, text: str) -> bool:
        return any(s in text for s in self.stop_strings) or (self.json_close and json_object_closed(text))

    def cut(self, ids: Sequence[int], logprobs: Sequence[float] | None = None) -> Generated:
        """The prefix of `ids` up to the first stop (ids after it are padding or never-sampled)."""
        def lp(k: int) -> list[float] | None:
            return None if logprobs is None else [float(x) for x in logprobs[:k]]

        for k, tok in enumerate(ids):
            if tok == self.eos_id:
                return Generated(list(ids[:k + 1]), True, lp(k + 1))
            if self.text_done(self.tokenizer.decode(ids[:k + 1], skip_special_tokens=True)):
                return Generated(list(ids[:k + 1]), False, lp(k + 1))
        return Generated(list(ids), False, lp(len(ids)))


class _Criteria(StoppingCriteria):
    def __init__(self, stop: StopCondition, prompt_length: int) -> None:
        self.stop = stop
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        gen = input_ids[:, self.prompt_length:]
        done = [self.stop.text_done(self.stop.tokenizer.decode(row, skip_special_tokens=True)) for row in gen]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class Generator(Protocol):
    """Contexts in, one `Generated` per context out. A generator that keeps state computed with the current
    weights (`PrefixKVGenerator`) also has ``reset()``, which `collect_episodes` calls before each collection."""

    def __call__(self, contexts: list[list[int]], greedy: bool = False) -> list[Generated]: ...


class HFGenerator:
    """Batched sampling with a transformers model (KV cache, left padding, per-row stopping).

    The behaviour distribution is `sampler` (`policy.sampling.Sampler`; `temperature` builds one when it is not
    given): the same object the trainer scores with. With `return_logprobs` each `Generated` carries the sampled
    ids' log-probs under it (a check that scoring reproduces sampling).
    """

    def __init__(self, model: Any, tokenizer: Any, stop: StopCondition, max_new_tokens: int,
                 temperature: float = 1.0, sampler: Sampler | None = None, return_logprobs: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stop = stop
        self.max_new_tokens = max_new_tokens
        self.sampler = sampler or Sampler(temperature)
        self.return_logprobs = return_logprobs

    @property
    def temperature(self) -> float:
        return self.sampler.temperature

    @classmethod
    def from_config(cls, model: Any, tokenizer: Any, rollout: RolloutConfig, temperature: float | None = None,
                    sampler: Sampler | None = None) -> Generator:
        """A generator with the run's stop rules, token limit and sampler (`temperature` overrides the rollout's;
        `sampler` is the caller's behaviour distribution object). With ``rollout.prefix_cache`` it is a
        `PrefixKVGenerator`: the same samples, without re-encoding each turn's whole context."""
        if sampler is None:
            sampler = rollout.sampler() if temperature is None else Sampler(temperature)
        stop = StopCondition.from_config(tokenizer, rollout)
        if rollout.prefix_cache:
            from steptool_agents.rollout.prefix_cache import PrefixKVGenerator

            return PrefixKVGenerator(model, tokenizer, stop, rollout.max_new_tokens, sampler)
        return cls(model, tokenizer, stop, rollout.max_new_tokens, sampler=sampler)

    @torch.no_grad()
    def __call__(self, contexts: list[list[int]], greedy: bool = False) -> list[Generated]:
        pad = int(self.tokenizer.pad_token_id)
        length = max(len(c) for c in contexts)
        ids = torch.full((len(contexts), length), pad, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for row, ctx in enumerate(contexts):
            ids[row, length - len(ctx):] = torch.tensor(ctx, dtype=torch.long)
            attn[row, length - len(ctx):] = 1
        config = self.sampler.generation_config(self.max_new_tokens, pad, self.stop.eos_id, greedy=greedy,
                                                output_scores=self.return_logprobs)
        was_training = self.model.training
        self.model.eval()
        device = model_device(self.model)
        with Sampler.isolated(self.model):
            out = self.model.generate(input_ids=ids.to(device), attention_mask=attn.to(device),
                                      generation_config=config,
                                      stopping_criteria=StoppingCriteriaList([_Criteria(self.stop, length)]))
        self.model.train(was_training)
        if not self.return_logprobs:
            return [self.stop.cut(row.tolist()) for row in out[:, length:].cpu()]
        new = out.sequences[:, length:].cpu()
        # scores: the processed logits (here logits / T) at each generated position
        logp = torch.stack([torch.log_softmax(s.float(), -1).cpu() for s in out.scores], 1)
        picked = logp.gather(-1, new[:, :logp.shape[1]].unsqueeze(-1)).squeeze(-1)
        return [self.stop.cut(row.tolist(), lp.tolist()) for row, lp in zip(new, picked, strict=True)]


def _info(infos: dict[str, Any], key: str, i: int) -> Any:
    """Sub-env `i`'s value of `key` in a vector-env info dict (None when absent), nested dicts included."""
    if key not in infos or not infos.get(f"_{key}", np.zeros(i + 1, bool))[i]:
        return None
    value = infos[key]
    if isinstance(value, dict):
        return {k: _info(value, k, i) for k in value if not k.startswith("_")}
    return value[i]


def collect_episodes(
    envs: gym.vector.VectorEnv,
    generate: Generator | Callable[..., list[Generated]],
    fmt: PromptFormat,
    tokenizer: Any,
    episodes: int,
    seeds: Sequence[int] | int | None,
    max_context_tokens: int,
    max_new_tokens: int,
    greedy: bool = False,
    max_prompt_tokens: int = 0,
    on_episode: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """Play exactly `episodes` episodes with batched generation; returns them in order of completion.

    `on_episode(n)` runs each time an episode ends, with the number ended so far (progress bars).

    The initial prompt is cut to its last `max_prompt_tokens` tokens; the sampling context to the last
    ``max_context_tokens - max_new_tokens`` tokens of the trajectory.
    """
    n = envs.num_envs
    seed_arg = list(seeds) if isinstance(seeds, Sequence) else seeds
    reset_cache = getattr(generate, "reset", None)
    if reset_cache is not None:  # a prefix-caching generator: the weights may have changed since its last call
        reset_cache()
    obs, infos = envs.reset(seed=seed_arg)
    eos_token = tokenizer.eos_token
    sub_envs = getattr(envs, "envs", None)
    # The state key each sub-env's next action is taken from (GiGPO's anchor states); None if the env has none.
    keys: list[str | None] = [_info(infos, "state_key", i) for i in range(n)]

    def start(i: int, observation: str) -> Trajectory:
        traj = Trajectory()
        if sub_envs is not None:
            base = sub_envs[i].unwrapped
            messages, tools, task = base.messages, base.tools, base.task
        else:  # worker processes: ask them (attributes resolve through wrappers to the ToolUseEnv)
            messages, tools, task = (envs.get_attr(name)[i] for name in ("messages", "tools", "task"))
        traj.task_id = task.task_id
        traj.add_prompt(prompt_ids(tokenizer, fmt.initial(observation, messages, tools), max_prompt_tokens))
        return traj

    trajs: list[Trajectory | None] = [None] * n
    pending = [False] * n  # next step() resets this sub-env
    started = 0
    for i in range(n):
        if started < episodes:
            trajs[i] = start(i, obs[i])
            started += 1
    done: list[Trajectory] = []
    budget = max_context_tokens - max_new_tokens
    while len(done) < episodes:
        active = [i for i in range(n) if trajs[i] is not None and not pending[i]]
        actions = [_PLACEHOLDER] * n
        generated: dict[int, Generated] = {}
        starts = {i: trajs[i].context_start(budget) for i in active}  # the left cut each action is sampled on
        if active:
            outs = generate([trajs[i].context(budget) for i in active], greedy=greedy)
            for i, g in zip(active, outs, strict=True):
                generated[i] = g
                actions[i] = tokenizer.decode(g.ids, skip_special_tokens=True)
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        for i in range(n):
            if pending[i]:  # this step was sub-env i's autoreset: obs[i] starts a new episode
                pending[i] = False
                keys[i] = _info(infos, "state_key", i)
                if started < episodes:
                    trajs[i] = start(i, obs[i])
                    started += 1
                continue
            ended = bool(terminated[i] or truncated[i])
            traj = trajs[i]
            if traj is None:  # idle sub-env: only track its autoresets
                pending[i] = ended
                continue
            g = generated[i]
            components = _info(infos, "reward_components", i) or {}
            final = components.get("IsSolved") is not None
            traj.add_action(g.ids, float(rewards[i]), actions[i], final=final, context_start=starts[i])
            traj.state_keys.append(keys[i])
            keys[i] = _info(infos, "state_key", i)
            if not final:
                traj.tool_calls += 1
                traj.gold_calls += bool(_info(infos, "gold_call", i))
            if ended:
                traj.is_solved = float(_info(infos, "is_solved", i) or 0.0)
                traj.terminated = bool(terminated[i])
                traj.gold_matched = float(_info(infos, "gold_matched", i) or 0.0)
                traj.gold_total = float(_info(infos, "gold_total", i) or 0.0)
                done.append(traj)
                if on_episode is not None:
                    on_episode(len(done))
                trajs[i] = None
                pending[i] = True
            else:
                name = _called_name(actions[i])
                traj.add_prompt(encode(tokenizer, after_action_text(fmt, eos_token, g.emitted_eos, obs[i], name),
                                            plain=(obs[i],)))
    return done


def _called_name(action_text: str) -> str:
    """The function name of a ReAct action (for chat templates' tool turns); empty when there is none."""
    at = action_text.rfind("Action:")
    if at < 0:
        return ""
    rest = action_text[at + len("Action:"):].split("Action Input:")[0].strip()
    return rest.splitlines()[0].strip() if rest else ""


def round_seeds(seed: int, round_index: int, n: int, salt: int = 0) -> list[int]:
    """The env seeds of `n` sub-envs in training round `round_index` (`salt` separates streams within a round).

    The one formula every training algorithm uses, so a round's tasks depend only on the run seed and the round.
    """
    base = seed * 1_000_003 + round_index * 10_007 + salt * 101
    return [base + i for i in range(n)]


class Collector:
    """Plays episodes on one vector env with one generator: the run's prompt format, token limits and envs bound once.

    ``collector.collect(episodes, seeds)`` is `collect_episodes` with the run's settings (``model.max_context_tokens``,
    ``model.max_prompt_tokens``, ``rollout.max_new_tokens``).
    """

    def __init__(self, envs: gym.vector.VectorEnv, generate: Generator | Callable[..., list[Generated]],
                 fmt: PromptFormat, tokenizer: Any, model: ModelConfig, rollout: RolloutConfig) -> None:
        self.envs = envs
        self.generate = generate
        self.fmt = fmt
        self.tokenizer = tokenizer
        self.max_context_tokens = model.max_context_tokens
        self.max_prompt_tokens = model.max_prompt_tokens
        self.max_new_tokens = rollout.max_new_tokens

    @property
    def num_envs(self) -> int:
        return int(self.envs.num_envs)

    def collect(self, episodes: int, seeds: Sequence[int] | int | None, greedy: bool = False,
                on_episode: Callable[[int], None] | None = None) -> list[Trajectory]:
        """Exactly `episodes` episodes, sub-env i reset with ``seeds[i]`` (see `collect_episodes`)."""
        return collect_episodes(self.envs, self.generate, self.fmt, self.tokenizer, episodes, seeds,
                                self.max_context_tokens, self.max_new_tokens, greedy=greedy,
                                max_prompt_tokens=self.max_prompt_tokens, on_episode=on_episode)

    def close(self) -> None:
        self.envs.close()
