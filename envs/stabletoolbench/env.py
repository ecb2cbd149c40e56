"""``StepTool-StableToolBench-v0``: StableToolBench's 765 solvable queries as a Gymnasium env."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steptool_envs.stabletoolbench.judges import api_recall
from steptool_envs.stabletoolbench.suite import StableToolBenchSuite, load_suite
from steptool_gym.env import ToolUseEnv

__all__ = ["StableToolBenchEnv"]


class StableToolBenchEnv(ToolUseEnv):
    """StableToolBench's solvable test queries with a cache → server → LLM → template backend chain.

    ## Description
    Each episode is one of StableToolBench's 765 solvable test queries (G1_instruction 163, G1_category 153,
    G1_tool 158, G2_instruction 106, G2_category 124, G3_instruction 61) with the RapidAPI functions listed for
    it, named and described exactly as ToolBench builds them. Calls are answered, in a configurable order, by
    recorded responses (StepTool's evaluated runs and StableToolBench cache folders), a StableToolBench
    ``/virtual`` server, an LLM simulator with StableToolBench's prompt, and finally deterministic
    ``template_response`` fills. Without server or LLM URLs the env is offline and deterministic.

    ## Action Space
    `ToolCallSpace` over the query's functions and ``Finish`` (ReAct text, JSON/dict calls, OpenAI
    ``tool_calls``, or `ToolCall`). Arguments are checked leniently by default (``strict_arguments=False``):
    numbers as text and the reverse pass, as they do on RapidAPI.

    ## Observation Space
    `ToolText`: ToolBench's system prompt (tool descriptions, function schemas) and the query on reset; each
    tool answer as ``{"error": ..., "response": ...}`` JSON cut to `max_observation_length` characters.

    ## Rewards
    By default (``reward_mode="progress"``) potential-based shaping ``γ·Φ(s') − Φ(s) − c``, Φ the share of the
    reference run's calls made (relevant APIs called, for queries without one), plus ``IsSolved`` at ``Finish``;
    StepTool's step-grained reward ``(α·SC + Con/5)/(α+1)`` per call is ``reward_mode="step"``. With
    ``judge="rule"``, SC, Con and IsSolved follow StepTool's rules (`steptool_envs.stabletoolbench.judges`);
    with ``judge="llm"`` an OpenAI-compatible model fills in StepTool's ``evaluate_process_reward``
    annotation, falling back to the rules on failure.

    ## Episode End
    Terminated by ``Finish`` (answer or give-up); truncated after `max_steps` steps.

    ## Information
    ``status``, ``reward_components``, ``backend`` (``cache``, ``server``, ``llm`` or ``template``: who
    answered), ``gold_call`` (the function is one of the query's relevant APIs), ``is_solved`` at the end,
    ``state_key`` on reset and every step (a hash of the task id and the multiset of successful calls with
    canonical arguments, the same in every process and for any call order); ``infos=["gold"]`` adds the
    relevant functions and the reference run (calls and answer) where one exists;
    ``env.unwrapped.api_recall()`` is the share of relevant APIs called successfully so far.

    ## Arguments
    ``group="all"`` (or one of the six groups), ``data_dir=None`` (StableToolBench's folder; default
    ``$STEPTOOL_STB_DIR``, else ``<repo>/../shared/data/stabletoolbench``), ``backends=("cache", "server",
    "llm", "template")``, ``cache_dirs=()`` (StableToolBench cache folders), ``server_url=None``,
    ``llm_url=None``, ``llm_model="gpt-4o-mini"``, ``judge="rule"`` (or ``"llm"``), ``judge_url=None``
    (defaults to `llm_url`), ``judge_model="gpt-4-turbo-2024-04-09"``, ``judge_k=1``, ``con_mode="binary"``
    (or ``"graded"``), ``use_records=True`` (StepTool's runs as cache and gold), ``tools_dir=None``
    (ToolBench's ``toolenv/tools`` for tool descriptions), ``timeout_s=30``, ``retries=2``,
    ``gold_only=False`` (only queries with a solved reference run), plus every `ToolUseEnv` argument.
    Keys for the server and the LLM come from ``$TOOLBENCH_KEY`` and ``$OPENAI_API_KEY``.

    ## Version History
    * v0: initial release; ``state_key`` is in every reset and step info by default (it was opt-in) and no
      longer depends on the order of the successful calls.
    """

    suite: StableToolBenchSuite

    def __init__(self, *, group: str = "all", data_dir: str | Path | None = None,
                 backends: Sequence[str] = ("cache", "server", "llm", "template"),
                 cache_dirs: Sequence[str | Path] = (), server_url: str | None = None, llm_url: str | None = None,
                 llm_model: str = "gpt-4o-mini", judge: str = "rule", judge_url: str | None = None,
                 judge_model: str = "gpt-4-turbo-2024-04-09", judge_k: int = 1, con_mode: str = "binary",
                 use_records: bool = True, tools_dir: str | Path | None = None, timeout_s: float = 30.0,
                 retries: int = 2, gold_only: bool = False, strict_arguments: bool = False, **kwargs: Any) -> None:
        suite = load_suite(data_dir=data_dir, group=group, backends=backends, cache_dirs=cache_dirs,
                           server_url=server_url, llm_url=llm_url, llm_model=llm_model, judge=judge,
                           judge_url=judge_url, judge_model=judge_model, judge_k=judge_k, con_mode=con_mode,
                           use_records=use_records, tools_dir=tools_dir, timeout_s=timeout_s, retries=retries,
                           gold_only=gold_only)
        super().__init__(suite, strict_arguments=strict_arguments, **kwargs)

    def api_recall(self) -> float:
        """Share of the query's relevant APIs called successfully so far in this episode."""
        return api_recall(self.task.gold.relevant, self.judge_state)
