"""Shared-memory support for `ToolText`, so ``gym.make_vec(..., vectorization_mode="async")`` works by default.

`gymnasium.vector.AsyncVectorEnv` defaults to ``shared_memory=True`` and asks each observation space for
``create_shared_memory`` / ``read_from_shared_memory`` / ``write_to_shared_memory`` (single-dispatch functions
that custom spaces register, as the error message of an unregistered space says). Here a `ToolText` observation
is stored per sub-env as its length followed by its UTF-32 code points (``max_length + 1`` int32 slots), so any
unicode string round-trips exactly.

`AsyncVectorEnv` reads its observation buffer once, at construction, and hands out copies of that object after
every reset/step: `SharedTexts` is therefore a live view that decodes the buffer on access, and its copy
(``copy=True``, the default) is a plain tuple of strings, the same type `SyncVectorEnv` returns.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from collections.abc import Sequence as SequenceABC
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from steptool_gym.spaces import ToolText

__all__ = ["SharedTexts"]


def _slots(buffer: Any, space: ToolText) -> np.ndarray:
    return np.frombuffer(buffer.get_obj(), dtype=np.int32).reshape(-1, space.max_length + 1)


class SharedTexts(SequenceABC):
    """The strings of `n` sub-envs, decoded from shared memory on every access."""

    def __init__(self, space: ToolText, buffer: Any, n: int) -> None:
        self._space, self._buffer, self._n = space, buffer, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        row = _slots(self._buffer, self._space)[range(self._n)[index]]
        return row[1:1 + int(row[0])].tobytes().decode("utf-32-le")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self._n))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SequenceABC) and tuple(self) == tuple(other)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(self)!r})"


@create_shared_memory.register(ToolText)
def _create(space: ToolText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


@read_from_shared_memory.register(ToolText)
def _read(space: ToolText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)


@write_to_shared_memory.register(ToolText)
def _write(space: ToolText, index: int, value: str, shared_memory: Any) -> None:
    codes = np.frombuffer(value.encode("utf-32-le"), dtype=np.int32)
    if len(codes) > space.max_length:
        raise ValueError(f"observation of {len(codes)} characters exceeds {space!r}")
    row = _slots(shared_memory, space)[index]
    row[0] = len(codes)
    row[1:1 + len(codes)] = codes
