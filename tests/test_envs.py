"""The registry-driven battery: every registered StepTool ID passes the shipped checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import gymnasium as gym
import pytest

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.errors import DataError, MissingExtraError
from steptool_gym.test.api_test import check_tool_env

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("StepTool-"))


def _unavailable(env_id: str) -> str | None:
    """Why `env_id` cannot be made here (a missing extra or data folder), or None."""
    try:
        gym.make(env_id).close()
    except MissingExtraError as exc:
        return f"{env_id}: optional dependency missing ({exc})"
    except DataError as exc:
        return f"{env_id}: data not available ({exc})"
    return None


def _skip_if_unavailable(env_id: str) -> None:
    reason = _unavailable(env_id)
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registered_env_passes_battery(env_id):
    _skip_if_unavailable(env_id)
    check_tool_env(env_id)


def test_toolbench_ids_registered():
    for env_id in ("StepTool-ToolBench-v0", "StepTool-ToolBench-G1-v0", "StepTool-ToolBench-G2-v0",
                   "StepTool-ToolBench-G3-v0"):
        assert env_id in gym.registry


def test_module_prefixed_make_imports_and_registers_in_a_fresh_process():
    code = ("import gymnasium as gym; env = gym.make('steptool_gym:StepTool-ToolBench-v0'); "
            "obs, info = env.reset(seed=0); print(type(obs).__name__, len(obs) > 100)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["str", "True"]


SECTIONS = ("## Description", "## Action Space", "## Observation Space", "## Rewards", "## Episode End",
            "## Information", "## Arguments", "## Version History")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_class_docstring_has_gymnasium_skeleton(env_id):
    module, _, name = str(gym.spec(env_id).entry_point).partition(":")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    missing = [s for s in SECTIONS if s not in (cls.__doc__ or "")]
    assert not missing, f"{cls.__name__} docstring lacks {missing}"


_KEYS_SCRIPT = """
import json, sys
import gymnasium as gym
import steptool_gym
out = {}
for env_id in sys.argv[1:]:
    env = gym.make(env_id)
    base = env.unwrapped
    keys = []
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        keys.append(info["state_key"])
        for _ in range(base.max_steps):
            call = base.oracle_action()
            if call is None:
                break
            *_, terminated, truncated, info = env.step(call)
            keys.append(info["state_key"])
            if terminated or truncated:
                break
    out[env_id] = keys
print(json.dumps(out))
"""


def test_state_keys_are_equal_across_processes_and_hash_seeds():
    available = [env_id for env_id in ENV_IDS if _unavailable(env_id) is None]
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", _KEYS_SCRIPT, *available], capture_output=True, text=True,
                             timeout=600, check=True, env=env)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1] and set(runs[0]) == set(available)
    for env_id, keys in runs[0].items():
        assert all(isinstance(k, str) and len(k) >= 8 for k in keys), env_id
        assert len(set(keys)) > 2, f"{env_id}: oracle episodes of two seeds went through too few states"
