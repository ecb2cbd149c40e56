"""Score every action on the exact context it was sampled from.

The sampler conditions action t on at most ``max_context_tokens − max_new_tokens`` tokens: the first segment (system
prompt, function list, query) and the end of the history, the middle dropped, positions counted from 0 over what is
kept (`Trajectory.context`). Scoring the whole trajectory cut once on the
left would condition late actions on a different window with different positions. `collate_windows` therefore
turns each trajectory into one row per distinct cut: the row holds head + ``tokens[cut : end of its last action]`` and
its action mask covers only the actions sampled on that cut, so every action token is scored exactly once, on its
sampling window. A trajectory that never outgrew the window is one row, the same as `tokenization.collate`.

Actions without a recorded cut (offline data, demonstrations) get the cut the sampler would have used had the
trajectory been played with a budget of `max_tokens` (`Trajectory.cut_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from steptool_agents.policy.tokenization import Collated, Trajectory, collate

__all__ = ["Windows", "collate_windows", "to_rows", "to_trajectories"]


class Windows(NamedTuple):
    """Rows of a windowed batch: the batch, each row's trajectory (`owner`) and the `offset` that maps a row's
    action positions to its trajectory's positions (cut − head when the middle was dropped, else the cut)."""

    batch: Collated
    owner: torch.Tensor  # [R] long
    start: torch.Tensor  # [R] long: the offset


def _action_spans(traj: Trajectory) -> list[tuple[int, int, int]]:
    """(first, end, step) of each action (a run of action tokens of one step), in order."""
    spans: list[list[int]] = []
    for k, m in enumerate(traj.action_mask):
        if not m:
            continue
        if spans and spans[-1][1] == k and spans[-1][2] == traj.step_index[k]:
            spans[-1][1] = k + 1
        else:
            spans.append([k, k + 1, traj.step_index[k]])
    return [(first, end, step) for first, end, step in spans]


def collate_windows(trajectories: Sequence[Trajectory], pad_id: int, max_tokens: int) -> Windows:
    """One right-padded row per (trajectory, sampling cut); see the module docstring."""
    rows: list[Trajectory] = []
    owner: list[int] = []
    starts: list[int] = []
    for index, traj in enumerate(trajectories):
        groups: list[tuple[int, list[tuple[int, int]]]] = []
        for first, end, step in _action_spans(traj):
            cut = traj.context_starts[step] if 0 <= step < len(traj.context_starts) else None
            cut = traj.cut_for(end, max_tokens) if cut is None else int(cut)
            if groups and groups[-1][0] == cut:
                groups[-1][1].append((first, end))
            else:
                groups.append((cut, [(first, end)]))
        if not groups:
            groups = [(traj.cut_for(len(traj.tokens), max_tokens), [])]
        for cut, members in groups:
            end = members[-1][1] if members else len(traj.tokens)
            head, begin = traj.window_offset(cut)
            offset = begin - head
            tokens = traj.window(cut, end)
            steps = traj.step_index[:head] + traj.step_index[begin:end]
            mask = [0] * len(tokens)
            for first, stop in members:
                mask[first - offset:stop - offset] = [1] * (stop - first)
            rows.append(Trajectory(tokens=tokens, action_mask=mask, step_index=steps))
            owner.append(index)
            starts.append(offset)
    return Windows(collate(rows, pad_id, "right"), torch.tensor(owner, dtype=torch.long),
                   torch.tensor(starts, dtype=torch.long))


def _full_index(windows: Windows, full_len: int) -> torch.Tensor:
    """[R, L-1]: each row prediction position's index among its trajectory's (exact on action positions)."""
    width = windows.batch.pred_action_mask.shape[1]
    return (windows.start.unsqueeze(1) + torch.arange(width).unsqueeze(0)).clamp(max=max(full_len - 1, 0))


def to_trajectories(windows: Windows, row_values: torch.Tensor, full: Collated) -> torch.Tensor:
    """Row tensors [R, L-1] → trajectory tensors [B, L_full-1] (action positions; 0 elsewhere)."""
    out = torch.zeros(full.pred_action_mask.shape, dtype=row_values.dtype)
    sel = windows.batch.pred_action_mask.bool()
    idx = _full_index(windows, out.shape[1])
    owners = windows.owner.unsqueeze(1).expand_as(idx)
    out[owners[sel], idx[sel]] = row_values[sel]
    return out


def to_rows(windows: Windows, traj_values: torch.Tensor) -> torch.Tensor:
    """Trajectory tensors [B, L_full-1] → row tensors [R, L-1], kept on each row's own action positions."""
    idx = _full_index(windows, traj_values.shape[1])
    picked = traj_values[windows.owner.unsqueeze(1).expand_as(idx), idx]
    return picked * windows.batch.pred_action_mask.to(picked.dtype)
