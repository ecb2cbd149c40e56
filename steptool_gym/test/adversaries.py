"""The adversary battery: scripted policies that try to farm an env's reward, against its oracle.

Policies (each sees the unwrapped `ToolUseEnv` and the oracle's calls on the same task):

=================  ================================================================================================
``oracle``         (f) the suite's gold policy
``repeat``         (a) the oracle's calls, but instead of ``Finish`` repeat the last successful call until truncation
``cycle``          (b) cycle through valid non-gold candidate calls (the env's admissible calls the oracle never made)
``distractor``     (c) call functions the oracle never calls (else behave as ``cycle``)
``give_up``        (d) ``Finish`` with ``give_up_and_restart`` at once
``empty``          (e) ``Finish`` at once with an empty answer
``echo``           (e) ``Finish`` at once with the query as the answer
``first_untried``  (g) take the first admissible candidate not yet called, else the Finish candidate
``kitchen_sink``   (h) ``first_untried`` calls, then (last step) ``Finish`` listing every value seen so far
``exhaust``        ``first_untried`` calls, then (last step) the admissible Finish candidate: a probe of the discrete
                   action space (brute force within the step limit), not in `ADVERSARIES`
``oracle_finish``  the oracle's calls, then the admissible Finish candidate instead of the gold answer: the discrete
                   action space's ceiling (a right call sequence must be solved through it), not in `ADVERSARIES`
=================  ================================================================================================

`check_reward_not_farmable(env_id)` requires the oracle's undiscounted return to be strictly higher than every
adversary's on every task tried, except tasks that an immediate empty ``Finish`` solves by the suite's own judge
(τ² tasks whose right outcome is to change nothing: no reward can rank the oracle above an equally correct
instant answer; they are counted and returned, never hidden) and an adversary's episode that replays the oracle's
own step for step (`EpisodeResult.replays`: ``repeat`` on a τ² task whose oracle only answers); `battery(env_id)`
returns the per-policy returns and solve rates (``benchmarks/reward_farming.py`` tabulates them per reward mode).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.admissible import _observed
from steptool_gym.env import ToolUseEnv
from steptool_gym.rewards import REWARD_MODES, RewardConfig
from steptool_gym.status import Status

__all__ = ["ADVERSARIES", "POLICIES", "EpisodeResult", "battery", "check_reward_not_farmable", "play"]

ADVERSARIES = ("repeat", "cycle", "distractor", "give_up", "empty", "echo", "first_untried", "kitchen_sink")
POLICIES = ("oracle", *ADVERSARIES)


@dataclass
class EpisodeResult:
    """One scripted episode: undiscounted return, IsSolved at the end, steps, the calls made, and the return the
    same episode earns under every reward mode (recomputed from its judged components)."""

    policy: str
    task_index: int
    ret: float
    solved: float
    steps: int
    calls: list[ToolCall] = field(default_factory=list)
    returns: dict[str, float] = field(default_factory=dict)

    def replays(self, other: EpisodeResult) -> bool:
        """Whether this episode is `other`'s own, step for step: the same task, calls, steps, return and verdict
        (``repeat`` on a task whose oracle makes no call has nothing to repeat and plays the oracle's Finish)."""
        return (self.task_index, self.steps, self.ret, self.solved) == (other.task_index, other.steps, other.ret,
                                                                          other.solved) \
            and [_key(c) for c in self.calls] == [_key(c) for c in other.calls]


def _key(call: ToolCall) -> tuple[str, str]:
    return call.name, repr(sorted((k, repr(v)) for k, v in call.arguments.items()))


def _finish(answer: str, give_up: bool = False) -> ToolCall:
    kind = "give_up_and_restart" if give_up else "give_answer"
    return ToolCall(FINISH, {"return_type": kind, "final_answer": answer})


def _last_ok(env: ToolUseEnv) -> ToolCall | None:
    for rec in reversed(env.history):
        if rec.call is not None and not rec.call.is_finish and rec.status == Status.OK:
            return rec.call
    return None


def _tried(env: ToolUseEnv) -> set[tuple[str, str]]:
    return {_key(r.call) for r in env.history if r.call is not None}


def _kitchen_sink(env: ToolUseEnv) -> str:
    values = [str(v) for vs in _observed(env.history).values() for v in vs]
    return "Here is what I found: " + "; ".join(dict.fromkeys(values))


def _candidates(env: ToolUseEnv) -> list[ToolCall]:
    return [c for c in env.admissible_calls() if not c.is_finish]


def _action(policy: str, env: ToolUseEnv, gold: set[tuple[str, str]], gold_names: set[str]) -> Any:
    last_step = env._state.steps + 1 >= env.max_steps
    if policy == "oracle":
        return env.oracle_action()
    if policy == "oracle_finish":
        call = env.oracle_action()
        if call is None or not call.is_finish:
            return call
        return next((c for c in env.admissible_calls() if c.is_finish), call)
    if policy == "repeat":
        call = env.oracle_action()
        if call is not None and not call.is_finish:
            return call
        return _last_ok(env) or call or _finish("", give_up=True)
    if policy == "give_up":
        return _finish("", give_up=True)
    if policy == "empty":
        return _finish("")
    if policy == "echo":
        return _finish(env.task.query)
    if policy in ("first_untried", "kitchen_sink", "exhaust"):
        if policy == "kitchen_sink" and last_step:
            return _finish(_kitchen_sink(env))
        calls = env.admissible_calls()
        tried = _tried(env)
        untried = [c for c in calls if not c.is_finish and _key(c) not in tried]
        if untried and not (policy == "exhaust" and last_step):
            return untried[0]
        finish = [c for c in calls if c.is_finish]
        return finish[0] if finish else _finish(_kitchen_sink(env))
    pool = [c for c in _candidates(env) if _key(c) not in gold]
    if policy == "distractor":
        pool = [c for c in pool if c.name not in gold_names] or pool
    if policy in ("cycle", "distractor"):
        if not pool:  # nothing valid left: a call of an unknown function (status 1, SC = 0)
            return ToolCall("no_such_function_for_adversary", {})
        return pool[env._state.steps % len(pool)]
    raise ValueError(f"Unknown policy {policy!r}; choose from {', '.join(POLICIES)}")


def play(env: gym.Env, task_index: int, policy: str, gold: set[tuple[str, str]] | None = None,
         gold_names: set[str] | None = None) -> EpisodeResult:
    """One episode of `policy` on task `task_index` (`gold`: the oracle's call keys, for the adversaries)."""
    base: ToolUseEnv = env.unwrapped  # type: ignore[assignment]
    env.reset(seed=task_index, options={"task_index": task_index})
    result = EpisodeResult(policy, task_index, 0.0, 0.0, 0)
    done = False
    while not done:
        action = _action(policy, base, gold or set(), gold_names or set())
        if action is None:  # a suite without an oracle
            action = _finish("", give_up=True)
        _, reward, terminated, truncated, info = env.step(action)
        result.ret += float(reward)
        result.steps += 1
        if isinstance(action, ToolCall) and not action.is_finish:
            result.calls.append(action)
        done = terminated or truncated
        if done:
            result.solved = float(info.get("is_solved", 0.0))
    config = base.reward_config
    for mode in REWARD_MODES:
        other = RewardConfig(mode, config.alpha, None, config.gamma, config.step_cost)
        result.returns[mode] = float(sum(other(rec.components) for rec in base.history))
    return result


def battery(env_id: str, task_indices: Sequence[int] | None = None, n_tasks: int = 50,
            policies: Sequence[str] = POLICIES, make: Callable[[], gym.Env] | None = None,
            **kwargs: Any) -> dict[str, list[EpisodeResult]]:
    """Every policy on the same tasks: results per policy.

    Tasks are `task_indices`, else the first `n_tasks` tasks that the oracle solves (a suite's tasks without a
    solved reference, e.g. StableToolBench queries no StepTool run solved, give nothing to compare against)."""
    # State keys stay on (the env's default): every adversary's step must also produce one without raising.
    env = make() if make is not None else gym.make(env_id, **kwargs)
    base: ToolUseEnv = env.unwrapped  # type: ignore[assignment]
    solved_only = task_indices is None
    if task_indices is None:
        task_indices = range(len(base.suite.tasks))
    out: dict[str, list[EpisodeResult]] = {p: [] for p in policies}
    try:
        for index in task_indices:
            if solved_only and len(out[policies[0]]) >= n_tasks:
                break
            oracle = play(env, index, "oracle")
            if solved_only and oracle.solved < 1.0:
                continue
            gold = {_key(c) for c in oracle.calls}
            names = {c.name for c in oracle.calls}
            for policy in policies:
                out[policy].append(oracle if policy == "oracle" else play(env, index, policy, gold, names))
    finally:
        env.close()
    return out


def check_reward_not_farmable(env_id: str, task_indices: Sequence[int] | None = None, n_tasks: int = 50,
                              adversaries: Sequence[str] = ADVERSARIES,
                              **kwargs: Any) -> dict[str, list[EpisodeResult]]:
    """Assert that the oracle out-earns every adversary on every task (see the module docstring); the results
    per policy, and the indices of the tasks an immediate Finish solves under ``"trivial"``."""
    results = battery(env_id, task_indices, n_tasks, ("oracle", *dict.fromkeys((*adversaries, "empty"))), **kwargs)
    trivial = {r.task_index for r in results["empty"] if r.solved >= 1.0}
    for policy in adversaries:
        for oracle, adversary in zip(results["oracle"], results[policy], strict=True):
            if oracle.task_index not in trivial and not adversary.replays(oracle) and not oracle.ret > adversary.ret:
                raise AssertionError(
                    f"{env_id} task {oracle.task_index}: the {policy!r} adversary earns {adversary.ret:.4f} "
                    f">= the oracle's {oracle.ret:.4f} (calls: {[c.name for c in adversary.calls][:8]})")
    results["trivial"] = [r for r in results["empty"] if r.task_index in trivial]
    return results
