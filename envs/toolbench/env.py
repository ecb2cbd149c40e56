"""`ToolBenchEnv`: the synthetic ToolBench suite as a Gymnasium environment."""

from __future__ import annotations

from typing import Any

from steptool_envs.toolbench.suite import load_suite
from steptool_gym.env import ToolUseEnv

__all__ = ["ToolBenchEnv"]


class ToolBenchEnv(ToolUseEnv):
    """Multi-step tool use over a seeded, ToolBench-shaped world of 150+ RapidAPI-style APIs.

    ## Description
    Each episode is one user query in ToolBench's style (G1: one tool; G2: several tools of one category;
    G3: tools of several categories) with about five candidate functions, distractors included. Answering
    needs chained calls (search a city by name → its ``city_id`` → the weather of that id), often several
    sub-questions ("… Also, …"), and in G2/G3 sometimes a bridge between tools (the weather in "the capital of
    Japan" needs a country tool first). The world (countries, cities, weather, hotels, flights, currencies, artists,
    songs, movies, teams, stocks, recipes, products, books) is generated from `world_seed`, so every process
    sees the same tools, responses and tasks. Some APIs are flaky by design: for hash-selected arguments the
    first attempt fails (rate limit, API not working, timeout) and a retry succeeds; unknown names give empty
    results or errors; list endpoints paginate (``page``, ``has_more``).

    ## Action Space
    A tool call in any form `steptool_gym.actions.parse_action` accepts: ReAct text
    (``Thought/Action/Action Input``), ``{"name", "arguments"}`` JSON or dict, an OpenAI assistant message
    with ``tool_calls``, or a `ToolCall`. ``Finish`` takes ``return_type`` (``give_answer`` |
    ``give_up_and_restart``) and ``final_answer``.

    ## Observation Space
    Text. On reset: ToolBench's system prompt (tool list and function schemas) followed by the query. On each
    step: the tool's ``{"error": ..., "response": ...}`` as JSON, cut to `max_observation_length` characters.

    ## Rewards
    By default (``reward_mode="progress"``) each step earns ``γ·Φ(s') − Φ(s) − c``, Φ the share of the gold
    call graph's nodes satisfied (0 once the episode ends), and ``Finish`` adds IsSolved (below): new gold calls
    pay, repeats, distractors and failed calls earn ≤ 0, so the oracle out-earns every scripted adversary on
    every task (`steptool_gym.test.adversaries`). The paper's reward (``reward_mode="step"``, farmable: a
    repeat policy earns 6.92 vs the oracle's 2.98 on G1): intermediate calls get ``(α·SC + Con/5)/(α+1)``
    (α = 1 by default), where SC = 1 iff the call succeeded and Con comes from the gold call graph:

    ====  =====================================================================================
    Con   when
    ====  =====================================================================================
    5     newly satisfies a gold node (function + normalised arguments), dependencies satisfied
    3     newly satisfies a gold node out of order (a dependency not yet satisfied)
    1     a gold function with non-gold arguments, successful
    0     failed calls, repeats of a satisfied gold node, distractor functions
    ====  =====================================================================================

    So a new gold call earns 1.0, a successful call on the right API with other arguments 0.6, a successful
    distractor call 0.5, a failed call 0. ``Finish`` earns IsSolved: 1.0 if the answer contains every gold
    fact (case, whitespace, punctuation and number formatting normalised) and at least half of its content
    tokens and of its numbers are in the gold answer or the query (answer precision), 0.5 if some facts or a
    low-precision answer with all of them, 0.0 if none; giving up earns 0. Other ``reward_mode`` values are
    listed in `steptool_gym.rewards`.

    ## Episode End
    Terminated when ``Finish`` is called; truncated after `max_steps` steps (12 by default, which every task's
    gold path, retries included, fits in).

    ## Information
    ``status`` (ToolBench's code), ``reward_components`` (``SC``, ``Con``, ``IsSolved``), ``gold_call`` (True
    iff the call matched a gold node), ``backend``, ``is_solved`` at the end, and ``state_key`` on reset and
    every step: a 32-hex-digit hash of the task id, the satisfied gold nodes and the gold calls that failed and
    await a retry, the same in every process (calls that change none of these keep the key); on request
    (``infos=``): ``messages``, ``tools``, ``task``, ``gold``, ``admissible_calls``.

    ## Arguments
    ``group`` ("all", "G1", "G2", "G3"), ``split`` ("train", "test_instruction", "test_tool",
    "test_category"), ``world_seed`` (0); and the engine's ``max_steps=12``, ``max_observation_length=1024``,
    ``reward_mode="progress"``, ``gamma=0.99``, ``step_cost=0.0``, ``alpha=1.0``, ``reward_fn=None``,
    ``infos=None``, ``strict_arguments=True``,
    ``render_mode=None``. Reset options ``{"task_index": int}`` or ``{"task_id": str}`` pick the task.

    ## Version History
    * v0: initial release; ``state_key`` is in every reset and step info by default (it was opt-in).
    """

    def __init__(self, group: str = "all", split: str = "train", world_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(load_suite(group, split, world_seed), **kwargs)
        self.group, self.split, self.world_seed = group, split, world_seed
