"""Slow learning check: the quickstart's StepTool PPO beats its own SFT warm start on a held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.mark.slow
def test_steptool_ppo_beats_sft_on_held_out_split(tmp_path: Path) -> None:
    import gymnasium as gym

    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.quickstart import main, quickstart_config

    env_id = quickstart_config().env_id
    try:
        gym.make(env_id).close()
    except (gym.error.Error, ImportError) as exc:  # the suite is optional for the agents package
        pytest.skip(f"{env_id} unavailable: {exc}")
    assert main(["--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "quickstart.json").read_text())
    sft, steptool = report["results"]["SFT"], report["results"]["StepTool"]
    assert steptool["episodes"] == sft["episodes"] == quickstart_config().eval_episodes
    assert steptool["mean_return"] > sft["mean_return"]
    assert steptool["pass_rate"] >= sft["pass_rate"]
