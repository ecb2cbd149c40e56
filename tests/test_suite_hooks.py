"""Suites extend the engine through public hooks only: no env class overrides an underscore method of `ToolUseEnv`,
and no wrapper reads its private episode state."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from steptool_gym.env import ToolUseEnv

ENV_CLASSES = [
    ("steptool_envs.toolbench.env", "ToolBenchEnv"),
    ("steptool_envs.stabletoolbench.env", "StableToolBenchEnv"),
    ("steptool_envs.bfcl.env", "BFCLMultiTurnEnv"),
    ("steptool_envs.tau2.env", "Tau2Env"),
]


@pytest.mark.parametrize(("module", "name"), ENV_CLASSES)
def test_env_classes_override_no_private_engine_method(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    private = {k for k in vars(ToolUseEnv) if k.startswith("_") and not k.startswith("__")}
    overridden = sorted(private & {k for klass in cls.__mro__[:cls.__mro__.index(ToolUseEnv)] for k in vars(klass)})
    assert not overridden, f"{name} overrides {overridden}: use a suite hook (steptool_gym.suite)"


def test_wrappers_use_the_public_env_api() -> None:
    from steptool_gym import wrappers

    source = Path(inspect.getfile(wrappers)).read_text()
    assert "._state" not in source and "._prepared" not in source


def test_done_is_public() -> None:
    import gymnasium as gym

    from steptool_envs.toy import register_toy_env

    env = gym.make(register_toy_env(), max_steps=1)
    env.reset(seed=0)
    assert env.unwrapped.done is False
    env.step("Action: nope\nAction Input: {}")
    assert env.unwrapped.done is True  # truncated after max_steps = 1
