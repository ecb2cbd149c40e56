"""Slow learning check: step-grained PPO beats its own SFT warm start on a held-out split.

The task (`choice_suite`, ``ChoiceToy-v0``) is one where behaviour cloning cannot win: the oracle's demos use a
rewarded and an unrewarded tool equally often, so the SFT model flips a coin between them. StepTool's step
reward tells the tools apart (Con 5 vs 0); the ``test`` split asks the same question in a phrasing the model
never saw in training.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from steptool_agents.evaluate import load_run_policy  # noqa: E402
from steptool_agents.policy.models import load_policy  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402


@pytest.mark.slow
def test_steptool_ppo_beats_sft_on_held_out_split(tmp_path: Path) -> None:
    from choice_suite import choice_config, sampled_eval

    cfg = choice_config("steptool", sft_episodes=32, eval_split="test",
                        ppo={"credit": "step_gae", "updates": 30, "minibatch_size": 8, "learning_rate": 1e-3,
                             "n_epochs": 2, "kl_coef": 0.02, "target_approx_kl": None, "gamma": 0.9})
    run_training(cfg, tmp_path, evaluate=False)

    sft_policy, steptool_policy = load_policy(tmp_path / "model", cfg.model), load_run_policy(tmp_path, cfg)
    # Measured (seed 0): train pass rate 0.53 → 0.84; held-out 0.39 → 0.59, return 1.02 → 1.27 (of 2.0).
    sft, steptool = sampled_eval(sft_policy, cfg, "test"), sampled_eval(steptool_policy, cfg, "test")
    assert steptool["pass_rate"] >= sft["pass_rate"] + 0.1, (sft, steptool)
    assert steptool["mean_return"] >= sft["mean_return"] + 0.15, (sft, steptool)
    sft, steptool = sampled_eval(sft_policy, cfg, "train"), sampled_eval(steptool_policy, cfg, "train")
    assert steptool["pass_rate"] >= sft["pass_rate"] + 0.2, (sft, steptool)
