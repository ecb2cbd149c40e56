"""Exact judge: SC, Con and IsSolved from the task's gold call graph and answer facts (no LLM).

Con table (a call whose arguments fail validation never reaches the judge and scores 0):

====  ==========================================================================================
Con   when
====  ==========================================================================================
5     successful call that newly satisfies a gold node (function + normalised arguments) whose
      dependencies are all satisfied; every gold node's output feeds a later gold call or the answer
3     the same, but out of order: a dependency is not yet satisfied (the id was not looked up first)
1     successful call of a gold function with non-gold arguments (the right API, another entity)
0     failed calls (SC = 0), repeats of a satisfied gold node, calls of distractor functions
====  ==========================================================================================

``gold_call`` is True iff the call matches a gold node exactly, whether or not it succeeded or was new.
IsSolved: the share of gold facts present in the final answer (normalised: case, whitespace, punctuation and
number formatting) — all: 1.0 (Solved), some: 0.5 (Unsure), none: 0.0 (Unsolved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from steptool_envs.toolbench.gold import Gold, norm_answer
from steptool_envs.toolbench.keys import call_key
from steptool_gym.actions import ToolCall
from steptool_gym.backends import CallResult
from steptool_gym.rewards import SOLVED, UNSOLVED, UNSURE
from steptool_gym.status import Status
from steptool_gym.suite import Task, Verdict

__all__ = ["CON_GOLD", "CON_GOLD_OUT_OF_ORDER", "CON_NONE", "CON_RIGHT_API", "ExactJudge", "JudgeState"]

CON_GOLD, CON_GOLD_OUT_OF_ORDER, CON_RIGHT_API, CON_NONE = 5.0, 3.0, 1.0, 0.0

_FAILED_GOLD = Verdict(0.0, CON_NONE, True)
_FAILED_OTHER = Verdict(0.0, CON_NONE, False)
_REPEAT = Verdict(1.0, CON_NONE, True)
_NEW_GOLD = Verdict(1.0, CON_GOLD, True)
_OUT_OF_ORDER = Verdict(1.0, CON_GOLD_OUT_OF_ORDER, True)
_RIGHT_API = Verdict(1.0, CON_RIGHT_API, False)
_OTHER = Verdict(1.0, CON_NONE, False)


@dataclass(slots=True)
class JudgeState:
    """Per-episode progress: gold nodes satisfied and attempted (bit i = node i), attempts per node.

    Observed values are not copied here: `ToolBenchSuite.admissible_calls` reads them from the env's history,
    which keeps this state (copied on every snapshot) a few integers.
    """

    satisfied: int = 0
    attempted: int = 0
    attempts: list[int] = field(default_factory=list)


class ExactJudge:
    """The `Judge` of the synthetic ToolBench (see the module docstring)."""

    def __init__(self, defaults: Mapping[str, Mapping[str, Any]]) -> None:
        # Normalised optional-argument defaults per function: omitting a default equals passing it.
        self.defaults = defaults

    def start(self, task: Task) -> JudgeState:
        return JudgeState(attempts=[0] * len(task.gold.nodes))

    def judge_call(self, task: Task, state: JudgeState, call: ToolCall, result: CallResult) -> Verdict:
        gold: Gold = task.gold
        ok = result.status == Status.OK and not result.error
        index = gold.index.get(call_key(call.name, call.arguments, self.defaults.get(call.name)))
        if index is None:
            if not ok:
                return _FAILED_OTHER
            return _RIGHT_API if call.name in gold.names else _OTHER
        bit = 1 << index
        state.attempts[index] += 1
        state.attempted |= bit
        if not ok:
            return _FAILED_GOLD
        if state.satisfied & bit:
            return _REPEAT
        deps = gold.dep_masks[index]
        state.satisfied |= bit
        return _NEW_GOLD if state.satisfied & deps == deps else _OUT_OF_ORDER

    def judge_finish(self, task: Task, state: JudgeState, call: ToolCall) -> float:
        answer = call.arguments.get("final_answer", "")
        if not isinstance(answer, str) or not answer.strip():
            return UNSOLVED
        text = norm_answer(answer)
        found = sum(fact in text for fact in task.gold.fact_keys)
        if found == len(task.gold.fact_keys):
            return SOLVED
        return UNSURE if found else UNSOLVED
