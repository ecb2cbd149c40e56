"""Judges for StableToolBench tasks: StepTool's rules, relevant-API recall and an LLM annotator.

Rule judge (`RuleJudge`, StepTool's ``annotation_by_rules``):

* ``SC`` ∈ {0, 1}: 0 when the call's status is an error or its ``error`` field is non-empty, when the response
  is empty, a dict with ``status == 400``, or text that starts with ``Please`` or contains ``wrong``,
  ``error`` or ``is empty`` (StepTool's markers); else 1. StepTool's notebook stops at the error field for
  responses rendered as ``{"error": "", "response": ...}``; the marker checks are applied here as well, so
  simulated "please provide a valid id" answers do not count as successes.
* ``Con`` ∈ {0, 5}: StepTool's binary contribution (LCS of the response and the final answer, divided by the
  response length, ≥ 0.3), scaled to the paper's 0–5 range. The final answer does not exist yet when a call
  is judged, so the reference is the task's gold answer (the final answer of a GPT-4-solved StepTool run);
  tasks without one score ``Con = 5·SC`` for calls to the query's relevant APIs and 0 otherwise.
  ``con_mode="graded"`` gives ``5·min(1, ratio/0.3)`` instead.
* ``IsSolved`` (`rule_is_solved`) ∈ {0, 1}: 0 unless a call of the episode succeeded and ``Finish`` gave an
  answer of at least three content words that shares a content word with the query (it addresses it); then 0
  when the answer has one of `UNSOLVED_MARKERS` (`answer_features`: words and word pairs such as "couldn't",
  "try again", and ``coverage<0.1``: the answer repeats under a tenth of the query's content words), else 1.
  Without a successful call nothing backs the answer: an echoed query would otherwise be Solved at once (the
  adversary battery's "echo" policy). The markers are not hand-picked: `benchmarks/judge_agreement.py --learn`
  selects them greedily on StepTool's records (each must turn at least `MARKER_MIN_GAIN` more GPT-4 "Unsolved"
  than "Solved" verdicts right), and the same script measures the agreement with markers learned without the
  model it scores (leave one model out: exact 0.851, 95% CI [0.831, 0.868], against the GPT-4 majority; 0.846
  held out by query group; 0.864 in-sample). There is no "Unsure" stage: its 5 cases never matched GPT-4's
  rare "Unsure" (53 of 2,295 runs).

``progress`` (Φ of ``reward_mode="progress"``, tool-call recall): the reference run's successful calls made
successfully so far (a multiset match on name and canonical arguments) out of all of them; for tasks without a
reference run, the relevant APIs called successfully out of all of them.

`gold_call` on every call is whether its function is one of the query's ``relevant APIs``; `api_recall`
is the share of relevant APIs called successfully.

`LLMJudge` asks an OpenAI-compatible endpoint to call StepTool's ``evaluate_process_reward`` function
(``succeed_tool_calling``, ``contribution_to_final_answer`` 0–5, ``final_answer_status``) `k` times and
averages; each step scores the newest call of the trajectory so far, ``Finish`` the final status. Any
failure (timeout, HTTP error, malformed arguments) falls back to the rule judge for that step.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

try:  # a maintained C++ implementation (the `stb` extra); the pure-Python one below gives the same values
    from rapidfuzz.distance import LCSseq as _LCSseq
except ImportError:  # pragma: no cover - exercised where rapidfuzz is absent
    _LCSseq = None

from steptool_envs.stabletoolbench.backends import chat_completions_url, post_json
from steptool_gym.actions import ToolCall
from steptool_gym.backends import CallResult, canonical_arguments
from steptool_gym.http import loads_strict
from steptool_gym.rewards import SOLVED, UNSOLVED, UNSURE
from steptool_gym.status import Status
from steptool_gym.suite import Task, Verdict

__all__ = [
    "CON_THRESHOLD",
    "EpisodeLog",
    "LLMJudge",
    "MARKER_MIN_GAIN",
    "RuleJudge",
    "StableToolBenchGold",
    "UNSOLVED_MARKERS",
    "addresses_query",
    "answer_features",
    "api_recall",
    "content_tokens",
    "COVERAGE_BINS",
    "contribution",
    "is_give_up_answer",
    "lcs_length",
    "query_coverage",
    "response_text",
    "rule_is_solved",
    "succeeded",
]

CON_THRESHOLD = 0.3
CON_MAX = 5.0
# LCS costs O(len(a)·len(b)/64) here; responses are cut at 1024 characters by the env anyway.
_LCS_MAX_RESPONSE = 4096
_LCS_MAX_ANSWER = 8192
_SC_MARKERS = ("wrong", "error", "is empty")
# Phrases with which ToolLLaMA-style models concede; chosen on StepTool's records, where each co-occurs
# with a GPT-4 "Unsolved" verdict more often than with "Solved" (see benchmarks/judge_agreement.py).
_GIVE_UP = re.compile(
    r"\b(sorry|apologi[sz]e|unable|not able|couldn't|could not|don't have|do not have|failed|unfortunately|"
    r"however|not available|give up)\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "the and for with that this from are was were have has you your can here there which what about also some "
    "more into their they them its not but all any other these those than then been will would should could "
    "please provide give get find".split())
MIN_ANSWER_TOKENS = 3
_ANSWER_WORD = re.compile(r"[a-z0-9']+|\[")
COVERAGE_BINS = (0.1, 0.2, 0.3, 0.4, 0.5)
# Learned by `python benchmarks/judge_agreement.py --learn` on all StepTool records (see the module docstring).
MARKER_MIN_GAIN = 4
UNSOLVED_MARKERS: frozenset[str] = frozenset([
    "'the shawshank", "available the", "couldn't", "coverage<0.1", "each other", "encountered", "however",
    "moment", "the transaction", "try again"])
_STATUS_VALUE = {"Solved": SOLVED, "Unsure": UNSURE, "Unsolved": UNSOLVED}


@dataclass(frozen=True)
class StableToolBenchGold:
    """A task's ground truth: relevant function names, and (when a StepTool run solved it) that run's
    successful calls and final answer (`answer` is "" and `calls` empty otherwise)."""

    relevant: frozenset[str]
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    answer: str = ""
    source: str = ""

    @property
    def has_trajectory(self) -> bool:
        return bool(self.answer)

    @functools.cached_property
    def gold_call_counts(self) -> Counter[tuple[str, str]]:
        """`calls` as a multiset of (name, canonical arguments), built once per task (`gold_progress` reads it on
        every step and reset). Read-only."""
        return Counter((name, canonical_arguments(arguments)) for name, arguments in self.calls)


@dataclass
class EpisodeLog:
    """The judge state: every judged call as (name, canonical arguments, succeeded, response text)."""

    calls: list[tuple[str, str, bool, str]] = field(default_factory=list)

    @property
    def successful(self) -> list[tuple[str, str]]:
        return [(name, args) for name, args, ok, _ in self.calls if ok]


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of two strings (code points): rapidfuzz's ``LCSseq`` when
    installed, else `lcs_length_py`; both give the same value."""
    if _LCSseq is not None:
        return int(_LCSseq.similarity(a, b))
    return lcs_length_py(a, b)


