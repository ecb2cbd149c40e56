"""Spaces for text observations and tool-call actions.

Gymnasium's `Text` space rejects characters outside its charset, so it cannot hold real tool output (any
unicode, empty strings). `ToolText` follows MiniGrid's `MissionSpace`: any `str` up to `max_length` characters
is a member. `ToolCallSpace` holds every accepted action form; its `sample()` draws well-formed and malformed
calls, which is what fuzzing a tool-use env needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Space

from steptool_gym.actions import FINISH, ToolCall

__all__ = ["ToolCallSpace", "ToolText"]

_ALPHABET = list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:;!?{}[]\"'é中🙂\n\t")


class ToolText(Space[str]):
    """Any string of at most `max_length` characters (unicode and empty strings included)."""

    def __init__(self, max_length: int, seed: int | np.random.Generator | None = None) -> None:
        if max_length <= 0:
            raise ValueError(f"max_length must be positive; got {max_length}")
        self.max_length = int(max_length)
        super().__init__(dtype=str, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        n = int(self.np_random.integers(0, min(self.max_length, 256) + 1))
        return "".join(self.np_random.choice(_ALPHABET, size=n)) if n else ""

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ToolText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolText) and other.max_length == self.max_length


class ToolCallSpace(Space[Any]):
    """Tool-call actions: ReAct/JSON text, call dicts, OpenAI messages or `ToolCall` values.

    `sample()` mixes calls to `function_names` in every format with malformed ones (bad JSON, unknown names,
    garbage text), so random agents and fuzzers exercise the env's error paths.
    """

    def __init__(self, function_names: Sequence[str] = (), max_length: int = 1 << 20,
                 seed: int | np.random.Generator | None = None) -> None:
        self.function_names = tuple(function_names) + (FINISH,)
        self.max_length = max_length
        super().__init__(dtype=object, seed=seed)

    def contains(self, x: Any) -> bool:
        if isinstance(x, str):
            return len(x) <= self.max_length
        return isinstance(x, ToolCall | Mapping)

    def sample(self, mask: Any = None, probability: Any = None) -> Any:
        rng = self.np_random
        name = str(rng.choice(self.function_names))
        args: dict[str, Any] = {}
        if name == FINISH:
            args = {"return_type": str(rng.choice(["give_answer", "give_up_and_restart"])), "final_answer": "x"}
        elif rng.random() < 0.5:
            args = {"query": "".join(rng.choice(_ALPHABET, size=int(rng.integers(0, 12))))}
        form = int(rng.integers(0, 5))
        if form == 0:
            return ToolCall(name, args, "sampled")
        if form == 1:
            return {"name": name, "arguments": args}
        if form == 2:
            return ToolCall(name, args, "sampled").to_react()
        if form == 3:
            return f"Thought: ...\nAction: {name}\nAction Input: {json.dumps(args)[:-1]}"  # broken JSON
        return "".join(rng.choice(_ALPHABET, size=int(rng.integers(0, 64))))

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ToolCallSpace({len(self.function_names)} functions)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolCallSpace) and other.function_names == self.function_names
