"""Oracle demonstrations: episodes played by a suite's gold policy (``env.unwrapped.oracle_action()``).

Rendered as ReAct text (`ToolCall.to_react`) and tokenised in the same segments a rollout produces, so SFT trains on
exactly the token stream the policy later samples in; `episode_texts` is the tiny tokenizer's training corpus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from steptool_agents.policy.prompts import CompactReActFormat, PromptFormat, ReActFormat, after_action_text
from steptool_agents.policy.tokenization import Trajectory, encode, prompt_ids

__all__ = ["OracleEpisode", "demo_trajectories", "episode_texts", "oracle_episodes", "task_oracle_episodes"]


@dataclass
class OracleEpisode:
    """One gold episode as text: the reset observation, messages/tools, and (action, observation) turns."""

    observation: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    task_id: str
    turns: list[tuple[str, str, str, float, bool]] = field(default_factory=list)  # text, obs, name, reward, final


def oracle_episodes(env_id: str, episodes: int, seed: int, **env_kwargs: Any) -> list[OracleEpisode]:
    """Play `episodes` episodes with the suite's gold policy (episode i resets with ``seed + i``)."""
    env = gym.make(env_id, **env_kwargs)
    try:
        return [_play_oracle(env, env_id, seed + i, None) for i in range(episodes)]
    finally:
        env.close()


def task_oracle_episodes(env_id: str, task_ids: Sequence[str], seed: int, **env_kwargs: Any) -> list[OracleEpisode]:
    """One gold episode per task id; every reset uses `seed`, so a task's demo never depends on the list."""
    env = gym.make(env_id, **env_kwargs)
    try:
        return [_play_oracle(env, env_id, seed, {"task_id": task_id}) for task_id in task_ids]
    finally:
        env.close()


def _play_oracle(env: gym.Env, env_id: str, seed: int, options: dict[str, Any] | None) -> OracleEpisode:
    base = env.unwrapped
    obs, _ = env.reset(seed=seed, options=options)
    ep = OracleEpisode(obs, base.messages[:2], base.tools, base.task.task_id)
    while True:
        call = base.oracle_action()
        if call is None:
            raise RuntimeError(f"{env_id} has no gold policy for task {base.task.task_id!r}")
        text = call.to_react()
        obs, reward, terminated, truncated, info = env.step(text)
        final = info["reward_components"]["IsSolved"] is not None
        ep.turns.append((text, obs, call.name, float(reward), final))
        if terminated or truncated:
            return ep


def episode_texts(episodes: Sequence[OracleEpisode], eos_token: str, compact: bool = False) -> Iterator[str]:
    """Each gold episode as one ReAct conversation string (the tiny tokenizer's training corpus)."""
    fmt = CompactReActFormat(eos_token) if compact else ReActFormat(eos_token)
    for ep in episodes:
        parts = [fmt.initial(ep.observation, ep.messages, ep.tools)]
        for text, obs, name, _, _ in ep.turns:
            parts.append(text + eos_token + after_action_text(fmt, eos_token, True, obs, name))
        yield "".join(parts)


def demo_trajectories(episodes: Sequence[OracleEpisode], fmt: PromptFormat, tokenizer: Any,
                      max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Gold episodes as trajectories: each action is its ReAct text followed by the model's EOS."""
    eos_id, eos = int(tokenizer.eos_token_id), tokenizer.eos_token
    trajs = []
    for ep in episodes:
        t = Trajectory(task_id=ep.task_id)
        t.add_prompt(prompt_ids(tokenizer, fmt.initial(ep.observation, ep.messages, ep.tools), max_prompt_tokens))
        for k, (text, obs, name, reward, final) in enumerate(ep.turns):
            t.add_action(encode(tokenizer, text) + [eos_id], reward, text, final)
            if k + 1 < len(ep.turns):
                t.add_prompt(encode(tokenizer, after_action_text(fmt, eos, True, obs, name), plain=(obs,)))
        t.is_solved = 1.0 if ep.turns and ep.turns[-1][4] and ep.turns[-1][3] >= 1.0 else 0.0
        t.terminated = True
        trajs.append(t)
    return trajs