def lcs_length_py(a: str, b: str) -> int:
    """Length of the longest common subsequence (bit-parallel, Allison–Dix/Hyyrö) in pure Python."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def response_text(response: Any) -> str:
    """A response as the text StepTool's rules compare (strings as-is, anything else as JSON)."""
    if isinstance(response, str):
        return response
    try:
        return json.dumps(response, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(response)


def succeeded(error: str, response: Any, status: Status = Status.OK) -> bool:
    """StepTool's SC rule (see the module docstring)."""
    if status != Status.OK or error:
        return False
    if isinstance(response, dict):
        return response.get("status") != 400
    if isinstance(response, list | bool | int | float):
        return True
    text = response_text(response)
    if not text.strip():
        return False
    return not (text.startswith("Please") or any(m in text for m in _SC_MARKERS))


@functools.lru_cache(maxsize=1 << 14)
def contribution(response: str, reference: str, graded: bool = False) -> float:
    """StepTool's LCS contribution of `response` to `reference`, on the 0–5 scale (memoised: an agent meets
    the same recorded responses again and again, and each pair costs an LCS)."""
    response = response[:_LCS_MAX_RESPONSE]
    if not response or not reference:
        return 0.0
    ratio = lcs_length(response, reference[:_LCS_MAX_ANSWER]) / len(response)
    if graded:
        return round(CON_MAX * min(1.0, ratio / CON_THRESHOLD), 4)
    return CON_MAX if ratio >= CON_THRESHOLD else 0.0


def is_give_up_answer(answer: str) -> bool:
    return bool(_GIVE_UP.search(answer))


def content_tokens(text: str) -> set[str]:
    """Lower-cased alphanumeric tokens of ≥ 3 characters (or digits), common function words removed."""
    return set(_content_tokens(text))


@functools.lru_cache(maxsize=1 << 12)
def _content_tokens(text: str) -> frozenset[str]:
    return frozenset({t for t in _TOKEN.findall(text.lower())
                      if (len(t) >= 3 or t.isdigit()) and t not in _STOPWORDS})


def addresses_query(return_type: str, answer: str, query: str) -> bool:
    """A ``give_answer`` of at least `MIN_ANSWER_TOKENS` content words sharing one with the query."""
    if return_type != "give_answer":
        return False
    tokens = _content_tokens(answer)
    return len(tokens) >= MIN_ANSWER_TOKENS and bool(tokens & _content_tokens(query))


def query_coverage(answer: str, query: str) -> float:
    """Share of the query's content words that the answer repeats (1.0 for a query without any)."""
    wanted = _content_tokens(query)
    return len(wanted & _content_tokens(answer)) / len(wanted) if wanted else 1.0


def answer_features(answer: str, query: str = "") -> set[str]:
    """What `UNSOLVED_MARKERS` are matched against: the answer's words and adjacent word pairs (lower-cased;
    ``[`` counts as a word) and, given the query, ``coverage<t`` for each `COVERAGE_BINS` t above the answer's
    `query_coverage` (an answer that repeats little of a multi-part query tends to answer only part of it;
    the learner picks the cut). No answer word holds ``<``, so the two kinds cannot collide."""
    words = _ANSWER_WORD.findall(answer.lower())
    features = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}
    if query:
        coverage = query_coverage(answer, query)
        features |= {f"coverage<{t}" for t in COVERAGE_BINS if coverage < t}
    return features


