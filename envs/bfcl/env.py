"""`BFCLMultiTurnEnv`: BFCL v4 multi-turn entries as multi-turn StepTool episodes."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, SupportsFloat

from steptool_envs.bfcl.suite import BFCLEpisode, load_bfcl
from steptool_gym.actions import ToolCall
from steptool_gym.env import ToolUseEnv
from steptool_gym.rewards import RewardComponents
from steptool_gym.status import Status
from steptool_gym.suite import Task

__all__ = ["BFCLMultiTurnEnv"]


class _NextTurn(NamedTuple):
    """The response of a ``Finish`` that ends a turn: the next user message, shown verbatim."""

    text: str


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

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The function schemas available now (held-out ones once revealed), Finish last."""
        tools = super().tools
        episode: BFCLEpisode = self.judge_state
        revealed = [n for t, names in self.task.gold.holdout.items() if t <= episode.turn for n in names]
        return tools[:-1] + [self.suite.catalog.schema(n) for n in revealed] + tools[-1:]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation as chat messages; a turn-ending ``Finish`` is the assistant's reply to the user."""
        out = super().messages
        for i, rec in enumerate(self.history):
            if rec.call is not None and rec.call.is_finish and rec.status == Status.OK:
                answer = rec.call.arguments.get("final_answer", "")
                out[2 + 2 * i] = {"role": "assistant", "content": answer if isinstance(answer, str) else ""}
                out[3 + 2 * i] = {"role": "user", "content": rec.observation.removeprefix("User: ")}
        return out

    def step(self, action: Any) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        checked = len(self.judge_state.checks) if self.judge_state is not None else 0
        observation, reward, terminated, truncated, info = super().step(action)
        episode: BFCLEpisode = self.judge_state
        info["turn"] = episode.turn
        if len(episode.checks) > checked:
            info["turn_check"] = dict(episode.checks[-1])
            if not terminated:
                info["gold_call"] = episode.checks[-1]["valid"]
        return observation, reward, terminated, truncated, info

    def _prepare(self, index: int) -> Any:
        # Held-out functions are absent from the prompt (task.api_names) but must still dispatch once revealed.
        prepared = self._prepared.get(index)
        if prepared is None:
            prepared = super()._prepare(index)
            holdout = [n for names in self.suite.tasks[index].gold.holdout.values() for n in names]
            if holdout:
                apis = {**prepared.apis, **{n: self.suite.catalog[n] for n in holdout}}
                prepared = self._prepared[index] = dataclasses.replace(prepared, apis=apis)
        return prepared

    def _finish(self, task: Task, call: ToolCall) -> tuple[Status, str, Any, RewardComponents]:
        status, error, response, components = super()._finish(task, call)
        episode: BFCLEpisode = self.judge_state
        if status == Status.FINAL_ANSWER and not episode.finished:
            # A turn end is an intermediate step: the action worked (SC = 1) and contributes fully when BFCL's
            # check of the turn passed.
            con = 5.0 if episode.checks[-1]["valid"] else 0.0
            return Status.OK, "", _NextTurn(task.metadata["turns"][episode.turn]), RewardComponents(1.0, con)
        return status, error, response, components

    def _render_response(self, error: str, response: Any) -> str:
        if isinstance(response, _NextTurn):
            return f"User: {response.text}"
        return super()._render_response(error, response)
