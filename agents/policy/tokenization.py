"""Token-in/token-out trajectories.

Only template text and env observations are tokenised; the model's sampled ids are appended exactly as
sampled (decoded text is never re-tokenised, which would silently change the sequence the policy gradient
is taken on). Each token carries:

* ``action_mask`` — 1 only on the model's own action tokens (the loss and KL run on these);
* ``step_index`` — the step the token belongs to: action t's tokens and the prompt/observation that precede
  action t (its state) have index t.

Segments are tokenised without special tokens (no BOS inside a conversation); only the very first segment may
start with BOS. Text that came from outside (tool outputs, passed to `encode` as ``plain``) is tokenised as
text even where it spells a special token: a tool answer containing ``</s>`` or ``<|im_end|>`` never becomes
a real EOS or turn marker. `Trajectory.truncate_left` keeps the last ``max_tokens`` tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

__all__ = ["Collated", "Trajectory", "bos_prefix", "collate", "encode", "prompt_ids"]


def bos_prefix(tokenizer: Any) -> list[int]:
    """``[BOS]`` if the tokenizer itself starts sequences with BOS (Llama-style), else ``[]``."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return [bos] if ids and ids[0] == bos else []


def prompt_ids(tokenizer: Any, text: str, max_tokens: int = 0) -> list[int]:
    """The first segment: BOS (if the tokenizer uses one) + the text's last tokens, at most `max_tokens` in all.

    Cutting the *initial prompt* from the left (the system prompt's head goes first, the query stays) keeps
    every action of an episode inside the context; `max_tokens` = 0 keeps it whole.
    """
    bos = bos_prefix(tokenizer)
    ids = encode(tokenizer, text)
    if max_tokens and len(bos) + len(ids) > max_tokens:
        ids = ids[len(ids) - (max_tokens - len(bos)):]
    return bos + ids


def encode(tokenizer: Any, text: str, plain: Sequence[str] = ()) -> list[int]:
    """Tokenise a template/observation segment: never adds BOS/EOS.

    Special-token text inside the first occurrence of each `plain` substring (the untrusted parts: tool
    outputs) is tokenised as ordinary text; the template's own special tokens elsewhere in `text` stay special.
    """
    spans = []
    for part in plain:
        start = text.find(part) if part else -1
        if start >= 0:
            spans.append((start, start + len(part)))
    if not spans:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids: list[int] = []
        for token, (a, b) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
            if token in special and any(lo <= a and b <= hi for lo, hi in spans):
                ids.extend(_plain_ids(tokenizer, text[a:b]))
            else:
                ids.append(int(token))
        return ids
    # A slow tokenizer has no offsets: tokenise the plain spans on their own.
    ids, at = [], 0
    for lo, hi in sorted(spans):
        if lo < at:
            continue
        ids += list(tokenizer(text[at:lo], add_special_tokens=False)["input_ids"]) if lo > at else []
        ids += _plain_ids(tokenizer, text[lo:hi])
        at = hi
    return ids + (list(tokenizer(text[at:], add_special_tokens=False)["input_ids"]) if at < len(text) else [])


def _plain_ids(tokenizer: Any, text: str) -> list[int]:
    """`text` as ordinary tokens even when it spells a special token."""
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])