@functools.lru_cache(maxsize=1 << 12)
def rule_is_solved(return_type: str, answer: str, any_success: bool, query: str,
                   markers: frozenset[str] | None = None) -> float:
    """StepTool-style IsSolved from the Finish call, the query and whether any call succeeded (module doc;
    memoised, as replayed answers repeat). An episode without a successful call is never Solved: an answer
    that no tool response backs can be produced without using a tool (an echoed query would farm the reward)."""
    if not any_success or not addresses_query(return_type, answer, query):
        return UNSOLVED
    found = answer_features(answer, query) & (UNSOLVED_MARKERS if markers is None else markers)
    return UNSOLVED if found else SOLVED


def api_recall(relevant: Iterable[str], log: EpisodeLog) -> float:
    """Share of the relevant functions called successfully at least once (1.0 when none are listed)."""
    wanted = set(relevant)
    if not wanted:
        return 1.0
    return len(wanted & {name for name, _ in log.successful}) / len(wanted)


def gold_progress(gold: StableToolBenchGold, log: EpisodeLog) -> tuple[int, int]:
    """(gold calls made successfully, gold calls) for a reference run, else (relevant APIs hit, relevant APIs)."""
    if not gold.calls:
        return len(set(gold.relevant) & {name for name, _ in log.successful}), len(gold.relevant)
    made = Counter(log.successful)
    return sum(min(n, made[key]) for key, n in gold.gold_call_counts.items()), len(gold.calls)


