"""Where an agent goes wrong on held-out tasks: every step of its greedy episodes classified from the env's info.

    python benchmarks/failure_modes.py --model DIR [--model DIR ...] [--split S] [--episodes N] [--seed N]

Each ``--model`` (a run directory, its ``model/`` or any path `steptool eval` takes) is evaluated exactly as
``steptool eval`` would (the run's config, split, episodes and seed unless given), on the same task list; then each
episode's actions are replayed in a fresh env (the synthetic ToolBench is deterministic) and every step is put in
one of `CATEGORIES` using only what ``info`` reports: ``status``, ``gold_call``, ``reward_components`` and, at the
end, ``is_solved`` / ``gold_matched`` / ``gold_total``. Per model it reports the category counts over all steps and
each episode's first mistake (the first step that is neither a new gold call nor a solving Finish), and its
``invalid arguments`` steps by kind (unexpected parameter, missing required parameter, wrong JSON type, ...). Writes
benchmarks/results/failure_modes.json; `report.py` renders it.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
from common import machine_info, package_versions

RESULTS = Path(__file__).parent / "results"

# In the order a reader follows an episode: what went right, then each way a step can go wrong.
CATEGORIES = (
    "gold call",  # a new gold call (in or out of order)
    "solved",  # a Finish the judge scores Solved
    "repeated or failed gold call",
    "gold API, other arguments",  # a gold function with arguments that match no gold call
    "other API",  # a valid call of a function the task's gold never calls
    "tool error",  # a valid call the tool answered with an error (not a gold call)
    "invalid arguments",  # the function exists, its arguments do not validate
    "unknown function",
    "unparseable action",
    "answer before all gold calls",  # a Finish, unsolved, with gold calls still missing
    "wrong answer after all gold calls",
    "gave up",
    "malformed Finish",
)
_RIGHT = ("gold call", "solved")


def classify_step(info: dict[str, Any], is_finish: bool | None, con_right_api: float) -> str:
    """The category of one step from its ``info``; `is_finish` is None when the action could not be parsed and
    `con_right_api` is the suite's Con for a gold function called with other arguments."""
    from steptool_gym.status import Status

    status = Status(info["status"])
    if is_finish is None:
        return "unparseable action"
    if is_finish:
        if status == Status.GIVE_UP:
            return "gave up"
        if status != Status.FINAL_ANSWER:
            return "malformed Finish"
        if info.get("is_solved") == 1.0:
            return "solved"
        matched, total = info.get("gold_matched", 0.0), info.get("gold_total", 0.0)
        return "answer before all gold calls" if matched < total else "wrong answer after all gold calls"
    if status == Status.NO_SUCH_FUNCTION:
        return "unknown function"
    if status == Status.INPUT_ERROR:
        return "invalid arguments"
    if info.get("gold_call"):
        return "gold call" if info["reward_components"]["Con"] > 0 else "repeated or failed gold call"
    if status.is_tool_error:
        return "tool error"
    return "gold API, other arguments" if info["reward_components"]["Con"] == con_right_api else "other API"


# The argument checks' messages (`steptool_gym.catalog.API.validate`), by what the model got wrong.
_TYPE_ERROR = re.compile(r"must be of type (\w+), got (\w+)")
_ARGUMENT_PROBLEMS = (("Unexpected parameter", "unexpected parameter"),
                      ("Missing required parameter", "missing required parameter"),
                      ("must not be empty", "empty required value"))


def invalid_argument_kind(observation: str) -> str:
    """What an ``invalid arguments`` step got wrong, from the error its observation reports."""
    try:
        error = str(json.loads(observation).get("error", ""))
    except (ValueError, AttributeError):
        error = observation
    if match := _TYPE_ERROR.search(error):
        return f"wrong type ({match[1]} expected, {match[2]} given)"
    return next((kind for text, kind in _ARGUMENT_PROBLEMS if text in error), "other")


