"""`ToolSyncVectorEnv`: Gymnasium's `SyncVectorEnv` with the same results, batched for tool-use envs' infos.

`SyncVectorEnv.step` batches every sub-env's info through `VectorEnv._add_info`, one key at a time per sub-env:
two fresh numpy arrays per key and sub-env, the step's largest cost after the envs' own work (a default
tool-use info has ~10 keys: ``status``, ``reward_components``, ``progress``, ``state_key``, ...).
`ToolSyncVectorEnv` steps the sub-envs exactly as `SyncVectorEnv` does (next-step autoreset) and builds the
same info dict once per step: the same keys in the same order, the same dtypes, values and ``_key`` masks
(`batch_infos`; any info it cannot match exactly goes through `_add_info` unchanged). It is a `SyncVectorEnv`
subclass with the same constructor, so ``isinstance`` checks and every other method behave as before.

``gym.make_vec(ID, num_envs=N)`` returns it for every StepTool ID (their ``vector_entry_point``);
``vectorization_mode="sync"`` still gives Gymnasium's own `SyncVectorEnv`, ``"async"`` its `AsyncVectorEnv`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import concatenate, iterate

__all__ = ["ToolSyncVectorEnv", "batch_infos"]

_NUMERIC = (int, float, bool)


class ToolSyncVectorEnv(SyncVectorEnv):
    """`SyncVectorEnv` whose ``step`` builds the batched info once per step (see the module docstring)."""

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.autoreset_mode != AutoresetMode.NEXT_STEP:
            return super().step(actions)
        env_obs, rewards = self._env_obs, self._rewards
        terminations, truncations = self._terminations, self._truncations
        infos: list[dict[str, Any]] = []
        for i, (action, env) in enumerate(zip(iterate(self.action_space, actions), self.envs, strict=True)):
            if self._autoreset_envs[i]:
                env_obs[i], info = env.reset()
                rewards[i], terminations[i], truncations[i] = 0.0, False, False
            else:
                env_obs[i], rewards[i], terminations[i], truncations[i], info = env.step(action)
            infos.append(info)
        self._observations = concatenate(self.single_observation_space, env_obs, self._observations)
        self._autoreset_envs = np.logical_or(terminations, truncations)
        batched = batch_infos(infos, self.num_envs)
        if batched is None:  # an info shape only Gymnasium's own batching reproduces exactly
            batched = {}
            for i, info in enumerate(infos):
                batched = self._add_info(batched, info, i)
        observations = self._observations
        # A tuple of strings is immutable: deepcopy would return the very same object.
        if self.copy and not (type(observations) is tuple and all(type(o) is str for o in observations)):
            observations = deepcopy(observations)
        return observations, np.copy(rewards), np.copy(terminations), np.copy(truncations), batched


def batch_infos(infos: Sequence[dict[str, Any]], num_envs: int) -> dict[str, Any] | None:
    """The dict `VectorEnv._add_info` builds from ``infos[i]`` for i = 0, 1, ... (keys in first-seen order, each
    followed by its ``_key`` mask; a nested dict batched the same way), or None for an info it would not build
    the same way (a key that is a dict in one sub-env and not in another, ``final_obs``, keys starting with ``_``)."""
    return _batch(list(range(len(infos))), list(infos), num_envs)


def _batch(index: list[int], infos: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
    """`batch_infos` of sub-envs `index` (``infos[j]`` is sub-env ``index[j]``'s info)."""
    keys = list(infos[0])
    if len(index) == n and all(list(info) == keys for info in infos[1:]):
        full = _batch_full(keys, infos, n)
        if full is not _GENERAL:
            return full
    columns: dict[str, tuple[list[int], list[Any]]] = {}
    for i, info in zip(index, infos, strict=True):
        for key, value in info.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [])
            column[0].append(i)
            column[1].append(value)
    out: dict[str, Any] = {}
    for key, (where, values) in columns.items():
        if type(key) is not str or key == "final_obs" or key[:1] == "_":
            return None
        kinds = set(map(type, values))
        nested = [issubclass(kind, dict) for kind in kinds]
        if any(nested):
            if not all(nested) or (batched := _batch(where, values, n)) is None:
                return None
            out[key] = batched
        else:
            out[key] = _column(where, values, kinds, n)
        if len(where) == n:
            mask = _all_true(n).copy()
        else:
            mask = np.zeros(n, dtype=np.bool_)
            mask[where] = True
        out[f"_{key}"] = mask
    return out


_GENERAL: Any = object()  # `_batch_full`'s answer for values it leaves to the general path


def _batch_full(keys: list[str], infos: list[dict[str, Any]], n: int) -> Any:
    """`_batch` when every sub-env's info has the same keys in the same order (the usual step): one array and one
    mask per key, with as few Python steps per value as exactness allows; `_GENERAL` for anything unusual."""
    out: dict[str, Any] = {}
    true = _all_true(n)
    for key in keys:
        if type(key) is not str or key == "final_obs" or key[:1] == "_":
            return None
        values = [info[key] for info in infos]
        kind = type(values[0])
        if n > 1 and len(set(map(type, values))) > 1:
            return _GENERAL
        if kind is dict:
            batched = _batch(list(range(n)), values, n)
            if batched is None:
                return None
            out[key] = batched
        elif kind in _NUMERIC:
            out[key] = np.array(values, dtype=kind)
        elif kind is str:
            out[key] = np.array(values, dtype=object)
        elif issubclass(kind, dict):
            return _GENERAL
        else:
            out[key] = _column(list(range(n)), values, {kind}, n)
        out[f"_{key}"] = true.copy()
    return out


def _column(where: list[int], values: list[Any], kinds: set[type], n: int) -> np.ndarray:
    """`_add_info`'s array for one key: its dtype from the first sub-env's value, then each value assigned."""
    kind = type(values[0])
    if kind in _NUMERIC or issubclass(kind, np.number):
        if len(kinds) == 1 and len(where) == n:
            return np.array(values, dtype=kind)
        array = np.zeros(n, dtype=kind)
    elif isinstance(values[0], np.ndarray):
        array = np.zeros((n, *values[0].shape), dtype=values[0].dtype)
    else:
        array = np.empty(n, dtype=object)  # None everywhere, as `np.full(n, None, dtype=object)`
        if kinds <= _PLAIN and len(where) == n:  # no sequence among them: a slice assignment sets each item
            array[:] = values
            return array
    for i, value in zip(where, values, strict=True):
        array[i] = value
    return array


_PLAIN = frozenset({str, type(None)})
_TRUE: dict[int, np.ndarray] = {}


def _all_true(n: int) -> np.ndarray:
    """A read-only all-True mask of length `n` (cached): copy it."""
    template = _TRUE.get(n)
    if template is None:
        template = _TRUE[n] = np.ones(n, dtype=np.bool_)
        template.flags.writeable = False
    return template


def _creator(env_id: str) -> Callable[..., ToolSyncVectorEnv]:
    """A ``vector_entry_point``: ``gym.make_vec`` passes the spec's and the caller's kwargs merged, so one
    registered ID per env class builds every variant (``group=``, ``domain=``, ...)."""

    def create(num_envs: int = 1, **kwargs: Any) -> ToolSyncVectorEnv:
        return ToolSyncVectorEnv([partial(gym.make, env_id, **kwargs) for _ in range(num_envs)])

    return create


toolbench = _creator("StepTool-ToolBench-v0")
stabletoolbench = _creator("StepTool-StableToolBench-v0")
bfcl = _creator("StepTool-BFCL-MultiTurn-v0")
tau2 = _creator("StepTool-Tau2-Airline-v0")
