"""`ToolSyncVectorEnv`: Gymnasium's `SyncVectorEnv` with the same results, batched for tool-use envs' infos.

`SyncVectorEnv.step` batches every sub-env's info through `VectorEnv._add_info`, one key at a time per sub-env:
two fresh numpy arrays per key and sub-env, the step's largest cost after the envs' own work (a default
tool-use info has ~10 keys: ``status``, ``reward_components``, ``progress``, ``state_key``, ...).
`ToolSyncVectorEnv` steps the sub-envs exactly as `SyncVectorEnv` does (next-step autoreset) and builds the
same info dict once per step: the same keys in the same order, the same dtypes, values and ``_key`` masks
(`batch_infos`; any info it cannot match exactly goes through `_add_info` unchanged). What `_add_info` decides
per key and sub-env (dtype, mask, nesting) is decided once per info signature (which sub-envs gave which keys
with values of which types, plain nested dicts included; a step's infos take a handful of shapes) and compiled to
straight-line code, so a step pays one array copy and one mask copy per key and little else. It is a
`SyncVectorEnv` subclass with the same constructor, so ``isinstance`` checks and every other method behave as
before.

``gym.make_vec(ID, num_envs=N)`` returns it for every StepTool ID (their ``vector_entry_point``);
``vectorization_mode="sync"`` still gives Gymnasium's own `SyncVectorEnv`, ``"async"`` its `AsyncVectorEnv`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import cached_property, partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.spaces import Space, Tuple
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import concatenate, iterate

__all__ = ["ToolSyncVectorEnv", "batch_infos"]

_NUMERIC = (int, float, bool)
_CONCATENATE_CUSTOM = concatenate.dispatch(Space)  # tuple(items): text and other custom spaces


class ToolSyncVectorEnv(SyncVectorEnv):
    """`SyncVectorEnv` whose ``step`` builds the batched info once per step (see the module docstring)."""

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.autoreset_mode != AutoresetMode.NEXT_STEP:
            return super().step(actions)
        env_obs, rewards = self._env_obs, self._rewards
        terminations, truncations = self._terminations, self._truncations
        autoreset = self._autoreset_envs
        infos: list[dict[str, Any]] = []
        for i, (action, env) in enumerate(zip(self._iterate_actions(actions), self.envs, strict=True)):
            if autoreset[i]:
                env_obs[i], info = env.reset()
                rewards[i], terminations[i], truncations[i] = 0.0, False, False
            else:
                env_obs[i], rewards[i], terminations[i], truncations[i], info = env.step(action)
            infos.append(info)
        if self._text_obs:  # what `concatenate` returns for a custom space, without its dispatch
            self._observations = tuple(env_obs)
        else:
            self._observations = concatenate(self.single_observation_space, env_obs, self._observations)
        self._autoreset_envs = np.logical_or(terminations, truncations)
        batched = _batch(self._index, infos, self.num_envs)  # `batch_infos` without re-making its arguments
        if batched is None:  # an info shape only Gymnasium's own batching reproduces exactly
            batched = {}
            for i, info in enumerate(infos):
                batched = self._add_info(batched, info, i)
        observations = self._observations
        # A tuple of strings is immutable: deepcopy would return the very same object.
        if self.copy and not (type(observations) is tuple and all(type(o) is str for o in observations)):
            observations = deepcopy(observations)
        # `ndarray.copy` is `np.copy` of a 1-D array without the array-function dispatch.
        return observations, rewards.copy(), terminations.copy(), truncations.copy(), batched

    @cached_property
    def _index(self) -> tuple[int, ...]:
        return tuple(range(self.num_envs))

    @cached_property
    def _text_obs(self) -> bool:
        return concatenate.dispatch(type(self.single_observation_space)) is _CONCATENATE_CUSTOM

    @cached_property
    def _plain_actions(self) -> bool:
        # `iterate` of a Tuple of unregistered (custom) spaces is `iter(actions)`: the same without the dispatch.
        space = self.action_space
        return type(space) is Tuple and not any(type(sub) in iterate.registry for sub in space)

    def _iterate_actions(self, actions: Any) -> Any:
        return iter(actions) if self._plain_actions else iterate(self.action_space, actions)


def batch_infos(infos: Sequence[dict[str, Any]], num_envs: int) -> dict[str, Any] | None:
    """The dict `VectorEnv._add_info` builds from ``infos[i]`` for i = 0, 1, ... (keys in first-seen order, each
    followed by its ``_key`` mask; a nested dict batched the same way), or None for an info it would not build
    the same way (a key that is a dict in one sub-env and not in another, ``final_obs``, keys starting with ``_``)."""
    return _batch(tuple(range(len(infos))), list(infos), num_envs)


# How a plan builds one key's array (see `_plan`).
_ASSIGN, _STACK, _NESTED, _ARRAYS, _INLINE = 0, 1, 2, 3, 4
_PLANS: dict[Any, Any] = {}  # signature -> compiled plan (None: `_add_info`)
_MAX_PLANS = 4096  # signatures kept: a program that invents info keys cannot grow the cache forever


def _batch(index: tuple[int, ...], infos: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
    """`batch_infos` of sub-envs `index` (``infos[j]`` is sub-env ``index[j]``'s info), built by the compiled plan
    of its signature (which sub-envs gave which keys with values of which types, nested dicts included): a
    step's infos take a handful of shapes, so what `_add_info` decides per key and sub-env is decided, and
    compiled, once per shape."""
    signature = (index, n, *map(_shape, infos))
    build = _PLANS.get(signature, _UNPLANNED)
    if build is _UNPLANNED:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _plan(index, infos, n)
        build = _PLANS[signature] = _compile(plan, len(infos), n) if plan is not None else None
    return build(infos) if build is not None else None


_UNPLANNED = object()


def _shape(info: dict[str, Any]) -> tuple[Any, ...]:
    """An info's keys and value types, and those of the plain dicts in it (the plan inlines exactly those)."""
    types = tuple(map(type, info.values()))
    if dict not in types:
        return tuple(info), types
    return tuple(info), types, *[_shape(v) for v in info.values() if type(v) is dict]


def _compile(plan: tuple[Any, ...], count: int, n: int) -> Callable[[list[dict[str, Any]]], dict[str, Any] | None]:
    """A function that builds the info dict a plan describes from `count` infos: straight-line code (one statement
    per array, nested dicts as dict displays), since a per-key loop that re-reads the plan costs more than the
    arrays themselves at N <= 4."""
    names: dict[str, Any] = {"_batch": _batch, "_array": np.array, "_zeros": np.zeros, "_n": n}
    lines = [f"i{j} = infos[{j}]" for j in range(count)]
    display = _emit(plan, [f"i{j}" for j in range(count)], "", names, lines)
    body = "".join(f"    {line}\n" for line in lines)
    # The source is built from the plan alone (keys and arrays are passed as names, never as text).
    exec(f"def build(infos):\n{body}    return {display}\n", names)
    return names["build"]


def _emit(plan: tuple[Any, ...], sources: list[str], tag: str, names: dict[str, Any], lines: list[str]) -> str:
    """Append the statements that build `plan`'s arrays from the infos `sources` (expressions) to `lines`; return
    the dict display of the result (keys in first-seen order, each followed by its mask)."""
    items = []
    for k, (key, mask_key, how, where, positions, template, mask) in enumerate(plan):
        v = f"{tag}{k}"
        names |= {f"K{v}": key, f"MK{v}": mask_key, f"T{v}": template, f"M{v}": mask, f"W{v}": where}
        values = [f"{sources[j]}[K{v}]" for j in positions]
        if how == _ASSIGN:  # `_add_info`'s own steps: a zero (object: None) array, each value assigned
            lines.append(f"a{v} = T{v}.copy()")
            lines += [f"a{v}[{i}] = {value}" for i, value in zip(where, values)]
        elif how == _STACK:  # every sub-env, values of one numeric/str/None type: the same array in one call
            lines.append(f"a{v} = _array([{', '.join(values)}], T{v})")
        elif how == _INLINE:  # plain dicts whose shapes are in the signature: batched right here
            items.append(f"K{v}: {_emit(template, values, v + '_', names, lines)}, MK{v}: M{v}.copy()")
            continue
        elif how == _NESTED:  # dict subclasses: their shape is looked up on each call
            lines.append(f"a{v} = _batch(W{v}, [{', '.join(values)}], _n)")
            lines.append(f"if a{v} is None: return None")
        else:  # arrays: `_add_info` sizes the batch from the first one's shape and dtype
            lines.append(f"a{v} = _zeros((_n, *{values[0]}.shape), dtype={values[0]}.dtype)")
            lines += [f"a{v}[{i}] = {value}" for i, value in zip(where, values)]
        items.append(f"K{v}: a{v}, MK{v}: M{v}.copy()")
    return "{" + ", ".join(items) + "}"


def _plan(index: tuple[int, ...], infos: list[dict[str, Any]], n: int) -> tuple[Any, ...] | None:
    """Per key in first-seen order: (key, mask key, how, sub-envs that have it, their positions in `infos`, a
    read-only zero array or dtype, a read-only mask); None where only `_add_info` builds the same dict."""
    columns: dict[Any, tuple[list[int], list[int], list[type]]] = {}
    for j, (i, info) in enumerate(zip(index, infos, strict=True)):
        for key, value in info.items():
            where, positions, kinds = columns.setdefault(key, ([], [], []))
            where.append(i)
            positions.append(j)
            kinds.append(type(value))
    plan = []
    for key, (where, positions, kinds) in columns.items():
        if type(key) is not str or key == "final_obs" or key[:1] == "_":
            return None
        first = kinds[0]
        nested = [issubclass(kind, dict) for kind in kinds]
        template: Any = None
        if any(nested):
            if not all(nested):
                return None
            how = _NESTED
            if set(kinds) == {dict}:  # `_shape` put these dicts' shapes in the signature: plan them now
                template = _plan(tuple(where), [infos[j][key] for j in positions], n)
                if template is None:
                    return None
                how = _INLINE
        elif issubclass(first, np.ndarray):
            how = _ARRAYS
        else:
            # `_add_info`'s dtype: the first value's type when numeric, else objects (None where a sub-env is missing)
            numeric = first in _NUMERIC or issubclass(first, np.number)
            dtype = np.dtype(first if numeric else object)
            if len(where) == n > 1 and set(kinds) == {first} and (numeric or first in _PLAIN):
                how, template = _STACK, dtype
            else:
                how, template = _ASSIGN, _read_only(np.zeros(n, dtype=dtype) if numeric else np.full(n, None))
        mask = np.zeros(n, dtype=np.bool_)
        mask[where] = True
        plan.append((key, f"_{key}", how, tuple(where), tuple(positions), template, _read_only(mask)))
    return tuple(plan)


_PLAIN = frozenset({str, type(None)})


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


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
