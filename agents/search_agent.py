"""A trained `Policy` as an agent of the inference-time searches in `steptool_gym.search` (CoT@1, DFSDT).

The search strategies call ``act(env, observation, info)`` once per node and move between branches with
`ToolUseEnv.restore`, so the agent keeps no conversation of its own: every call rebuilds the prompt from the
env's history in the token layout of the SFT demonstrations (`sft.demo_trajectories`): the first prompt
segment, then per step the action's ReAct text (`ToolCall.to_react`, or the raw text of an unparseable
action) + EOS + the format's tool turn. Rollouts append the sampled ids instead; the two differ only where the
model's text is not the canonical rendering of its call, which evaluation can afford (training cannot).

DFSDT needs different children at a node, so a search with width > 1 should sample (``greedy=False``);
`reset(seed)` seeds torch's generator, which makes sampled searches repeatable.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch

from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy
from steptool_agents.policy.prompts import PromptFormat, after_action_text, make_format
from steptool_agents.policy.tokenization import encode, prompt_ids
from steptool_agents.rollout.collect import HFGenerator, StopCondition
from steptool_agents.rollout.envs import env_kwargs
from steptool_gym.env import ToolUseEnv
from steptool_gym.records import metrics
from steptool_gym.search import SearchResult, run_search

__all__ = ["PolicyAgent", "conversation_ids", "evaluate_search"]


def conversation_ids(env: ToolUseEnv, initial_observation: str, fmt: PromptFormat, tokenizer: Any,
                     max_prompt_tokens: int = 0) -> list[int]:
    """The env's conversation so far as the token stream the policy was trained on (see the module docstring)."""
    messages = env.messages
    ids = prompt_ids(tokenizer, fmt.initial(initial_observation, messages[:2], env.tools), max_prompt_tokens)
    eos_id, eos = int(tokenizer.eos_token_id), tokenizer.eos_token
    for record in env.history:
        text = fmt.render_action(record.call) if record.call is not None else record.raw
        name = record.call.name if record.call is not None else ""
        ids += encode(tokenizer, text) + [eos_id]
        ids += encode(tokenizer, after_action_text(fmt, eos, True, record.observation, name),
                      plain=(record.observation,))
    return ids


class PolicyAgent:
    """Greedy or sampled generation of one ReAct action per call from a `Policy` (the `Agent` protocol)."""

    def __init__(self, policy: Policy, fmt: PromptFormat, stop: StopCondition, *, max_new_tokens: int,
                 max_context_tokens: int, max_prompt_tokens: int = 0, temperature: float = 1.0,
                 greedy: bool = True) -> None:
        self.tokenizer = policy.tokenizer
        self.fmt = fmt
        self.generate = HFGenerator(policy.model, policy.tokenizer, stop, max_new_tokens, temperature)
        self.budget = max_context_tokens - max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.greedy = greedy
        self._initial = ""

    def reset(self, seed: int | None = None) -> None:
        if seed is not None and not self.greedy:
            torch.manual_seed(seed)

    def act(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> str:
        if not env.history:  # the root of a query (also after DFSDT backtracks to it): the reset observation
            self._initial = observation
        ids = conversation_ids(env, self._initial, self.fmt, self.tokenizer, self.max_prompt_tokens)
        generated = self.generate([ids[-self.budget:]], greedy=self.greedy)[0]
        return self.tokenizer.decode(generated.ids, skip_special_tokens=True)


def evaluate_search(policy: Policy, cfg: TrainConfig, split: str, episodes: int, strategy: str = "cot", *,
                    seed: int = 12345, width: int = 2, max_calls: int = 30, greedy: bool | None = None,
                    temperature: float | None = None) -> tuple[dict[str, Any], list[SearchResult]]:
    """Run `strategy` (``cot`` or ``dfsdt``) with `policy` on `episodes` tasks of `split`; summary + results.

    `greedy` defaults to greedy decoding except for DFSDT with width > 1, whose children must differ;
    `temperature` defaults to the run's ``rollout.temperature``.
    """
    if greedy is None:
        greedy = strategy == "cot" or width == 1
    stop = StopCondition.from_config(policy.tokenizer, cfg.rollout)
    agent = PolicyAgent(policy, make_format(cfg.model.prompt_format, policy.tokenizer), stop,
                        max_new_tokens=cfg.rollout.max_new_tokens, max_context_tokens=cfg.model.max_context_tokens,
                        max_prompt_tokens=cfg.model.max_prompt_tokens,
                        temperature=cfg.rollout.temperature if temperature is None else temperature, greedy=greedy)
    env = gym.make(cfg.env_id, **env_kwargs(cfg, split))
    extra = {"width": width, "max_calls": max_calls} if strategy == "dfsdt" else {}
    try:
        results = run_search(strategy, env, agent, episodes, seed=seed, **extra)
    finally:
        env.close()
    summary = {"env": cfg.env_id, "split": split, "strategy": strategy, "greedy": greedy, "episodes": len(results),
               **extra, **metrics(results)}
    return summary, results
