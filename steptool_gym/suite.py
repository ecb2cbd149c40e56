"""What a task suite supplies to the engine: tasks, a catalog, a backend and a judge.

Suites are immutable and shared by every env built from them (loaders cache them); everything that changes
during an episode lives in the env, so snapshots and pickles stay small. A suite pickles by reference (its
``__reduce__`` names the cached loader and its arguments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from steptool_gym.actions import ToolCall
from steptool_gym.backends import Backend, CallResult
from steptool_gym.catalog import Catalog

__all__ = ["Judge", "Suite", "Task", "Verdict"]


@dataclass(frozen=True, eq=False)
class Task:
    """One query with the functions offered for it and the suite's ground truth.

    `api_names` are the function names (``<api>_for_<tool>``) the model may call, in prompt order; `gold` is
    whatever the suite's judge and oracle need (a call graph, answer facts, expected end state, …).
    """

    task_id: str
    query: str
    api_names: tuple[str, ...]
    group: str = ""
    split: str = ""
    gold: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Verdict(NamedTuple):
    """The judge's view of one tool call: success, contribution (0–5), and whether it matched a gold call."""

    sc: float
    con: float
    gold_call: bool | None = None


class Judge(Protocol):
    """Scores calls and final answers against a task's ground truth.

    `start` returns the judge's per-episode state (anything `copy.deepcopy` can copy: it is part of env
    snapshots). The env never calls `judge_call` for calls that failed to parse or validate: those score 0.
    """

    def start(self, task: Task) -> Any: ...

    def judge_call(self, task: Task, state: Any, call: ToolCall, result: CallResult) -> Verdict: ...

    def judge_finish(self, task: Task, state: Any, call: ToolCall) -> float: ...

    # Optional hook, looked up with getattr:
    #   progress(task, state) -> (matched, total)   gold progress so far: the weight of the task's gold call
    #       graph satisfied (never decreasing within an episode) and its total weight. Φ = matched / total is the
    #       potential of `reward_mode="progress"`; tool-call precision/recall count `matched`. Without the hook
    #       Φ = 0 (progress mode then pays IsSolved − c per step) and recall is unknown.


class Suite(Protocol):
    """A task set with its world: see the module docstring."""

    name: str
    catalog: Catalog
    tasks: Sequence[Task]
    backend: Backend
    judge: Judge

    def oracle_action(self, task: Task, state: Any) -> ToolCall | None:
        """The gold policy's next call given the judge state, or None when the suite has no gold."""
        ...

    def state_key(self, task: Task, state: Any) -> str:
        """A stable hash of the task-relevant state (see `EnvInfos.state_key`)."""
        ...

    # Optional hooks, looked up with getattr (suites extend the engine through these, never its private methods):
    #   task_catalog(task) -> Catalog            per-task APIs when names clash across tasks
    #   admissible_calls(task, state, history)   candidate calls for discrete-action adapters
    #   extra_apis(task) -> names                callable functions absent from the prompt (revealed later)
    #   visible_tools(task, state) -> names      extra function schemas shown now (before Finish in `tools`)
    #   system_prompt_suffix(task) -> str        text appended to the engine's system prompt
    #   turn_end(task, state) -> (message, con)  after a give_answer Finish: None ends the episode; else the
    #                                            answer ended a turn (SC = 1, Con = con) and `message` is the
    #                                            user's next turn, shown as ``User: <message>``
    #   step_info(task, state, record, terminated) -> dict | None
    #                                            extra step info keys (`record`: the step's `StepRecord`)
    #   floor_caller(task) -> (name, arguments) -> response
    #                                            the suite's tool functions called directly, without the engine,
    #                                            judge or state key: the floor of `steptool_gym.bench`
    #   floor_reset()                            fresh scratch state for floor_caller between benchmark passes
