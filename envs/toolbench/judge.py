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
``progress`` (Φ of ``reward_mode="progress"``, tool-call recall): satisfied gold nodes / gold nodes.
IsSolved: the share of gold facts present in the final answer (normalised: case, whitespace, punctuation and
number formatting) — all: 1.0 (Solved), some: 0.5 (Unsure), none: 0.0 (Unsolved) — and the answer's precision:
the share of its content tokens (stop words removed), and of its numbers alone, found in the gold answer or the
query. An answer with either precision below ``ANSWER_PRECISION`` (0.5) lists mostly non-gold values (a
"kitchen-sink" answer) and is Unsolved whatever facts it contains.
"""

from __future__ import annotations

import functools
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

__all__ = ["ANSWER_PRECISION", "CON_GOLD", "CON_GOLD_OUT_OF_ORDER", "CON_NONE", "CON_RIGHT_API", "ExactJudge",
           "JudgeState", "answer_precision"]

CON_GOLD, CON_GOLD_OUT_OF_ORDER, CON_RIGHT_API, CON_NONE = 5.0, 3.0, 1.0, 0.0
ANSWER_PRECISION = 0.5
_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have here i in is it its of on or so that the their there these "
    "this to was were what which with you your found".split())

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

    def progress(self, task: Task, state: JudgeState) -> tuple[int, int]:
        """Gold nodes satisfied so far and gold nodes in all (`steptool_gym.suite.Judge`'s optional hook)."""
        return state.satisfied.bit_count(), len(task.gold.nodes)

    def judge_finish(self, task: Task, state: JudgeState, call: ToolCall) -> float:
        answer = call.arguments.get("final_answer", "")
        if not isinstance(answer, str) or not answer.strip():
            return UNSOLVED
        text = norm_answer(answer)
        found = sum(fact in text for fact in task.gold.fact_keys)
        # A list of mostly non-gold values earns nothing, not Unsure: half of IsSolved (and of a pass rate that
        # counts Unsure as 0.5) for any answer that lists every value seen paid the kitchen-sink adversary.
        if not found or answer_precision(task, text) < ANSWER_PRECISION:
            return UNSOLVED
        return SOLVED if found == len(task.gold.fact_keys) else UNSURE


def _content(text: str) -> set[str]:
    return set(text.split()) - _STOPWORDS


@functools.lru_cache(maxsize=1 << 12)
def _supported(task: Task) -> frozenset[str]:
    return frozenset(_content(norm_answer(task.gold.answer)) | _content(norm_answer(task.query)))


def answer_precision(task: Task, normalised_answer: str) -> float:
    """The lower of two shares found in the gold answer or the query: the answer's content tokens, and its
    numbers (1.0 for none)."""
    claimed = _content(normalised_answer)
    # An all-letter token has no digit (`isalpha` and `isdigit` characters are disjoint): skip the scan.
    numbers = {t for t in claimed if not t.isalpha() and any(map(str.isdigit, t))}
    supported = _supported(task)
    words = len(claimed & supported) / len(claimed) if claimed else 1.0
    return min(words, len(numbers & supported) / len(numbers)) if numbers else words
