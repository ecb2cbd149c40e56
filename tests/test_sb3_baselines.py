"""The SB3 benchmark's baselines: scripted heuristics on the same held-out tasks, and its seed statistics."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import pytest

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.sb3_train import heuristic_baseline
from steptool_gym.wrappers import make_sb3_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from sb3_learning import _summary, _write, wilson95

ENV = "StepTool-ToolBench-G1-v0"


def test_heuristics_play_the_tasks_the_sb3_evaluation_draws() -> None:
    raw = gym.make(ENV, split="test_instruction")
    wrapped = make_sb3_env(ENV, split="test_instruction")
    drawn = []
    for i in range(5):
        raw.reset(seed=20_000 + i)
        wrapped.reset(seed=20_000 + i)
        drawn.append(raw.unwrapped._state.task_index)
        assert raw.unwrapped._state.task_index == wrapped.unwrapped._state.task_index
    assert len(set(drawn)) > 1  # the seeds draw different tasks


def test_heuristic_baseline_scores_the_oracle_and_refuses_unknown_policies() -> None:
    assert heuristic_baseline(ENV, "oracle", episodes=4, seed=20_000, split="test_instruction")["pass_rate"] == 1.0
    rate = heuristic_baseline(ENV, "first_untried", episodes=4, seed=20_000, split="test_instruction")["pass_rate"]
    assert 0.0 <= rate < 1.0
    with pytest.raises(ValueError, match="Unknown policy"):
        heuristic_baseline(ENV, "no_such_policy", episodes=1, seed=0, split="test_instruction")


def test_summary_is_mean_std_and_t_interval_over_seeds() -> None:
    s = _summary([0.1, 0.2, 0.3])
    assert s["held_out_pass_rate"] == pytest.approx(0.2) and s["held_out_std"] == pytest.approx(0.1)
    lo, hi = s["held_out_ci95"]
    assert hi - 0.2 == pytest.approx(4.303 * 0.1 / 3 ** 0.5, rel=1e-3) and lo == pytest.approx(0.4 - hi)
    assert _summary([0.5])["held_out_ci95"] == [0.5, 0.5]
    assert wilson95(0.5, 100) == pytest.approx([0.4038, 0.5962], abs=1e-4)  # the textbook value
    lo, hi = wilson95(0.0, 200)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.0188, abs=1e-4)


def test_write_puts_random_and_heuristics_beside_the_learners(tmp_path: Path) -> None:
    runs = [{"algo": "sb3-ppo", "reward_mode": m, "seed": s, "timesteps": 64, "train_wall_s": 1.0,
             "train": {"pass_rate": 0.1}, "held_out": {"pass_rate": 0.1 * s, "episodes": 200},
             "random_held_out": {"pass_rate": 0.05, "episodes": 200}} for s in (0, 1) for m in ("progress", "final")]
    baselines = {str(s): {"first_untried": {"pass_rate": 0.02}, "kitchen_sink": {"pass_rate": 0.04}} for s in (0, 1)}
    table = _write(tmp_path / "r.json", runs, baselines)["table"]
    assert [(t["algo"], t["reward_mode"]) for t in table] == [
        ("sb3-ppo", "progress"), ("sb3-ppo", "final"), ("random", "-"), ("first_untried", "-"), ("kitchen_sink", "-")]
    assert table[0]["held_out_pass_rate"] == pytest.approx(0.05) and table[0]["seeds"] == 2
    assert table[4]["held_out_pass_rate"] == pytest.approx(0.04)
    assert table[0]["held_out_episodes_ci95"] == pytest.approx(wilson95(0.05, 400))  # both seeds' episodes
