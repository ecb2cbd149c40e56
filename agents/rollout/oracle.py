"""Oracle demonstrations: episodes played by a suite's gold policy (``env.unwrapped.oracle_action()``).

Played as ReAct text (`ToolCall.to_react`), rendered as the prompt format's actions (`PromptFormat.render_action`) and
tokenised in the same segments a rollout produces, so SFT trains on
exactly the token stream the policy later samples in; `episode_texts` is the tiny tokenizer's training corpus.

Recovery demos (``recovery_share``): a gold episode only ever shows calls that work, so a cloned policy has never
seen an error message followed by a fix, and on held-out tasks it repeats a rejected call or gives up. A share of
the demos carries one mistake before a gold call: the gold arguments sent to another function (the one whose name
shares the longest suffix with the gold one: the same tool's sibling API), which the env rejects with "Unexpected
parameter ... allowed parameters: ...". The mistake and its error stay in the context and are not trained on
(`demo_trajectories` adds them as prompt tokens); the gold call that follows is. Measured on the synthetic
ToolBench with SmolLM2 (README, "Current quickstart result"), it lowered the held-out pass rate: the presets keep 0.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from steptool_agents.policy.prompts import PromptFormat, after_action_text, make_format
from steptool_agents.policy.tokenization import Trajectory, encode, prompt_ids
from steptool_gym.actions import FINISH, ToolCall, parse_react

__all__ = ["OracleEpisode", "demo_trajectories", "episode_texts", "oracle_episodes", "task_oracle_episodes"]


@dataclass
class OracleEpisode:
    """One gold episode as text: the reset observation, messages/tools, and (action, observation) turns."""

    observation: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    task_id: str
    turns: list[tuple[str, str, str, float, bool]] = field(default_factory=list)  # text, obs, name, reward, final
    solved: float = 0.0  # the env's IsSolved verdict at the end (the final reward is not it under shaped modes)
    mistakes: frozenset[int] = frozenset()  # turns shown in the context but not trained on (recovery demos)


def oracle_episodes(env_id: str, episodes: int, seed: int, recovery_share: float = 0.0,
                    **env_kwargs: Any) -> list[OracleEpisode]:
    """Play `episodes` episodes with the suite's gold policy (episode i resets with ``seed + i``); a
    `recovery_share` of them carry one rejected call before a gold call (see the module docstring)."""
    env = gym.make(env_id, **env_kwargs)
    rng = random.Random(seed)
    try:
        out = []
        for i in range(episodes):
            ep = _play_oracle(env, env_id, seed + i, None)
            if recovery_share > 0 and rng.random() < recovery_share:
                ep = _with_mistake(env, env_id, seed + i, ep, rng) or ep
            out.append(ep)
        return out
    finally:
        env.close()


def task_oracle_episodes(env_id: str, task_ids: Sequence[str], seed: int, **env_kwargs: Any) -> list[OracleEpisode]:
    """One gold episode per task id; every reset uses `seed`, so a task's demo never depends on the list."""
    env = gym.make(env_id, **env_kwargs)
    try:
        return [_play_oracle(env, env_id, seed, {"task_id": task_id}) for task_id in task_ids]
    finally:
        env.close()


def _play_oracle(env: gym.Env, env_id: str, seed: int, options: dict[str, Any] | None,
                 mistake: tuple[int, ToolCall] | None = None) -> OracleEpisode:
    """The gold episode; with `mistake` = (k, call), `call` is sent before the k-th gold step."""
    base = env.unwrapped
    obs, _ = env.reset(seed=seed, options=options)
    ep = OracleEpisode(obs, base.messages[:2], base.tools, base.task.task_id)
    while True:
        call = base.oracle_action()
        if call is None:
            raise RuntimeError(f"{env_id} has no gold policy for task {base.task.task_id!r}")
        if mistake is not None and len(ep.turns) == mistake[0]:
            text = mistake[1].to_react()
            obs, reward, *_ = env.step(text)
            ep.mistakes |= {len(ep.turns)}
            ep.turns.append((text, obs, mistake[1].name, float(reward), False))
        text = call.to_react()
        obs, reward, terminated, truncated, info = env.step(text)
        final = info["reward_components"]["IsSolved"] is not None
        ep.turns.append((text, obs, call.name, float(reward), final))
        if terminated or truncated:
            ep.solved = float(info.get("is_solved") or 0.0)
            return ep


def _with_mistake(env: gym.Env, env_id: str, seed: int, ep: OracleEpisode,
                  rng: random.Random) -> OracleEpisode | None:
    """`ep` replayed with one rejected call before a random gold call, or None when no call can be made to fail
    for certain (no arguments, no function lacking one of them) or the step limit leaves no room."""
    if len(ep.turns) + 1 > env.unwrapped.max_steps:
        return None
    k = rng.randrange(len(ep.turns) - 1) if len(ep.turns) > 1 else 0
    call = parse_react(ep.turns[k][0])
    if call.is_finish or not call.arguments:
        return None
    wrong = [t["name"] for t in ep.tools if t["name"] not in (call.name, FINISH)
             and set(call.arguments) - set((t.get("parameters") or {}).get("properties") or {})]
    if not wrong:
        return None
    shared = {n: len(os.path.commonprefix([n[::-1], call.name[::-1]])) for n in wrong}  # common name suffix
    best = max(shared.values())
    name = rng.choice([n for n in wrong if shared[n] == best])
    return _play_oracle(env, env_id, seed, None, (k, ToolCall(name, call.arguments)))


def episode_texts(episodes: Sequence[OracleEpisode], eos_token: str, prompt_format: str = "react") -> Iterator[str]:
    """Each gold episode as one conversation string in a ReAct `prompt_format` (the tiny tokenizer's corpus)."""
    fmt = make_format(prompt_format, _EosOnly(eos_token))
    for ep in episodes:
        parts = [fmt.initial(ep.observation, ep.messages, ep.tools)]
        for text, obs, name, _, _ in ep.turns:
            action = fmt.render_action(parse_react(text))
            parts.append(action + eos_token + after_action_text(fmt, eos_token, True, obs, name))
        yield "".join(parts)


class _EosOnly:
    """What the ReAct formats read from a tokenizer (its EOS), for text built before any tokenizer exists."""

    def __init__(self, eos_token: str) -> None:
        self.eos_token = eos_token


def demo_trajectories(episodes: Sequence[OracleEpisode], fmt: PromptFormat, tokenizer: Any,
                      max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Gold episodes as trajectories: each action is its ReAct text followed by the model's EOS."""
    eos_id, eos = int(tokenizer.eos_token_id), tokenizer.eos_token
    trajs = []
    for ep in episodes:
        t = Trajectory(task_id=ep.task_id)
        t.add_prompt(prompt_ids(tokenizer, fmt.initial(ep.observation, ep.messages, ep.tools), max_prompt_tokens))
        for k, (text, obs, name, reward, final) in enumerate(ep.turns):
            action = fmt.render_action(parse_react(text))
            if k in ep.mistakes:  # context only: the policy learns the fix, not the mistake
                t.add_prompt(encode(tokenizer, action) + [eos_id])
            else:
                t.add_action(encode(tokenizer, action) + [eos_id], reward, action, final)
            if k + 1 < len(ep.turns):
                t.add_prompt(encode(tokenizer, after_action_text(fmt, eos, True, obs, name), plain=(obs,)))
        t.is_solved = ep.solved
        t.terminated = True
        trajs.append(t)
    return trajs