class RuleJudge:
    """StepTool's rule-based step rewards (module docstring). Stateless; per-episode state is `EpisodeLog`."""

    def __init__(self, con_mode: str = "binary") -> None:
        if con_mode not in ("binary", "graded"):
            raise ValueError(f"con_mode must be 'binary' or 'graded'; got {con_mode!r}")
        self.graded = con_mode == "graded"

    def start(self, task: Task) -> EpisodeLog:
        return EpisodeLog()

    def judge_call(self, task: Task, state: EpisodeLog, call: ToolCall, result: CallResult) -> Verdict:
        gold: StableToolBenchGold = task.gold
        text = response_text(result.response)
        ok = succeeded(result.error, result.response, result.status)
        state.calls.append((call.name, canonical_arguments(call.arguments), ok, text))
        relevant = call.name in gold.relevant
        if not ok:
            con = 0.0
        elif gold.answer:
            con = contribution(text, gold.answer, self.graded)
        else:
            con = CON_MAX if relevant else 0.0
        return Verdict(1.0 if ok else 0.0, con, relevant)

    def progress(self, task: Task, state: EpisodeLog) -> tuple[int, int]:
        """Gold progress (module docstring): never decreases, since the log only grows."""
        return gold_progress(task.gold, state)

    def judge_finish(self, task: Task, state: EpisodeLog, call: ToolCall) -> float:
        answer = call.arguments.get("final_answer", "")
        return rule_is_solved(str(call.arguments.get("return_type", "")), answer if isinstance(answer, str) else "",
                              any(ok for _, _, ok, _ in state.calls), task.query)


# StepTool's evaluator (src/reward/evaluators/gpt-4-turbo-2024-04-09): function schema and prompt template.
EVALUATE_PROCESS_REWARD: dict[str, Any] = {
    "name": "evaluate_process_reward",
    "description": "Evaluate the entire task-solving process, including tool calls, the contribution of each "
                   "intermediate step to the final answer, and the status of the final answer.",
    "parameters": {
        "type": "object",
        "properties": {
            "succeed_tool_calling": {
                "type": "array",
                "description": "Provide a binary score (0 or 1) indicating whether **each intermediate step** "
                               "successfully called the tool.",
                "items": {"type": "number",
                          "description": "0 for unsuccessful tool calls, 1 for successful tool calls"},
            },
            "contribution_to_final_answer": {
                "type": "array",
                "description": "Provide a score (0 to 5) to assess how much **each intermediate step** contributed "
                               "to the final answer.",
                "items": {"type": "number",
                          "description": "0 indicates no contribution, and 5 indicates maximum contribution."},
            },
            "final_answer_status": {
                "type": "string",
                "enum": ["Unsure", "Unsolved", "Solved"],
                "description": "Indicate the status of the final answer. Choose from: 'Unsure', 'Unsolved', or "
                               "'Solved'.",
            },
        },
        "required": ["succeed_tool_calling", "contribution_to_final_answer", "final_answer_status"],
    },
}

_TEMPLATE = """Query:
{query}

Intermediate Steps:
{mid_steps}

Final Answer:
{final_answer}

Based on the query, intermediate steps, and final answer, evaluate the entire task-solving process using the following criteria:

1. **Successful Tool Calling**: For each intermediate step, indicate whether a tool was successfully called, with a score of 0 (no) or 1 (yes).
2. **Contribution to Final Answer**: Rate the contribution of each intermediate step to the final answer on a scale of 0 to 5.
3. **Final Answer Status**: Determine the final answer status as 'Solved', 'Unsure', or 'Unsolved'.

Please call the `evaluate_process_reward` function to return your evaluation."""  # noqa: E501
_STEP_TEXT_MAX = 1024


def annotation_prompt(query: str, steps: Sequence[tuple[str, str, str]], final_answer: str) -> str:
    """StepTool's annotation prompt; `steps` are (name, arguments JSON, response text), StepTool's format."""
    lines = [f"Step {i}: {{'name': {name!r}, 'arguments': {args!r}, 'response': {text[:_STEP_TEXT_MAX]!r}}}"
             for i, (name, args, text) in enumerate(steps, 1)]
    return _TEMPLATE.format(query=query, mid_steps="\n".join(lines), final_answer=final_answer)


