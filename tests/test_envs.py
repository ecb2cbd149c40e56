"""The registry-driven battery: every registered StepTool ID passes the shipped checks."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.errors import DataError, MissingExtraError
from steptool_gym.test.api_test import check_tool_env

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("StepTool-"))


def _skip_if_unavailable(env_id: str) -> None:
    try:
        gym.make(env_id).close()
    except MissingExtraError as exc:
        pytest.skip(f"{env_id}: optional dependency missing ({exc})")
    except DataError as exc:
        pytest.skip(f"{env_id}: data not available ({exc})")


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
