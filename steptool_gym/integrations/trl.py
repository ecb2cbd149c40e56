"""TRL ``GRPOTrainer(environment_factory=...)`` for any registered env (extra ``[trl]``, TRL >= 1.16).

TRL's contract (``trl/trainer/grpo_trainer.py``, 1.16): the factory is called with no argument, once per
concurrent rollout, and instances are reused; ``reset(**row)`` gets the dataset row and returns the text appended
to the row's last user message; every other public method is a tool (schema from its type hints and Google-style
docstring, rendered by the chat template); ``get_reward()`` is called once per finished rollout.

Our envs give each task its own function set, while TRL renders one tool schema per environment class, so the
tools here are generic: ``call_function(name, arguments)``, ``finish(final_answer)`` and ``give_up()``; the
task's functions (name, required and optional arguments, description) are listed in the text ``reset`` returns.
Each call is one env step, with the env's own reward.

Rewards. ``get_reward()`` returns the episode's return (sum of the step rewards; ``reward="final"``: the last
step's reward if the model called ``finish``/``give_up``, else 0; ``"solved"``: ``is_solved``). Every step's
reward stays on the instance (``step_rewards``, ``step_infos``) and the reward functions in this module read
them through TRL's ``environments=`` argument. What TRL does with them: it sums the weighted reward functions into
one scalar per rollout and normalises it within the prompt's group, so all tokens of the completion share one
advantage; step-level credit (StepTool's per-step advantage) needs our trainer (``steptool train --algo
steptool``) or an engine that carries per-turn rewards (SkyRL: `steptool_gym.integrations.skyrl`).

    from trl import GRPOConfig, GRPOTrainer
    from steptool_gym.integrations.trl import make_environment_factory, task_dataset, solved
    Env = make_environment_factory("StepTool-ToolBench-G1-v0", split="train")
    trainer = GRPOTrainer(model, args=GRPOConfig(...), train_dataset=task_dataset("StepTool-ToolBench-G1-v0",
                          split="train"), environment_factory=Env, reward_funcs=[solved])
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from steptool_gym.actions import FINISH
from steptool_gym.integrations import make_env, require, task_ids

require("trl", "trl", "The TRL adapter")
require("datasets", "trl", "The TRL adapter")

__all__ = [
    "DEFAULT_INSTRUCTION",
    "REWARDS",
    "StepToolTRLEnv",
    "episode_return",
    "final_step_reward",
    "make_environment_factory",
    "solved",
    "task_dataset",
]

REWARDS = ("return", "final", "solved")
DEFAULT_INSTRUCTION = ("Solve the task below with the functions listed after it: call them with call_function, "
                       "then give the answer with finish (or give_up).")
_ENDED = "The task has ended; no more calls are accepted."
_TOOLBENCH_PREFIX = "The description of this function is:"


def _describe(tools: list[dict[str, Any]]) -> str:
    """One line per function: ``name(required, optional?): description`` (Finish is the finish tool)."""
    lines = []
    for tool in tools:
        fn = tool.get("function", tool)
        if fn["name"] == FINISH:
            continue
        params = fn.get("parameters", {})
        required = set(params.get("required", []))
        args = [p if p in required else f"{p}?" for p in params.get("properties", {})]
        desc = (fn.get("description") or "").strip()
        if _TOOLBENCH_PREFIX in desc:  # ToolBench's 'This is the subfunction for tool ... is: "<what it does>"'
            desc = desc.split(_TOOLBENCH_PREFIX, 1)[1].strip().strip('"')
        first = desc.splitlines()[0] if desc else ""
        lines.append(f"- {fn['name']}({', '.join(args)}): {first[:160]}")
    return "\n".join(lines)


class StepToolTRLEnv:
    """One StepTool episode per rollout, driven by TRL's tool-calling loop; build subclasses with
    `make_environment_factory` (the class attributes hold the env ID and its ``gym.make`` arguments)."""

    env_id: ClassVar[str] = ""
    env_kwargs: ClassVar[dict[str, Any]] = {}
    reward_kind: ClassVar[str] = "return"
    prompt_style: ClassVar[str] = "compact"

    def __init__(self) -> None:
        if not self.env_id:
            raise TypeError("use make_environment_factory(env_id, ...) to get an environment class for TRL")
        infos = sorted({*self.env_kwargs.get("infos", []), "task", "tools"})
        self._env = make_env(self.env_id, {**self.env_kwargs, "infos": infos})
        self.task_id = ""
        self.step_rewards: list[float] = []
        self.step_infos: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.done = False
        self.is_solved: float | None = None

    def reset(self, **row: Any) -> str:
        """Start the row's task (``task_id``, else ``task_index``, else ``seed``) and return its text."""
        options: dict[str, Any] = {}
        if row.get("task_id") is not None:
            options["task_id"] = str(row["task_id"])
        elif row.get("task_index") is not None:
            options["task_index"] = int(row["task_index"])
        seed = row.get("seed")
        text, info = self._env.reset(seed=None if seed is None else int(seed), options=options or None)
        self.task_id = str(info.get("task_id", ""))
        self.step_rewards, self.step_infos, self.actions = [], [], []
        self.done, self.is_solved = False, None
        if self.prompt_style == "full":
            return "\n\n" + text
        return f"\n\nTask: {info['task']['query']}\nFunctions:\n{_describe(info['tools'])}"

    def call_function(self, name: str, arguments: dict) -> str:
        """Call one of the task's functions (one step of the task).

        Args:
            name: The function's name, exactly as listed with the task.
            arguments: The function's arguments as a JSON object, e.g. {"query": "blender"}.

        Returns:
            The function's response as JSON with "error" and "response" keys.
        """
        return self._step({"name": name, "arguments": arguments})

    def finish(self, final_answer: str) -> str:
        """Give the final answer to the task; this ends the task.

        Args:
            final_answer: The complete answer for the user, with the facts the functions returned.

        Returns:
            A confirmation that the answer was recorded.
        """
        return self._step({"name": FINISH, "arguments": {"return_type": "give_answer", "final_answer": final_answer}})

    def give_up(self) -> str:
        """Give up on the task when the functions cannot solve it; this ends the task.

        Returns:
            A confirmation that the task was abandoned.
        """
        return self._step({"name": FINISH, "arguments": {"return_type": "give_up_and_restart"}})

    def get_reward(self) -> float:
        """The rollout's reward for TRL: the episode return (or the final step's reward / is_solved)."""
        if self.reward_kind == "final":
            return self.step_rewards[-1] if self.done and self.step_rewards else 0.0
        if self.reward_kind == "solved":
            return float(self.is_solved or 0.0)
        return float(sum(self.step_rewards))

    def _step(self, action: dict[str, Any]) -> str:
        if self.done:
            return _ENDED
        if isinstance(action.get("arguments"), str):  # a model that sends the object as a JSON string
            try:
                action = {**action, "arguments": json.loads(action["arguments"])}
            except json.JSONDecodeError:
                pass
        text, reward, terminated, truncated, info = self._env.step(action)
        self.actions.append(action)
        self.step_rewards.append(float(reward))
        self.step_infos.append({k: v for k, v in info.items() if k not in ("task", "tools")})
        self.done = bool(terminated or truncated)
        if self.done:
            self.is_solved = float(info.get("is_solved", 0.0))
        return text