@dataclass
class Trajectory:
    """One episode as tokens plus its per-step results."""

    tokens: list[int] = field(default_factory=list)
    action_mask: list[int] = field(default_factory=list)
    step_index: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)  # one per action (env reward)
    finals: list[bool] = field(default_factory=list)  # per action: scored by IsSolved (a valid Finish)
    state_keys: list[str | None] = field(default_factory=list)  # per action: the env's state_key before it
    task_id: str = ""
    is_solved: float = 0.0
    terminated: bool = False
    tool_calls: int = 0
    gold_calls: int = 0
    gold_matched: float = 0.0  # at the end: gold calls matched (each once) and in all (env info)
    gold_total: float = 0.0
    actions_text: list[str] = field(default_factory=list)
    # per action: index in `tokens` where the history part of its sampling context starts (None: not recorded)
    context_starts: list[int | None] = field(default_factory=list)
    head: int = 0  # tokens of the first segment (system prompt, function list, query): kept in every context

    @property
    def num_steps(self) -> int:
        return len(self.rewards)

    def add_prompt(self, ids: Sequence[int]) -> None:
        """Template or observation tokens: state of the next action."""
        step = self.num_steps
        if not self.tokens:
            self.head = len(ids)
        self.tokens.extend(int(i) for i in ids)
        self.action_mask.extend([0] * len(ids))
        self.step_index.extend([step] * len(ids))

    def add_action(self, ids: Sequence[int], reward: float, text: str = "", final: bool = False,
                   context_start: int | None = None) -> None:
        """The model's sampled ids for the next step (kept exactly) and the env's reward for it.

        `context_start`: where in `tokens` the context the ids were sampled from began (see `context`).
        """
        if not ids:
            raise ValueError("An action needs at least one token")
        step = self.num_steps
        self.tokens.extend(int(i) for i in ids)
        self.action_mask.extend([1] * len(ids))
        self.step_index.extend([step] * len(ids))
        self.rewards.append(float(reward))
        self.finals.append(bool(final))
        self.actions_text.append(text)
        self.context_starts.append(context_start)

    def truncate_left(self, max_tokens: int) -> Trajectory:
        """A copy keeping the last `max_tokens` tokens (the episode's results are unchanged)."""
        if len(self.tokens) <= max_tokens:
            return self
        cut = len(self.tokens) - max_tokens
        return dataclasses.replace(self, tokens=self.tokens[cut:], action_mask=self.action_mask[cut:],
                                   step_index=self.step_index[cut:], head=0,
                                   context_starts=[None] * len(self.context_starts))

    def cut_for(self, end: int, max_tokens: int) -> int:
        """The cut of a context of at most `max_tokens` tokens ending at token `end`: 0 when all of
        ``tokens[:end]`` fits; else, when the first segment (`head`) fits, it is kept and the history resumes at
        the returned index ``cut > head`` (the middle is dropped); else a plain left cut, encoded as ``-cut - 1``
        (see `window`)."""
        if end <= max_tokens:
            return 0
        if 0 < self.head < max_tokens:
            return end - (max_tokens - self.head)
        return -(end - max_tokens) - 1

    def context_start(self, max_tokens: int) -> int:
        """The cut of the next action's sampling context (see `cut_for`)."""
        return self.cut_for(len(self.tokens), max_tokens) if max_tokens > 0 else -len(self.tokens) - 1

    def window_offset(self, cut: int) -> tuple[int, int]:
        """(head tokens kept, index of ``tokens`` the rest starts at) of the context with cut `cut`."""
        if cut < 0:
            return 0, -cut - 1
        return (self.head, cut) if 0 < self.head < cut else (0, cut)

    def window(self, cut: int, end: int) -> list[int]:
        """The tokens of the context with cut `cut` (`cut_for`) ending at `end`."""
        head, start = self.window_offset(cut)
        return self.tokens[:head] + self.tokens[start:end]

    def context(self, max_tokens: int) -> list[int]:
        """What the policy conditions on when it samples the next action: at most `max_tokens` tokens, the first
        segment (system prompt with the function list, query) kept whole when it fits, the middle of the history
        cut."""
        return self.window(self.context_start(max_tokens), len(self.tokens))


class Collated(NamedTuple):
    """A padded batch. Per-token tensors are [B, L]; `pred_*` are aligned with next-token predictions [B, L-1].

    Position p of a `pred_*` tensor describes token p+1 predicted from the hidden state at position p.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    action_mask: torch.Tensor
    step_index: torch.Tensor
    pred_action_mask: torch.Tensor
    pred_step_index: torch.Tensor

    def to(self, device: torch.device | str) -> Collated:
        return Collated(*(t.to(device) for t in self))


def collate(trajectories: Sequence[Trajectory], pad_id: int, padding_side: str = "right",
            max_tokens: int | None = None) -> Collated:
    """Pad trajectories (left-truncated to `max_tokens`) into tensors; masks are zero on padding either side."""
    if padding_side not in ("left", "right"):
        raise ValueError("padding_side must be 'left' or 'right'")
    trajs = [t.truncate_left(max_tokens) if max_tokens else t for t in trajectories]
    length = max(len(t.tokens) for t in trajs)
    b = len(trajs)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    attn = torch.zeros((b, length), dtype=torch.long)
    act = torch.zeros((b, length), dtype=torch.long)
    steps = torch.full((b, length), -1, dtype=torch.long)
    for row, t in enumerate(trajs):
        n = len(t.tokens)
        sl = slice(0, n) if padding_side == "right" else slice(length - n, length)
        ids[row, sl] = torch.tensor(t.tokens, dtype=torch.long)
        attn[row, sl] = 1
        act[row, sl] = torch.tensor(t.action_mask, dtype=torch.long)
        steps[row, sl] = torch.tensor(t.step_index, dtype=torch.long)
    # Positions count real tokens only, so left padding does not shift the model's positions.
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    return Collated(ids, attn, position_ids, act, steps, act[:, 1:], steps[:, 1:])
