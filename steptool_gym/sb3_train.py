"""Train stable-baselines3 / sb3-contrib algorithms on StepTool-Gym envs through `steptool_gym.wrappers`.

    steptool train --algo sb3-maskable-ppo --env StepTool-ToolBench-G1-v0 --timesteps 50000 --out runs/sb3

The env's ``reward_mode`` is passed through untouched, so ``--reward-mode step`` vs ``final`` is the StepTool
comparison under SB3.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from steptool_gym.rewards import DEFAULT_REWARD_MODE
from steptool_gym.wrappers import make_sb3_env

__all__ = ["SB3_ALGOS", "evaluate_sb3", "heuristic_baseline", "random_baseline", "train_main", "train_sb3"]

SB3_ALGOS = ("sb3-ppo", "sb3-a2c", "sb3-dqn", "sb3-maskable-ppo")


def _algo_class(algo: str) -> Any:
    try:
        if algo == "sb3-maskable-ppo":
            from sb3_contrib import MaskablePPO

            return MaskablePPO
        import stable_baselines3 as sb3
    except ImportError as exc:
        raise SystemExit(f"steptool train --algo {algo}: needs the sb3 extra ({exc}): "
                         "pip install 'steptool-gym[sb3]'") from None
    return {"sb3-ppo": sb3.PPO, "sb3-a2c": sb3.A2C, "sb3-dqn": sb3.DQN}[algo]


def evaluate_sb3(model: Any, env_id: str, *, episodes: int, seed: int, masked: bool,
                 **env_kwargs: Any) -> dict[str, float]:
    """Greedy pass rate, mean return and mean steps of `model` on `env_id` (wrapped like in training)."""
    env = make_sb3_env(env_id, **env_kwargs)
    solved, returns, steps = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, n = 0.0, 0
        while True:
            kwargs = {"action_masks": env.action_masks()} if masked else {}
            action, _ = model.predict(obs, deterministic=True, **kwargs)
            obs, reward, terminated, truncated, info = env.step(int(action))
            total, n = total + float(reward), n + 1
            if terminated or truncated:
                break
        solved.append(info["is_solved"])
        returns.append(total)
        steps.append(n)
    return {**_rates(solved), "mean_return": float(np.mean(returns)), "avg_steps": float(np.mean(steps)),
            "episodes": episodes}


def _rates(solved: list[float]) -> dict[str, float]:
    """ToolBench's pass rate (mean IsSolved: Unsure counts 0.5) and the share fully solved."""
    return {"pass_rate": float(np.mean(solved)), "solve_rate": float(np.mean(np.asarray(solved) >= 1.0))}


def random_baseline(env_id: str, *, episodes: int, seed: int, **env_kwargs: Any) -> dict[str, float]:
    """Uniform choice among the valid discrete calls: the "random" row beside a trained SB3 policy."""
    env = make_sb3_env(env_id, **env_kwargs)
    rng = np.random.default_rng(seed)
    solved = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        while True:
            valid = np.flatnonzero(env.action_masks())
            *_, terminated, truncated, info = env.step(int(rng.choice(valid)))
            if terminated or truncated:
                break
        solved.append(info["is_solved"])
    return {**_rates(solved), "episodes": episodes}


def heuristic_baseline(env_id: str, policy: str, *, episodes: int, seed: int, **env_kwargs: Any) -> dict[str, float]:
    """Pass rate of a scripted policy from `steptool_gym.test.adversaries` (``first_untried``, ``kitchen_sink``,
    ``exhaust``)
    on the same tasks `evaluate_sb3` / `random_baseline` draw with the same `seed` (reset seeds seed + i)."""
    import gymnasium as gym

    from steptool_gym.test.adversaries import play

    env = gym.make(env_id, **env_kwargs)
    solved = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        solved.append(play(env, env.unwrapped._state.task_index, policy).solved)
    return {**_rates(solved), "episodes": episodes}


GAMMA = 0.95  # the learners' discount, passed to the env too (progress shaping is policy-invariant only then)


def train_sb3(algo: str, env_id: str, *, timesteps: int, seed: int = 0, n_envs: int = 4,
              reward_mode: str = DEFAULT_REWARD_MODE,
              eval_split: str | None = "test_instruction", eval_episodes: int = 200, out: str | None = None,
              env_kwargs: dict[str, Any] | None = None, verbose: int = 0) -> dict[str, Any]:
    """Train `algo` for `timesteps` env steps and report greedy pass rates on the train and held-out split."""
    from stable_baselines3.common.env_util import make_vec_env

    cls = _algo_class(algo)
    kwargs = {"reward_mode": reward_mode, "gamma": GAMMA, **(env_kwargs or {})}
    vec = make_vec_env(lambda: make_sb3_env(env_id, **kwargs), n_envs=1 if algo == "sb3-dqn" else n_envs, seed=seed)
    hyper: dict[str, Any] = {"seed": seed, "verbose": verbose}
    if algo in ("sb3-ppo", "sb3-maskable-ppo"):
        hyper.update(n_steps=256, batch_size=256, n_epochs=4, gamma=GAMMA, learning_rate=1e-3, ent_coef=0.01)
    elif algo == "sb3-a2c":
        hyper.update(n_steps=16, gamma=GAMMA, learning_rate=1e-3, ent_coef=0.01)
    else:
        hyper.update(learning_starts=1000, buffer_size=50_000, gamma=GAMMA, exploration_fraction=0.3,
                     target_update_interval=500, learning_rate=5e-4)
    model = cls("MultiInputPolicy", vec, **hyper)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps, progress_bar=verbose > 0)
    wall = time.perf_counter() - start
    masked = algo == "sb3-maskable-ppo"
    result: dict[str, Any] = {"algo": algo, "env": env_id, "reward_mode": reward_mode, "seed": seed,
                              "timesteps": timesteps, "train_wall_s": round(wall, 1),
                              "train": evaluate_sb3(model, env_id, episodes=eval_episodes, seed=10_000 + seed,
                                                    masked=masked, **kwargs)}
    if eval_split:
        held_out = {**kwargs, "split": eval_split}
        result["held_out"] = {"split": eval_split, **evaluate_sb3(model, env_id, episodes=eval_episodes,
                                                                 seed=20_000 + seed, masked=masked, **held_out)}
        result["random_held_out"] = random_baseline(env_id, episodes=eval_episodes, seed=20_000 + seed, **held_out)
    if out:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        model.save(path / f"{algo}.zip")
        (path / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def train_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="steptool train", description="Train an SB3 algorithm on a StepTool env")
    parser.add_argument("--algo", choices=SB3_ALGOS, required=True)
    parser.add_argument("--env", default="StepTool-ToolBench-G1-v0")
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--reward-mode", default=DEFAULT_REWARD_MODE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--eval-split", default="test_instruction")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    result = train_sb3(args.algo, args.env, timesteps=args.timesteps, seed=args.seed, n_envs=args.n_envs,
                       reward_mode=args.reward_mode, eval_split=args.eval_split or None,
                       eval_episodes=args.eval_episodes, out=args.out, verbose=1)
    print(json.dumps(result, indent=2))
    return 0
