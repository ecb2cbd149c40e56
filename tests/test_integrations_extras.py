"""A missing extra is one line naming it; unknown env IDs are one line too."""

from __future__ import annotations

import subprocess
import sys

import pytest

from steptool_gym.errors import MissingExtraError
from steptool_gym.integrations import make_env, require


def test_missing_extra_is_one_line_naming_it():
    with pytest.raises(MissingExtraError) as err:
        require("steptool_no_such_module", "openenv", "The OpenEnv server")
    message = str(err.value)
    assert "\n" not in message and "pip install 'steptool-gym[openenv]'" in message and err.value.extra == "openenv"


@pytest.mark.parametrize(("module", "extra"), [("steptool_gym.integrations.trl", "trl"),
                                               ("steptool_gym.integrations.openenv_server", "openenv"),
                                               ("steptool_gym.integrations.skyrl", "skyrl")])
def test_each_module_names_its_extra_when_its_package_is_blocked(module, extra):
    """Block the engine's package in a fresh interpreter: importing the module fails with the extra's name."""
    blocked = {"trl": "trl", "openenv": "openenv", "skyrl": "skyrl_gym"}[extra]
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout.strip()
    assert out.endswith(f"pip install 'steptool-gym[{extra}]'") and len(out.splitlines()) == 1


def test_unknown_env_id():
    with pytest.raises(ValueError, match="unknown env 'StepTool-Nope-v0'"):
        make_env("StepTool-Nope-v0")
