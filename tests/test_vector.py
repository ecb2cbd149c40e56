"""Same seed → identical trajectories and rewards across Sync/Async vector envs and across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest

import steptool_gym  # noqa: F401
from steptool_gym import ToolCall

ENV_ID = "StepTool-ToolBench-G2-v0"


# Mixed action forms: malformed text, an answer and a give-up (episodes end and auto-reset at different times).
ACTIONS = (
    "Thought: x\nAction: nope\nAction Input: {}",
    {"name": "Finish", "arguments": {"return_type": "give_answer", "final_answer": "42"}},
    ToolCall("Finish", {"return_type": "give_up_and_restart"}),
)


def _trace(vec: gym.vector.VectorEnv, seed: int, steps: int) -> list:
    obs, info = vec.reset(seed=seed)
    trace = [list(obs), list(info["task_id"])]
    for t in range(steps):
        actions = tuple(ACTIONS[(t * (i + 1)) % 3] for i in range(vec.num_envs))
        obs, rewards, term, trunc, info = vec.step(actions)
        trace.append((list(obs), [float(r) for r in rewards], list(term), list(trunc), list(info["status"])))
    return trace


def test_sync_and_async_vector_envs_agree():
    fns = [lambda: gym.make(ENV_ID) for _ in range(3)]
    sync = gym.vector.SyncVectorEnv(fns)
    async_ = gym.vector.AsyncVectorEnv(fns, shared_memory=False)
    try:
        assert _trace(sync, 7, 12) == _trace(async_, 7, 12)
    finally:
        sync.close()
        async_.close()


def test_make_vec_async_works_by_default():
    """``gym.make_vec(..., vectorization_mode="async")`` with Gymnasium's default shared memory (issue 20)."""
    sync = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync")
    async_ = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="async")
    try:
        assert async_.shared_memory
        assert _trace(sync, 7, 12) == _trace(async_, 7, 12)
        obs, _ = async_.reset(seed=1)
        assert isinstance(obs, tuple) and obs == sync.reset(seed=1)[0]  # a plain copy, not a live view
    finally:
        sync.close()
        async_.close()


def test_shared_memory_round_trips_any_unicode():
    import multiprocessing as mp

    from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

    from steptool_gym.spaces import ToolText

    space = ToolText(16)
    buffer = create_shared_memory(space, n=3, ctx=mp)
    view = read_from_shared_memory(space, buffer, n=3)
    for i, text in enumerate(("", "é中🙂\n\t", "x" * 16)):
        write_to_shared_memory(space, i, text, buffer)
    assert tuple(view) == ("", "é中🙂\n\t", "x" * 16)
    write_to_shared_memory(space, 1, "ab", buffer)
    assert view[1] == "ab" and view[-1] == "x" * 16
    with pytest.raises(ValueError, match="exceeds"):
        write_to_shared_memory(space, 0, "y" * 17, buffer)


def _oracle_episode_json(seed: int) -> str:
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=seed)
    out = [obs]
    while True:
        obs, reward, term, trunc, info = env.step(env.unwrapped.oracle_action())
        out.append([obs, reward, info["status"], info["reward_components"]])
        if term or trunc:
            return json.dumps(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_trajectory_across_processes(seed):
    code = (f"import sys; sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r}); "
            f"from test_vector import _oracle_episode_json; print(_oracle_episode_json({seed}))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert other.stdout.strip() == _oracle_episode_json(seed)


def _same_batched(a, b) -> None:
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same_batched(a[key], b[key])
        return
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else a.tolist() == b.tolist()


def test_make_vec_builds_the_fast_sync_env_with_gymnasiums_results():
    from steptool_gym.vector import ToolSyncVectorEnv

    fast = gym.make_vec(ENV_ID, num_envs=3)
    slow = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync")
    try:
        assert type(fast) is ToolSyncVectorEnv and type(slow) is gym.vector.SyncVectorEnv
        assert fast.envs[0].unwrapped.suite.group == "G2"  # the ID's own kwargs
        obs_fast, info_fast = fast.reset(seed=7)
        obs_slow, info_slow = slow.reset(seed=7)
        assert obs_fast == obs_slow
        _same_batched(info_fast, info_slow)
        for t in range(40):  # oracle calls, malformed text, answers and give-ups: infos of every shape
            actions = tuple(fast.envs[i].unwrapped.oracle_action() if t % 3 else ACTIONS[(t * (i + 1)) % 3]
                            for i in range(3))
            out_fast, out_slow = fast.step(actions), slow.step(actions)
            assert out_fast[0] == out_slow[0]
            for x, y in zip(out_fast[1:], out_slow[1:], strict=True):
                _same_batched(x, y)
    finally:
        fast.close()
        slow.close()


def test_batch_infos_equals_gymnasiums_add_info_on_odd_infos():
    from steptool_gym.vector import batch_infos

    vec = gym.vector.SyncVectorEnv([lambda: gym.make(ENV_ID)] * 3)
    cases = [
        [{"a": 1, "b": "x"}, {"b": "y"}, {"a": 2.5, "c": None}],  # missing keys, an int column given a float
        [{"d": {"x": 1}}, {"d": {"y": True}}, {}],  # nested dicts with different keys
        [{"f": 1.0}, {"f": 2}, {"f": np.float32(3)}],  # mixed numeric types
        [{"v": np.arange(2)}, {"v": np.arange(2)}, {"v": np.arange(2)}],  # arrays
        [{"l": [1, 2]}, {"l": (3,)}, {"l": "s"}],  # sequences in an object column
        [{"k": 1}, {"k": 2}, {"k": 3}],
        [{"o": OrderedDict(x=1)}, {"o": {"x": 2.5}}, {}],  # a dict subclass: its shape is looked up per call
        [{"r": {"IsSolved": None}}, {"r": {"IsSolved": 1.0}}, {"r": {"IsSolved": 0.5}}],
        [{"r": {"IsSolved": 1.0}}, {"r": {"IsSolved": 1.0}}, {"r": {"IsSolved": None}}],  # same outer types
    ]
    for infos in cases:
        expected: dict = {}
        for i, info in enumerate(infos):
            expected = vec._add_info(expected, info, i)
        _same_batched(batch_infos(infos, 3), expected)
    assert batch_infos([{"m": {"x": 1}}, {"m": 2}, {}], 3) is None  # a dict in one sub-env only: Gymnasium's path
    vec.close()
    one = gym.vector.SyncVectorEnv([lambda: gym.make(ENV_ID)])
    for info in ({"s": "x", "n": None, "b": True, "r": {"SC": 1.0, "IsSolved": None}}, {"i": 2**40, "f": 0.5}):
        for _ in range(2):  # the second call reuses the cached plan of this signature
            batched = batch_infos([info], 1)
            _same_batched(batched, one._add_info({}, info, 0))
        mask = f"_{next(iter(info))}"
        batched[mask][0] = False  # every array is the caller's own: the next step's is untouched
        assert batch_infos([info], 1)[mask][0]
    one.close()