def classify_episode(env: gym.Env, task_id: str, actions: Sequence[str], con_right_api: float,
                     invalid_kinds: list[str] | None = None) -> list[str]:
    """Replay `actions` on task `task_id` of `env` (a fresh episode) and classify each step; the kind of each
    ``invalid arguments`` step is appended to `invalid_kinds` when given."""
    from steptool_gym.actions import ActionError, parse_action

    env.reset(options={"task_id": task_id})
    out = []
    for action in actions:
        try:
            is_finish: bool | None = parse_action(action).is_finish
        except ActionError:
            is_finish = None
        observation, _, terminated, truncated, info = env.step(action)
        out.append(classify_step(info, is_finish, con_right_api))
        if out[-1] == "invalid arguments" and invalid_kinds is not None:
            invalid_kinds.append(invalid_argument_kind(observation))
        if terminated or truncated:
            break
    return out


def summarise(episodes: Sequence[list[str]], invalid_kinds: Sequence[str] = ()) -> dict[str, Any]:
    """Category counts over all steps and over each episode's first mistake (``no mistake`` when there is none),
    and the ``invalid arguments`` steps by kind."""
    steps = Counter(c for episode in episodes for c in episode)
    first = Counter(next((c for c in episode if c not in _RIGHT), "no mistake") for episode in episodes)
    order = [*CATEGORIES, "no mistake"]
    return {"steps": {c: steps[c] for c in order if steps[c]},
            "first_mistake": {c: first[c] for c in order if first[c]},
            "invalid_arguments": dict(Counter(invalid_kinds).most_common()),
            "episodes": len(episodes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="a run or model directory (repeatable)")
    parser.add_argument("--split", help="default: the first model's run's eval_split")
    parser.add_argument("--episodes", type=int, help="default: the first model's run's eval_episodes")
    parser.add_argument("--seed", type=int, help="default: the first model's run's evaluation seed")
    parser.add_argument("--note", default="", help="recorded with the machine")
    args = parser.parse_args()
    import torch
    from rich.console import Console

    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.artifacts import eval_defaults, find_run_config
    from steptool_agents.evaluate import evaluate_policy, load_run_policy
    from steptool_agents.rollout.envs import env_kwargs
    from steptool_envs.toolbench.judge import CON_RIGHT_API

    console = Console(stderr=True)
    configs = {}
    for model in args.model:
        found = find_run_config(model)
        if found is None:
            raise SystemExit(f"{model}: no run config found (train it with `steptool train` first)")
        if not found[0].env_id.startswith("StepTool-ToolBench"):  # the categories read the ToolBench judge's Con
            raise SystemExit(f"{model}: trained on {found[0].env_id}; failure modes cover the synthetic ToolBench only")
        configs[model] = found[0]
    defaults = eval_defaults(configs[args.model[0]])
    split = args.split or defaults["split"]
    episodes = args.episodes or defaults["episodes"]
    seed = defaults["seed"] if args.seed is None else args.seed
    models = {}
    for model, cfg in configs.items():
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        start, cpu = time.perf_counter(), time.process_time()
        result = evaluate_policy(load_run_policy(model, cfg), cfg, split, episodes, seed=seed, console=console,
                                 keep_actions=True)
        env = gym.make(cfg.env_id, **env_kwargs(cfg, split))
        kinds: list[str] = []
        per_episode = [classify_episode(env, task_id, actions, CON_RIGHT_API, kinds)
                       for task_id, actions in result["actions"]]
        env.close()
        models[model] = {"pass_rate": result["pass_rate"], **summarise(per_episode, kinds),
                         "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}
        console.print(f"{model}: pass rate {result['pass_rate']:.3f}, first mistakes {models[model]['first_mistake']}")
    report = {"split": split, "episodes": episodes, "seed": seed, "models": models, "categories": list(CATEGORIES),
              "machine": machine_info(args.note), "versions": package_versions()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "failure_modes.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
