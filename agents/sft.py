"""Supervised baselines: behaviour cloning on oracle demonstrations (SFT) and rejection-sampling FT (RFT).

Demonstrations come from the env's gold policy (``env.unwrapped.oracle_action()``), rendered as ReAct text
(`ToolCall.to_react`) and tokenised in the same segments a rollout produces, so SFT trains on exactly the
token stream the policy later samples in. The loss is next-token cross-entropy on action tokens only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
import torch.nn.functional as F

from steptool_agents.models import decoder_hidden, model_device
from steptool_agents.prompts import CompactReActFormat, PromptFormat, ReActFormat, after_action_text
from steptool_agents.tokenization import Trajectory, collate, encode, prompt_ids

__all__ = ["OracleEpisode", "demo_trajectories", "episode_texts", "oracle_episodes", "sft_train",
           "task_oracle_episodes"]


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


def sft_train(model: Any, trajs: Sequence[Trajectory], pad_id: int, *, epochs: int, lr: float, batch_size: int,
              max_tokens: int, seed: int = 0, params: Sequence[torch.nn.Parameter] | None = None,
              log: Any = None) -> dict[str, float]:
    """Cross-entropy on action tokens only; returns the last epoch's mean loss and throughput."""
    params = list(params) if params is not None else [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    total_steps = epochs * ((len(trajs) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.1, 1 - s / total_steps))
    gen = torch.Generator().manual_seed(seed)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    lm_head = base.get_output_embeddings()
    device = model_device(model)
    model.train()
    losses: list[float] = []
    tokens, start = 0, time.perf_counter()
    for epoch in range(epochs):
        losses = []
        perm = torch.randperm(len(trajs), generator=gen).tolist()
        for b in range(0, len(trajs), batch_size):
            batch = collate([trajs[i] for i in perm[b:b + batch_size]], pad_id, "right", max_tokens).to(device)
            hidden = decoder_hidden(model, batch.input_ids, batch.attention_mask, batch.position_ids)[:, :-1]
            sel = batch.pred_action_mask.bool()  # the LM head runs on action positions only
            logits = lm_head(hidden[sel]).float()
            loss = F.cross_entropy(logits, batch.input_ids[:, 1:][sel]) if sel.any() else hidden.sum() * 0.0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            tokens += int(batch.attention_mask.sum())
        if log is not None:
            log(epoch, sum(losses) / len(losses))
    elapsed = time.perf_counter() - start
    # Demos longer than the context lose their first actions: worth seeing when a preset is too tight.
    truncated = sum(len(t.tokens) > max_tokens for t in trajs) / max(len(trajs), 1)
    return {"loss": sum(losses) / max(len(losses), 1), "tokens_per_s": tokens / elapsed if elapsed else 0.0,
            "truncated_frac": truncated}