def make_environment_factory(env_id: str, *, reward: str = "return", prompt_style: str = "compact",
                             **env_kwargs: Any) -> type[StepToolTRLEnv]:
    """A `StepToolTRLEnv` subclass for ``GRPOTrainer(environment_factory=...)`` (a no-argument constructor).

    `reward`: ``return`` (sum of step rewards), ``final`` or ``solved``; `prompt_style`: ``compact`` (query and a
    one-line-per-function list) or ``full`` (the env's ToolBench system prompt with full schemas and the query);
    `env_kwargs` go to ``gym.make`` (``split=``, ``group=``, ``reward_mode=``, ``max_steps=`` ...).
    """
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}; got {reward!r}")
    if prompt_style not in ("compact", "full"):
        raise ValueError(f"prompt_style must be 'compact' or 'full'; got {prompt_style!r}")
    make_env(env_id, env_kwargs).close()  # fail here, with one line, on a bad ID or bad kwargs
    name = "StepTool_" + "".join(ch if ch.isalnum() else "_" for ch in env_id)
    return type(name, (StepToolTRLEnv,), {"env_id": env_id, "env_kwargs": dict(env_kwargs), "reward_kind": reward,
                                          "prompt_style": prompt_style, "__module__": __name__})


def task_dataset(env_id: str, *, limit: int | None = None, instruction: str = DEFAULT_INSTRUCTION,
                 **env_kwargs: Any) -> Any:
    """A ``datasets.Dataset`` of the env's tasks (pass the same `env_kwargs`, e.g. ``split=``, as the factory).

    Columns: ``prompt`` (one user message with `instruction`; ``reset`` appends the task), ``task_id`` and
    ``task_index``. `limit` keeps the first tasks only.
    """
    from datasets import Dataset

    env = make_env(env_id, env_kwargs)
    ids = task_ids(env)
    env.close()
    ids = ids[:limit] if limit is not None else ids
    return Dataset.from_dict({"prompt": [[{"role": "user", "content": instruction}] for _ in ids],
                              "task_id": ids, "task_index": list(range(len(ids)))})


def episode_return(environments: list[StepToolTRLEnv], **kwargs: Any) -> list[float]:
    """Reward function: each rollout's sum of step rewards (read from the env, TRL passes ``environments``)."""
    return [float(sum(env.step_rewards)) for env in environments]


def final_step_reward(environments: list[StepToolTRLEnv], **kwargs: Any) -> list[float]:
    """Reward function: the last step's reward of rollouts that ended with finish/give_up, else 0."""
    return [env.step_rewards[-1] if env.done and env.step_rewards else 0.0 for env in environments]


def solved(environments: list[StepToolTRLEnv], **kwargs: Any) -> list[float]:
    """Reward function: the judge's ``is_solved`` (1, 0.5 or 0; 0 when the rollout never finished)."""
    return [float(env.is_solved or 0.0) for env in environments]
