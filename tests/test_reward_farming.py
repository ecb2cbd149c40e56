"""The adversary battery over the registry: with no kwargs, every env's reward pays the oracle best, per task."""

from __future__ import annotations

import gymnasium as gym
import pytest
from test_envs import ENV_IDS, _skip_if_unavailable

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.records import tool_call_scores
from steptool_gym.sb3_train import heuristic_baseline
from steptool_gym.test.adversaries import ADVERSARIES, battery, check_reward_not_farmable, play

# Tasks per ID in the default run (the slow test and benchmarks/reward_farming.py run >= 50 per suite/group).
N_TASKS = {"ToolBench": 12, "StableToolBench": 8, "BFCL": 4, "Tau2": 2}


def _n_tasks(env_id: str) -> int:
    return next(n for key, n in N_TASKS.items() if env_id.startswith(f"StepTool-{key}"))


def _adversaries(env_id: str) -> tuple[str, ...]:
    # (g) first-untried and (h) kitchen-sink target ToolBench's discrete space and exact judge (issue 14, item 7).
    # StableToolBench's rule IsSolved accepts any on-topic answer after one successful call, so they solve there.
    if env_id.startswith("StepTool-ToolBench"):
        return ADVERSARIES
    return tuple(a for a in ADVERSARIES if a not in ("first_untried", "kitchen_sink"))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_default_reward_cannot_be_farmed(env_id):
    _skip_if_unavailable(env_id)
    results = check_reward_not_farmable(env_id, n_tasks=_n_tasks(env_id), adversaries=_adversaries(env_id))
    assert len(results["oracle"]) == _n_tasks(env_id)
    assert all(r.solved == 1.0 for r in results["oracle"])


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_default_reward_cannot_be_farmed_on_50_tasks(env_id):
    _skip_if_unavailable(env_id)
    check_reward_not_farmable(env_id, n_tasks=50, adversaries=_adversaries(env_id))


def test_papers_step_reward_is_farmed_and_progress_is_not():
    step = battery("StepTool-ToolBench-G1-v0", n_tasks=10, policies=("oracle", "repeat"), reward_mode="step")
    assert all(r.ret > o.ret for r, o in zip(step["repeat"], step["oracle"]))  # the measured failure
    progress = battery("StepTool-ToolBench-G1-v0", n_tasks=10, policies=("oracle", "repeat", "cycle"))
    assert all(r.ret <= 0 for p in ("repeat", "cycle") for r in progress[p])


def _held_out_rates(group: str, split: str) -> None:
    """(g) first-untried and (h) kitchen-sink on 200 seeded draws of a held-out split (the SB3 benchmark's draws):
    under 10% solved and under 10% pass rate (Unsure counted 0.5: kitchen-sink answers once earned 0.195 that way);
    the oracle's calls answered through the same discrete Finish candidate solve every draw."""
    env_id, kwargs = f"StepTool-ToolBench-{group}-v0", {"split": split, "reward_mode": "final"}
    for policy in ("first_untried", "kitchen_sink"):
        rates = heuristic_baseline(env_id, policy, episodes=200, seed=20_000, **kwargs)
        assert rates["solve_rate"] < 0.1 and rates["pass_rate"] < 0.1, (policy, rates)
    assert heuristic_baseline(env_id, "oracle_finish", episodes=200, seed=20_000, **kwargs)["solve_rate"] == 1.0


@pytest.mark.parametrize("group", ["G1", "G2"])
def test_heuristics_solve_under_10_percent_of_held_out_draws(group):
    _held_out_rates(group, "test_instruction")


@pytest.mark.slow
@pytest.mark.parametrize("group", ["G1", "G2"])
def test_heuristics_solve_under_10_percent_of_held_out_tool_draws(group):
    _held_out_rates(group, "test_tool")


def test_progress_reward_is_potential_shaping():
    env = gym.make("StepTool-ToolBench-G2-v0", gamma=0.9, step_cost=0.01)
    env.reset(seed=0, options={"task_index": 3})
    base, rewards, phis = env.unwrapped, [], [0.0]
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(base.oracle_action())
        rewards.append(reward)
        phis.append(0.0 if terminated or truncated else info["progress"])
        done = terminated or truncated
    solved = info["is_solved"]
    expected = [0.9 * phis[t + 1] - phis[t] - 0.01 for t in range(len(rewards))]
    expected[-1] += solved
    assert rewards == pytest.approx(expected) and solved == 1.0
    assert sum(rewards) == pytest.approx(1.0 - 0.1 * sum(phis[1:-1]) - 0.01 * len(rewards))


def test_repeat_farming_scores_low_tool_call_precision():
    env = gym.make("StepTool-ToolBench-G1-v0")
    paths = []
    for index in range(10):
        play(env, index, "repeat")
        paths.append(env.unwrapped.history)
    scores = tool_call_scores(paths)
    assert scores["tool_call_precision"] < 0.5 and scores["tool_call_recall"] == 1.0
    oracle = []
    for index in range(10):
        play(env, index, "oracle")
        oracle.append(env.unwrapped.history)
    assert tool_call_scores(oracle)["tool_call_f1"] > 0.9


def test_bfcl_adversaries_run_with_state_keys_on():
    """The "cycle" adversary once made a BFCL step raise RecursionError in `state_key` (a directory copied into
    itself); the battery runs with the env's default infos, state keys included."""
    pytest.importorskip("bfcl_eval")
    results = battery("StepTool-BFCL-MultiTurn-v0", task_indices=range(6), policies=("oracle", "cycle", "distractor"))
    assert [r.steps > 1 for r in results["cycle"]] == [True] * 6
    env = gym.make("StepTool-BFCL-MultiTurn-v0")
    assert "state_key" in env.reset(options={"task_index": 0})[1]


def test_an_episode_replaying_the_oracles_is_not_farming():
    """τ² Retail task 24 is answered without a call: ``repeat`` has nothing to repeat and plays the oracle's own
    Finish (a tie that no reward can break); every other adversary still earns less there."""
    pytest.importorskip("tau2")
    env_id = "StepTool-Tau2-Retail-v0"
    _skip_if_unavailable(env_id)
    results = check_reward_not_farmable(env_id, task_indices=[24], adversaries=_adversaries(env_id))
    oracle, repeat = results["oracle"][0], results["repeat"][0]
    assert oracle.calls == [] and oracle.solved == 1.0 and results["trivial"] == []
    assert repeat.replays(oracle) and not results["echo"][0].replays(oracle)
    assert all(results[p][0].ret < oracle.ret for p in _adversaries(env_id) if p != "repeat")
