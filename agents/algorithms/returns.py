"""Advantage estimation for step-grained PPO and its ablations (pure functions on 1-D tensors).

Per-trajectory inputs are aligned with next-token predictions (see `tokenization.Collated`): position p holds
the value V read at the hidden state *before* token p+1, whether token p+1 is an action token (`amask`) and
its step index (`sidx`). Step t's state value V(s_t) is therefore read at the first action position of step t:
the last token before action t.

Credit assignments (``ppo.credit``; the former ``ppo.mode`` value in brackets):

==========================  ===================================================================================
``step_gae``                step rewards; GAE over steps; every token of action t gets Â_t (the paper's
                            StepTool) [``steptool``]
``outcome_step_gae``        as ``step_gae`` with intermediate rewards zeroed: step-grained optimisation of the
                            final reward only (the paper's "w/o step-grained reward" ablation) [``no_step_reward``]
``outcome_token_gae``       final reward only at the last action token; token-level GAE over action tokens,
                            discounted per step like StepTool (γ, λ from one step to the next; 1 inside a step)
                            (the paper's PPO baseline, with StepTool's horizon) [``final``]
``outcome_token_discount``  as ``outcome_token_gae`` but discounted per token (γ^~200 at the first action of a
                            long episode) [``final_token``]
``step_token_gae``          step rewards at each step's last token; token-level GAE over all action tokens,
                            discounted per step: PPO's token-level optimisation of StepTool's rewards (the
                            paper's "w/o step-grained optimization" ablation) [``no_step_opt``]
``official_tokens``         the official code: reward t × (T − t) (t from 1) at step t's last token; token-level
                            GAE over every position with observation positions' rewards and values zeroed
                            [``compat``]
==========================  ===================================================================================

The per-token KL penalty (−β·kl) is added to every action token's reward (token-level GAE) or summed into its
step's reward (step-level GAE).

Critic-free estimators give one advantage per episode (`grpo_advantages`) or per step (`gigpo_advantages`,
`rebn_advantages`); `broadcast_steps` spreads per-step values over their action tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "STEP_LEVEL",
    "broadcast_steps",
    "compat_rewards",
    "discounted_returns",
    "gae",
    "gigpo_advantages",
    "gigpo_step_advantages",
    "grpo_advantages",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "rebn_advantages",
    "step_positions",
    "trajectory_advantages",
]

STEP_LEVEL = ("step_gae", "outcome_step_gae")  # GAE over steps; the others run GAE over tokens
OUTCOME_ONLY = ("outcome_step_gae", "outcome_token_gae", "outcome_token_discount")  # the final reward only


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float,
        last_value: float = 0.0, step_ends: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over one sequence ending in a terminal state (`last_value` = 0).

    With `step_ends` (bool per position: the last token of a step) γ and λ apply only from a step's last token
    to the next step (discounting per step, as StepTool does); inside a step they are 1.
    Returns (advantages, returns) with returns = advantages + values.
    """
    n = rewards.shape[0]
    adv = torch.zeros(n, dtype=torch.float32)
    next_value, running = float(last_value), 0.0
    for i in range(n - 1, -1, -1):
        g, gl = (gamma, gamma * lam) if step_ends is None or bool(step_ends[i]) else (1.0, 1.0)
        delta = float(rewards[i]) + g * next_value - float(values[i])
        running = delta + gl * running
        adv[i] = running
        next_value = float(values[i])
    return adv, adv + values.float()


def compat_rewards(step_rewards: Sequence[float]) -> list[float]:
    """The official StepTool code's placement: reward of step t (1-based) scaled by (T − t)."""
    total = len(step_rewards)
    return [float(r) * (total - t) for t, r in enumerate(step_rewards, 1)]


def step_positions(amask: torch.Tensor, sidx: torch.Tensor) -> dict[int, tuple[int, int]]:
    """Step index → (first, last) action position present in the sequence."""
    out: dict[int, tuple[int, int]] = {}
    for pos in torch.nonzero(amask, as_tuple=False).flatten().tolist():
        step = int(sidx[pos])
        first, _ = out.get(step, (pos, pos))
        out[step] = (first, pos)
    return out