def _score(value: Any) -> float:
    """A score from the annotation: a finite JSON number only (no strings, booleans, NaN or infinities)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"score must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("score out of range") from None
    if not math.isfinite(number):
        raise ValueError("score must be finite")
    return number


def parse_annotation(payload: Any, n_steps: int) -> tuple[list[float], list[float], float] | None:
    """(SC per step, Con per step, IsSolved) from a chat-completions answer, or None if malformed."""
    try:
        message = payload["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        raw = calls[0]["function"]["arguments"] if calls else message["function_call"]["arguments"]
        args = loads_strict(raw) if isinstance(raw, str) else raw
        sc = [_score(x) for x in args["succeed_tool_calling"]]
        con = [_score(x) for x in args["contribution_to_final_answer"]]
        solved = _STATUS_VALUE[args["final_answer_status"]]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError):
        return None
    if len(sc) < n_steps or len(con) < n_steps:
        return None
    sc = [1.0 if x >= 0.5 else 0.0 for x in sc]
    con = [min(CON_MAX, max(0.0, x)) for x in con]
    return sc, con, solved


class LLMJudge:
    """StepTool's GPT annotation as an online judge (module docstring); `fallback` answers on failure."""

    def __init__(self, url: str, model: str = "gpt-4-turbo-2024-04-09", *, k: int = 1, timeout_s: float = 30.0,
                 retries: int = 1, key_env: str = "OPENAI_API_KEY", fallback: RuleJudge | None = None) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        self.url = chat_completions_url(url)
        self.model = model
        self.k = k
        self.timeout_s = timeout_s
        self.retries = retries
        self.key_env = key_env
        self.fallback = fallback or RuleJudge()
        self.failures = 0

    def __repr__(self) -> str:
        return f"LLMJudge({self.url!r}, model={self.model!r}, k={self.k})"

    def start(self, task: Task) -> EpisodeLog:
        return EpisodeLog()

    def judge_call(self, task: Task, state: EpisodeLog, call: ToolCall, result: CallResult) -> Verdict:
        rule = self.fallback.judge_call(task, state, call, result)  # also appends the call to the log
        annotated = self._annotate(task.query, state, "")
        if annotated is None:
            return rule
        sc, con, _ = annotated
        return Verdict(sc[len(state.calls) - 1], con[len(state.calls) - 1], rule.gold_call)

    def progress(self, task: Task, state: EpisodeLog) -> tuple[int, int]:
        """The rule judge's gold progress (`gold_progress`): Φ stays LLM-free, hence deterministic."""
        return gold_progress(task.gold, state)

    def judge_finish(self, task: Task, state: EpisodeLog, call: ToolCall) -> float:
        answer = call.arguments.get("final_answer", "")
        annotated = self._annotate(task.query, state, answer if isinstance(answer, str) else "")
        if annotated is None:
            return self.fallback.judge_finish(task, state, call)
        return annotated[2]

    def _annotate(self, query: str, state: EpisodeLog, final_answer: str) -> tuple[list[float], list[float],
                                                                                     float] | None:
        """Average of `k` annotations (each run must succeed; any failure means fallback)."""
        steps = [(name, args, text) for name, args, _, text in state.calls]
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": annotation_prompt(query, steps, final_answer)}],
            "tools": [{"type": "function", "function": EVALUATE_PROCESS_REWARD}],
            "tool_choice": {"type": "function", "function": {"name": "evaluate_process_reward"}},
            "temperature": 0,
            "max_tokens": 1000,
        }
        key = os.environ.get(self.key_env, "")
        runs = []
        for _ in range(self.k):
            payload, _reason = post_json(self.url, body, headers={"Authorization": f"Bearer {key}"} if key else None,
                                         timeout_s=self.timeout_s, retries=self.retries)
            parsed = parse_annotation(payload, len(steps)) if payload is not None else None
            if parsed is None:
                self.failures += 1
                return None
            runs.append(parsed)
        n = len(runs)
        sc = [sum(r[0][i] for r in runs) / n for i in range(len(steps))]
        con = [sum(r[1][i] for r in runs) / n for i in range(len(steps))]
        return sc, con, sum(r[2] for r in runs) / n

