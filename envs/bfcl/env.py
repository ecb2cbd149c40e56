"""`BFCLMultiTurnEnv`: BFCL v4 multi-turn entries as multi-turn StepTool episodes."""

from __future__ import annotations

from typing import Any

from steptool_envs.bfcl.suite import load_bfcl
from steptool_gym.env import ToolUseEnv

__all__ = ["BFCLMultiTurnEnv"]


class BFCLMultiTurnEnv(ToolUseEnv):
    """BFCL v4 multi-turn function calling over eight stateful API simulators, one user turn at a time.

    ## Description
    Each episode is one entry of the Berkeley Function Calling Leaderboard's multi-turn set (category ``base``,
    ``miss_func``, ``miss_param`` or ``long_context``; 200 entries each). The simulators (file system, math,
    messaging, Twitter, tickets, trading, travel, vehicle) start from the entry's initial configuration and
    persist across turns. The user's turns arrive in order: the reset observation holds the first, and the
    observation after each turn ends holds the next. In ``miss_func`` some functions are held out of the
    prompt until a turn whose message reveals them (as in BFCL, a call to one still runs); in ``miss_param``
    and ``miss_func`` a turn with no ground-truth calls expects the agent to call nothing and ask instead.

    ## Action Space
    `ToolCallSpace`: a call to one of the entry's functions (BFCL's names and JSON schemas, arguments by
    keyword), or ``Finish``, which ends the current turn: ``{"return_type": "give_answer", "final_answer":
    "<reply to the user>"}``. ``give_up_and_restart`` abandons the whole episode.

    ## Observation Space
    `ToolText`: on reset, the system prompt with the currently available function schemas and the first user
    message; after a call, ``{"error": ..., "response": ...}`` JSON of the simulator's result; after a
    ``Finish`` that ends a non-final turn, ``User: <next message>`` (for a reveal turn: the new functions'
    schemas and BFCL's "I have updated some more functions..." message).

    ## Rewards
    Per call (`steptool_gym.rewards`): SC = 1 when the simulator ran without an exception and without an
    ``{"error": ...}`` result; Con = 5 when the call (defaults applied) equals a not yet matched ground-truth
    call of the current turn, else 0. A ``Finish`` that ends a non-final turn is an intermediate step too:
    SC = 1, Con = 5 when BFCL's check of that turn passed (state check against a ground-truth replay,
    response check, at least one call when calls were expected), else 0. The final ``Finish`` scores
    IsSolved = 1 when every turn passed, else 0 (BFCL's verdict for the entry). These are the components; the
    default ``reward_mode="progress"`` pays ``γ·Φ(s') − Φ(s)`` per step, Φ the share of the entry's gold calls
    matched over all turns (0 once the episode ends), plus IsSolved; ``reward_mode="step"`` is StepTool's.

    ## Episode End
    Terminated by ``Finish`` in the last turn or by ``give_up_and_restart``; truncated after `max_steps`
    steps in all (BFCL itself force-quits after 20 steps within one turn).

    ## Information
    The engine's keys (``state_key`` on reset and every step: a hash of the task, turn progress and the
    simulators' public state, the same in every process), plus ``turn`` (index of the current turn) and, on a
    step that ended a turn,
    ``turn_check`` (``{"turn", "valid", ...}`` with BFCL's ``error_type`` and ``error_message`` on failure);
    ``gold_call`` of a non-final turn end is whether its check passed.

    ## Arguments
    ``category="base"`` (``base`` | ``miss_func`` | ``miss_param`` | ``long_context``), ``max_steps=80``,
    ``max_observation_length=65536`` (long-context results reach ~32k characters and are the point of that
    category), and every `ToolUseEnv` argument. Requires ``bfcl-eval`` (``pip install 'steptool-gym[bfcl]'`` and
    ``pip install --no-deps bfcl-eval``).

    ## Version History
    * v0: initial release (BFCL v4 data from bfcl-eval); ``state_key`` is in every reset and step info by
      default (it was opt-in).
    """

    def __init__(self, category: str = "base", *, max_steps: int = 80, max_observation_length: int = 65536,
                 **kwargs: Any) -> None:
        super().__init__(load_bfcl(category), max_steps=max_steps, max_observation_length=max_observation_length,
                         **kwargs)