def _effective_rewards(credit: str, rewards: Sequence[float], finals: Sequence[bool]) -> list[float]:
    if credit in OUTCOME_ONLY:
        return [float(r) if f else 0.0 for r, f in zip(rewards, finals, strict=True)]
    if credit == "official_tokens":
        return compat_rewards(rewards)
    return [float(r) for r in rewards]


def trajectory_advantages(
    credit: str,
    rewards: Sequence[float],
    finals: Sequence[bool],
    values: torch.Tensor,
    amask: torch.Tensor,
    sidx: torch.Tensor,
    gamma: float,
    lam: float,
    kl: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-position advantages, value targets and value-loss mask for one trajectory.

    `credit` is one of `config.CREDIT_ASSIGNMENTS` (see the table above). `rewards`/`finals` are per step
    (`finals[t]` marks the episode's IsSolved step); the tensors are per prediction position. Advantages are zero
    off action positions.
    """
    n = values.shape[0]
    amask = amask.bool()
    penalty = torch.zeros(n) if kl is None else -kl_coef * kl.float() * amask
    step_r = _effective_rewards(credit, rewards, finals)
    spans = step_positions(amask, sidx)
    adv = torch.zeros(n)
    ret = torch.zeros(n)
    vmask = torch.zeros(n)
    if not spans:
        return adv, ret, vmask
    if credit in STEP_LEVEL:
        steps = sorted(spans)  # left truncation removes a prefix, so these are the last steps of the episode
        r = torch.tensor([step_r[t] + float(penalty[spans[t][0]:spans[t][1] + 1].sum()) for t in steps])
        v = torch.stack([values[spans[t][0]].float() for t in steps])
        a, g = gae(r, v, gamma, lam)
        for i, t in enumerate(steps):
            first, last = spans[t]
            in_step = amask[first:last + 1]
            adv[first:last + 1] = torch.where(in_step, a[i], torch.zeros(()))
            ret[first] = g[i]
            vmask[first] = 1.0
        return adv, ret, vmask
    token_r = penalty.clone()
    for t, (_, last) in spans.items():
        token_r[last] += step_r[t]
    if credit in ("outcome_token_gae", "outcome_token_discount", "step_token_gae"):
        pos = torch.nonzero(amask, as_tuple=False).flatten()
        ends = None
        if credit != "outcome_token_discount":
            last = {end for _, end in spans.values()}
            ends = torch.tensor([int(q) in last for q in pos.tolist()], dtype=torch.bool)
        a, g = gae(token_r[pos], values[pos].float(), gamma, lam, step_ends=ends)
        adv[pos], ret[pos] = a, g
    elif credit == "official_tokens":
        v = torch.where(amask, values.float(), torch.zeros(()))
        a, g = gae(token_r, v, gamma, lam)
        adv, ret = torch.where(amask, a, torch.zeros(())), torch.where(amask, g, torch.zeros(()))
    else:
        raise ValueError(f"Unknown credit assignment {credit!r}")
    return adv, ret, amask.float()


def grpo_advantages(scores: Sequence[float], group_size: int, scale_by_std: bool = True,
                    eps: float = 1e-4) -> torch.Tensor:
    """Group-relative advantages: (score − group mean) / group std for consecutive groups of `group_size`."""
    x = torch.tensor(scores, dtype=torch.float32)
    if x.numel() % group_size:
        raise ValueError(f"{x.numel()} scores do not split into groups of {group_size}")
    g = x.view(-1, group_size)
    centred = g - g.mean(dim=1, keepdim=True)
    if scale_by_std:
        centred = centred / (g.std(dim=1, keepdim=True) + eps)
    return centred.flatten()


def discounted_returns(rewards: Sequence[float], gamma: float) -> list[float]:
    """G_t = Σ_{k≥t} γ^(k−t) r_k, the discounted return from each step to the end of the episode."""
    out = [0.0] * len(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        out[t] = running
    return out


def _normalise(x: torch.Tensor, scale_by_std: bool, eps: float) -> torch.Tensor:
    """x − mean(x), divided by (unbiased std + eps) when `scale_by_std`; one element gives 0."""
    centred = x - x.mean()
    if scale_by_std and x.numel() > 1:
        centred = centred / (x.std() + eps)
    return centred


def gigpo_step_advantages(returns: Sequence[Sequence[float]], keys: Sequence[Sequence[str | None]],
                          scale_by_std: bool = True, eps: float = 1e-4) -> list[list[float]]:
    """GiGPO's step-level advantages for one group of episodes of the same task.

    Steps whose pre-action state key is equal form an anchor-state group S (across the group's episodes, and
    within one episode when it revisits a state). With G_{i,t} the discounted return from step t of episode i,

        A^S_{i,t} = (G_{i,t} − mean_S G) / (std_S G + eps)    (no division when not `scale_by_std`)

    A singleton group has no other action to compare with and gets 0 (verl-agent uses mean 0, std 1 there,
    i.e. the raw return); so does a step without a key (None).
    """
    members: dict[str, list[tuple[int, int]]] = {}
    for i, episode_keys in enumerate(keys):
        if len(episode_keys) != len(returns[i]):
            raise ValueError(f"episode {i}: {len(episode_keys)} state keys for {len(returns[i])} steps")
        for t, key in enumerate(episode_keys):
            if key is not None:
                members.setdefault(key, []).append((i, t))
    out = [[0.0] * len(r) for r in returns]
    for group in members.values():
        if len(group) < 2:
            continue
        adv = _normalise(torch.tensor([returns[i][t] for i, t in group], dtype=torch.float64), scale_by_std, eps)
        for (i, t), a in zip(group, adv.tolist(), strict=True):
            out[i][t] = a
    return out


def gigpo_advantages(rewards: Sequence[Sequence[float]], keys: Sequence[Sequence[str | None]], group_size: int,
                     step_weight: float = 1.0, gamma: float = 0.95, scale_by_std: bool = True,
                     eps: float = 1e-4) -> list[list[float]]:
    """GiGPO (Feng et al., NeurIPS 2025): per-step advantages A_{i,t} = A^E_i + ω·A^S_{i,t}.

    Episodes come in consecutive groups of `group_size` (one task and seed each). The episode level is GRPO's
    on the undiscounted returns R_i = Σ_t r_{i,t}: A^E_i = (R_i − mean_group R) / (std_group R + eps); the step
    level is `gigpo_step_advantages` on the discounted returns G_{i,t} (discount `gamma`); ω = `step_weight`.
    """
    if len(rewards) % group_size:
        raise ValueError(f"{len(rewards)} episodes do not split into groups of {group_size}")
    episode = grpo_advantages([sum(r) for r in rewards], group_size, scale_by_std, eps).tolist()
    out: list[list[float]] = []
    for start in range(0, len(rewards), group_size):
        sl = slice(start, start + group_size)
        returns = [discounted_returns(r, gamma) for r in rewards[sl]]
        step = gigpo_step_advantages(returns, keys[sl], scale_by_std, eps)
        out += [[a_e + step_weight * a_s for a_s in a_steps] for a_e, a_steps in zip(episode[sl], step, strict=True)]
    return out


def rebn_advantages(rewards: Sequence[Sequence[float]], gamma: float, eps: float = 1e-4) -> list[list[float]]:
    """REINFORCE with return batch normalisation (GEM's ReBN): per-step discounted returns G_{i,t}, normalised
    over every step of every episode in the batch: A_{i,t} = (G_{i,t} − mean G) / (std G + eps)."""
    returns = [discounted_returns(r, gamma) for r in rewards]
    flat = torch.tensor([g for r in returns for g in r], dtype=torch.float64)
    if flat.numel() == 0:
        return [[] for _ in rewards]
    adv = iter(_normalise(flat, True, eps).tolist())
    return [[next(adv) for _ in r] for r in returns]


def broadcast_steps(step_values: Sequence[float], amask: torch.Tensor, sidx: torch.Tensor) -> torch.Tensor:
    """Per-position values: every action position of step t holds `step_values[t]`, other positions 0."""
    if not step_values:
        return torch.zeros(amask.shape[0])
    values = torch.tensor(step_values, dtype=torch.float32)
    picked = values[sidx.clamp(0, len(step_values) - 1)]
    return torch.where(amask.bool(), picked, torch.zeros(()))


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `x` over positions where `mask` is 1."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of `x` over masked positions (Bessel-corrected when `unbiased`)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        if n > 1:
            var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise masked positions to unit variance (and zero mean); other positions become 0."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)
