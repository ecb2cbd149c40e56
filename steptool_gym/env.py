"""The engine: `ToolUseEnv`, a Gymnasium env over any `Suite` (see `steptool_gym.suite`)."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, SupportsFloat

import gymnasium as gym
import numpy as np

from steptool_gym.actions import ActionError, ToolCall, parse_action
from steptool_gym.admissible import default_admissible_calls
from steptool_gym.backends import CallContext
from steptool_gym.catalog import API
from steptool_gym.infos import EnvInfos
from steptool_gym.prompts import render_observation, system_prompt
from steptool_gym.rewards import DEFAULT_REWARD_MODE, UNSOLVED, RewardComponents, RewardConfig
from steptool_gym.spaces import ToolCallSpace, ToolText
from steptool_gym.status import Status
from steptool_gym.suite import Suite, Task

__all__ = ["EpisodeState", "NextTurn", "StepRecord", "ToolUseEnv"]

_RAW_ACTION_KEEP = 4096  # characters of an unparseable action kept in the conversation
_Credit = tuple[float, float, float | None]  # a call's (SC, Con, IsSolved), before Φ is known


@dataclass(slots=True)
class StepRecord:
    """One step of the conversation: the parsed call (None if unparseable), raw text, observation, status, and
    `gold_matched` / `gold_total`: the judge's gold progress after the step (see `Judge.progress`).

    Read-only by convention (the env's own history): not frozen, because a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__``, ~1 µs of every step."""

    call: ToolCall | None
    raw: str
    observation: str
    status: Status
    reward: float
    components: RewardComponents
    gold_call: bool | None = None
    gold_matched: float = 0.0
    gold_total: float = 0.0


@dataclass(slots=True)
class EpisodeState:
    """Everything that changes during an episode; `ToolUseEnv.snapshot` copies exactly this."""

    task_index: int = -1
    steps: int = 0
    done: bool = False
    history: list[StepRecord] = field(default_factory=list)
    judge_state: Any = None
    counters: dict[str, int] = field(default_factory=dict)
    progress: tuple[float, float] = (0.0, 0.0)  # the judge's (gold matched, gold total) after the last step


class NextTurn(NamedTuple):
    """The response of a ``Finish`` that ended a turn (suite hook `turn_end`): the user's next message."""

    text: str


@dataclass(frozen=True)
class _Prepared:
    """Per-task values computed once per suite: the task's APIs, schemas and reset observation."""

    task_id: str
    apis: dict[str, API]
    tools: list[dict[str, Any]]
    system: str
    observation: str


# Per suite (suites are immutable and shared): every env of a suite, e.g. the N copies in a vector env, builds
# each task's prompt once between them instead of once each.
_SHARED_PREPARED: weakref.WeakKeyDictionary[Any, dict[int, _Prepared]] = weakref.WeakKeyDictionary()


def _suite_prepared(suite: Suite, index: int) -> _Prepared:
    try:
        cache = _SHARED_PREPARED.setdefault(suite, {})
    except TypeError:  # a suite that cannot be weakly referenced or hashed: built afresh
        cache = {}
    prepared = cache.get(index)
    if prepared is None:
        prepared = cache[index] = _build_prepared(suite, suite.tasks[index])
    return prepared


def _build_prepared(suite: Suite, task: Task) -> _Prepared:
    # A suite whose function names clash across tasks (ToolBench's 64-character cut) gives per-task ones.
    task_catalog = getattr(suite, "task_catalog", None)
    catalog = task_catalog(task) if task_catalog is not None else suite.catalog
    apis = {name: catalog[name] for name in task.api_names}
    tools = catalog.schemas(task.api_names)
    seen: dict[str, str] = {}
    for api in apis.values():
        seen.setdefault(api.tool_name, catalog.tool_descriptions.get(api.tool_name, api.tool_description))
    system = system_prompt(list(seen.items()), tools)
    extra_apis = getattr(suite, "extra_apis", None)  # callable though not in the prompt (yet)
    if extra_apis is not None:
        apis.update({name: catalog[name] for name in extra_apis(task)})
    suffix = getattr(suite, "system_prompt_suffix", None)
    if suffix is not None:
        system += suffix(task)
    return _Prepared(task.task_id, apis, tools, system, render_observation(system, task.query))


class ToolUseEnv(gym.Env[str, Any]):
    """Multi-step tool use as an episodic Gymnasium env with StepTool's step-shaped rewards.

    ## Description
    Each episode is one task of a `Suite`: a user query and a set of candidate functions. The agent calls
    functions one per step and ends with ``Finish``. Suites subclass this env to add their own loading
    arguments; this class holds the engine shared by all of them.

    ## Action Space
    `ToolCallSpace`: ReAct text (``Thought/Action/Action Input``), a JSON or dict call ``{"name", "arguments"}``,
    an OpenAI assistant message with ``tool_calls``, or a `ToolCall`. ``Finish`` takes ``return_type``
    (``give_answer`` | ``give_up_and_restart``) and ``final_answer``.

    ## Observation Space
    `ToolText`: on reset, ToolBench's system prompt (function schemas included) and the query; on each step,
    the tool response as ``{"error": ..., "response": ...}`` JSON, cut to `max_observation_length` characters
    (+ ``"..."``), as ToolBench renders it. The conversation as OpenAI messages is `messages`; the schemas are
    `tools` (or request both via ``infos``).

    ## Rewards
    See `steptool_gym.rewards`. By default (``reward_mode="progress"``) exact potential-based shaping:
    ``γ·Φ(s') − Φ(s) − c`` per step, Φ the share of the task's gold calls satisfied so far (0 after a terminal
    step), plus ``IsSolved`` ∈ {1, 0.5, 0} at ``Finish``; repeats, distractors and failed calls earn ≤ 0, so the
    reward cannot be farmed. ``gamma`` must equal the learner's discount for the policy-invariance guarantee.
    ``reward_mode="step"`` is the paper's ``(α·SC + Con/5)/(α+1)`` per call (farmable: see the module).
    Malformed actions score SC = Con = 0.

    ## Episode End
    Terminated when ``Finish`` is called (answer or give-up); truncated after `max_steps` steps.

    ## Information
    ``status`` (ToolBench's code, `Status`), ``reward_components`` (``SC``, ``Con``, ``IsSolved``), ``progress``
    (Φ after the step, before the terminal reset to 0), ``gold_matched`` and ``gold_total`` at the end (gold calls
    matched, each once, and in all: tool-call precision and recall),
    ``gold_call`` on tool calls, ``is_solved`` at the end, ``backend`` when a backend answered, and
    ``state_key`` (reset and step: the suite's stable hash of the task-relevant state, equal across processes;
    ``infos=EnvInfos(state_key=False)`` drops it); more via ``infos`` (`EnvInfos`).

    ## Arguments
    ``max_steps=12``, ``max_observation_length=1024``, ``reward_mode="progress"``, ``gamma=0.99``,
    ``step_cost=0.0``, ``alpha=1.0`` (``step`` family), ``reward_fn=None``,
    ``infos=None``, ``strict_arguments=True``, ``render_mode=None`` (``"ansi"`` or ``"human"``).
    Reset options: ``{"task_id": str}`` or ``{"task_index": int}`` pick the task; otherwise it is drawn from
    the env's seeded generator. ``reset(seed=s)`` reseeds the env's PCG64 generator in place with exactly the
    stream of the generator Gymnasium would create for ``s`` (``np_random`` keeps its identity).

    ## Version History
    * v0: initial release; ``state_key`` is in every reset and step info by default (it was opt-in).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}
    _pending_seed: int | None = None  # a seed given to `reset` whose generator state is not derived yet

    def __init__(
        self,
        suite: Suite,
        *,
        max_steps: int = 12,
        max_observation_length: int = 1024,
        reward_mode: str = DEFAULT_REWARD_MODE,
        alpha: float = 1.0,
        reward_fn: Any = None,
        gamma: float = 0.99,
        step_cost: float = 0.0,
        infos: EnvInfos | Any = None,
        strict_arguments: bool = True,
        max_prompt_length: int = 1 << 17,
        render_mode: str | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1; got {max_steps}")
        if max_observation_length < 1:
            raise ValueError(f"max_observation_length must be >= 1; got {max_observation_length}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}; got {render_mode!r}")
        if not suite.tasks:
            raise ValueError(f"Suite {suite.name!r} has no tasks")
        self.suite = suite
        self.max_steps = int(max_steps)
        self.max_observation_length = int(max_observation_length)
        self.reward_config = RewardConfig(reward_mode, float(alpha), reward_fn, float(gamma), float(step_cost))
        self.infos = EnvInfos.coerce(infos)
        if self.infos == _DEFAULT_INFOS:  # the default is then told by identity on every step
            self.infos = _DEFAULT_INFOS
        self.strict_arguments = strict_arguments
        self.render_mode = render_mode
        self._task_index = {t.task_id: i for i, t in enumerate(suite.tasks)}
        self.observation_space = ToolText(max(max_prompt_length, self.max_observation_length + 3))
        self.action_space = ToolCallSpace(sorted({n for t in suite.tasks for n in t.api_names}))
        self._prepared: dict[int, _Prepared] = {}
        self._state = EpisodeState()
        # Suites are immutable, so their optional hooks are looked up once, not on every step.
        self._progress_hook = getattr(suite.judge, "progress", None)
        self._step_info_hook = getattr(suite, "step_info", None)
        self._turn_end_hook = getattr(suite, "turn_end", None)  # a missed getattr raises inside: ~1 µs per Finish

    # ------------------------------------------------------------------ properties
    @property
    def task(self) -> Task:
        """The current task (after `reset`)."""
        if self._state.task_index < 0:
            raise gym.error.ResetNeeded("Call reset() before using the env")
        return self.suite.tasks[self._state.task_index]

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The current task's function schemas in OpenAI format, Finish last (+ the suite's `visible_tools`)."""
        tools = self._prepare(self._state.task_index).tools
        visible = getattr(self.suite, "visible_tools", None)
        if visible is None:
            return tools
        extra = [self.suite.catalog.schema(name) for name in visible(self.task, self._state.judge_state)]
        return tools[:-1] + extra + tools[-1:]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation so far as OpenAI-style chat messages (built on demand)."""
        prepared = self._prepare(self._state.task_index)
        out: list[dict[str, Any]] = [
            {"role": "system", "content": prepared.system},
            {"role": "user", "content": self.task.query},
        ]
        for i, rec in enumerate(self._state.history):
            if rec.call is None:
                out.append({"role": "assistant", "content": rec.raw})
                out.append({"role": "user", "content": rec.observation})
                continue
            if rec.call.is_finish and rec.status == Status.OK:  # a turn end (see the suite hook `turn_end`)
                answer = rec.call.arguments.get("final_answer", "")
                out.append({"role": "assistant", "content": answer if isinstance(answer, str) else ""})
                out.append({"role": "user", "content": rec.observation.removeprefix("User: ")})
                continue
            call_id = f"call_{i}"
            out.append({"role": "assistant", "content": rec.call.thought, "tool_calls": [rec.call.to_openai(call_id)]})
            out.append({"role": "tool", "tool_call_id": call_id, "name": rec.call.name, "content": rec.observation})
        return out

    @property
    def done(self) -> bool:
        """Whether the episode has ended (terminated or truncated): `step` needs a `reset` first."""
        return self._state.done

    @property
    def history(self) -> tuple[StepRecord, ...]:
        return tuple(self._state.history)

    @property
    def judge_state(self) -> Any:
        """The judge's per-episode state (read-only use: oracles and analysis)."""
        return self._state.judge_state

    # ------------------------------------------------------------------ gym API
    @property
    def np_random(self) -> np.random.Generator:
        rng = self._np_random
        if rng is None:
            return gym.Env.np_random.fget(self)  # type: ignore[attr-defined]
        if self._pending_seed is not None:
            rng.bit_generator.state = _pcg64_state(self._pending_seed)
            self._pending_seed = None
        return rng

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self._pending_seed = None
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        rng = self._np_random
        if type(seed) is int and seed >= 0 and rng is not None and type(rng.bit_generator) is np.random.PCG64:
            # The generator Gymnasium would build for this seed (PCG64 over SeedSequence(seed)), reseeded in place
            # (`np_random` keeps its identity) and only when something reads it: a reset whose task comes from
            # `options` never pays for deriving the state (~20-40 µs per new seed).
            self._pending_seed = seed
            self._np_random_seed = seed
            seed = None
        elif seed is not None:
            self._pending_seed = None  # Gymnasium's reset below builds a new generator for this seed
        super().reset(seed=seed)
        index = self._choose_task(options or {})
        task = self.suite.tasks[index]
        self._state = state = EpisodeState(task_index=index, judge_state=self.suite.judge.start(task))
        state.progress = self._gold_progress(task)
        prepared = self._prepared.get(index) or self._prepare(index)
        info: dict[str, Any] = {"task_id": task.task_id}
        if self.infos is _DEFAULT_INFOS:  # as in `step`: the state key alone, without a call for it
            info["state_key"] = self.suite.state_key(task, state.judge_state)
        else:
            self._add_optional_info(info)
        if self.render_mode == "human":
            self.render()
        return prepared.observation, info

    def step(self, action: Any) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        state = self._state
        if state.task_index < 0:
            raise gym.error.ResetNeeded("Call reset() before step()")
        if state.done:
            raise gym.error.ResetNeeded("The episode has ended; call reset() before step()")
        state.steps += 1
        task = self.suite.tasks[state.task_index]
        info: dict[str, Any] = {}
        terminated = False
        try:
            call: ToolCall | None = parse_action(action)
        except ActionError as exc:
            call, status, error = None, exc.status, exc.message
            credit = _NO_CREDIT
            response: Any = ""
        except RecursionError:
            call, status, error = None, Status.INPUT_ERROR, "Action is nested too deeply"
            credit = _NO_CREDIT
            response = ""
        except Exception as exc:  # noqa: BLE001 - any Python value is a valid input to step(): never a crash
            call, status, error = None, Status.INPUT_ERROR, f"Action could not be read ({type(exc).__name__})"
            credit = _NO_CREDIT
            response = ""
        else:
            if call.is_finish:
                status, error, response, credit = self._finish(task, call)
                terminated = status in (Status.FINAL_ANSWER, Status.GIVE_UP)
            else:
                status, error, response, credit = self._tool_call(task, call, info)
        truncated = not terminated and state.steps >= self.max_steps
        matched, total = state.progress
        phi = matched / total if total > 0 else 0.0
        if self._progress_hook is None:  # `_gold_progress` inline: it runs on every step
            matched = total = 0.0
        else:
            matched, total = self._progress_hook(task, state.judge_state)
            matched, total = float(matched), float(total)
        state.progress = progress = (matched, total)
        phi_after = matched / total if total > 0 else 0.0
        # Φ of the state an episode ends in is 0 (the step counter is part of the state, so truncation ends it too).
        done = terminated or truncated
        sc, con, solved = credit
        components = RewardComponents(sc, con, solved, phi, 0.0 if done else phi_after)
        reward = self.reward_config(components)
        observation = self._render_response(error, response)
        record = StepRecord(call, "" if call is not None else _raw_text(action), observation, status, reward,
                            components, info.get("gold_call"), matched, total)
        state.history.append(record)
        state.done = done
        info["status"] = int(status)
        info["reward_components"] = {"SC": sc, "Con": con, "IsSolved": solved}
        info["progress"] = phi_after
        if done:
            info["is_solved"] = solved if solved is not None else UNSOLVED
            info["gold_matched"], info["gold_total"] = progress
        if self.infos is _DEFAULT_INFOS:  # the default infos add the state key alone: no call for it
            info["state_key"] = self.suite.state_key(task, state.judge_state)
        else:
            self._add_optional_info(info)
        if self._step_info_hook is not None:
            info.update(self._step_info_hook(task, state.judge_state, record, terminated) or {})
        if self.render_mode == "human":
            self.render()
        return observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        lines = [f"[{_printable(self.task.task_id)}] {_printable(self.task.query)}"]
        for i, rec in enumerate(self._state.history, 1):
            act = rec.call.to_react().replace("\n", " | ") if rec.call else rec.raw[:200]
            lines.append(f"step {i} [{rec.status.name} r={rec.reward:.3f}] {_printable(act)}\n"
                         f"  -> {_printable(rec.observation[:300])}")
        text = "\n".join(lines)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> dict[str, Any]:
        """A copy of the episode state and RNG: `restore` returns the env to exactly this point."""
        return {"state": copy.deepcopy(self._state), "rng": copy.deepcopy(self.np_random.bit_generator.state)}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Return to a state taken by `snapshot` (the snapshot itself stays reusable)."""
        self._state = copy.deepcopy(snapshot["state"])
        self.np_random.bit_generator.state = copy.deepcopy(snapshot["rng"])

    # ------------------------------------------------------------------ oracle / state key
    def oracle_action(self) -> ToolCall | None:
        """The suite's gold policy's next call in the current state (None if the suite has no gold)."""
        return self.suite.oracle_action(self.task, self._state.judge_state)

    def state_key(self) -> str:
        """A stable hash of the task-relevant state (see `EnvInfos.state_key`)."""
        return self.suite.state_key(self.task, self._state.judge_state)

    # ------------------------------------------------------------------ internals
    def _choose_task(self, options: Mapping[str, Any]) -> int:
        if "task_id" in options:
            task_id = options["task_id"]
            if task_id not in self._task_index:
                raise ValueError(f"Unknown task_id {task_id!r} for suite {self.suite.name!r}")
            return self._task_index[task_id]
        if "task_index" in options:
            index = int(options["task_index"])
            if not 0 <= index < len(self.suite.tasks):
                raise ValueError(f"task_index must be in [0, {len(self.suite.tasks)}); got {index}")
            return index
        return int(self.np_random.integers(len(self.suite.tasks)))

    def _prepare(self, index: int) -> _Prepared:
        if index < 0:
            raise gym.error.ResetNeeded("Call reset() before using the env")
        prepared = self._prepared.get(index)
        if prepared is None:
            prepared = self._prepared[index] = self._check_prompt(_suite_prepared(self.suite, index))
        return prepared

    def _check_prompt(self, prepared: _Prepared) -> _Prepared:
        if len(prepared.observation) > self.observation_space.max_length:
            raise ValueError(
                f"Task {prepared.task_id!r}: prompt of {len(prepared.observation)} characters exceeds "
                f"max_prompt_length={self.observation_space.max_length}"
            )
        return prepared

    def _tool_call(self, task: Task, call: ToolCall, info: dict[str, Any]) -> tuple[Status, str, Any, _Credit]:
        index = self._state.task_index
        api = (self._prepared.get(index) or self._prepare(index)).apis.get(call.name)
        if api is None:
            return Status.NO_SUCH_FUNCTION, f"No such function name: {call.name}", "", _NO_CREDIT
        problem = api.validate(call.arguments, self.strict_arguments)
        if problem is not None:
            return Status.INPUT_ERROR, problem, "", _NO_CREDIT
        context = CallContext(self._state.steps, self._state.counters, self._state.judge_state)
        try:
            result = self.suite.backend.call(api, call.arguments, context)
        except Exception as exc:  # noqa: BLE001 - a backend that breaks is an API that does not work, not a crash
            info["backend_error"] = type(exc).__name__
            return (Status.API_NOT_WORKING, f"{call.name} failed ({type(exc).__name__})", "",
                    _NO_CREDIT)
        if result is None:  # a bare backend with no answer
            return Status.API_NOT_WORKING, f"{call.name} is not available", "", _NO_CREDIT
        verdict = self.suite.judge.judge_call(task, self._state.judge_state, call, result)
        info["backend"] = result.backend
        if verdict.gold_call is not None:
            info["gold_call"] = verdict.gold_call
        response = result.response if result.text is None else _Verbatim(result.text)
        return result.status, result.error, response, (float(verdict.sc), float(verdict.con), None)

    def _finish(self, task: Task, call: ToolCall) -> tuple[Status, str, Any, _Credit]:
        args = call.arguments
        return_type = args.get("return_type")
        final_answer = args.get("final_answer", "")
        if return_type not in ("give_answer", "give_up_and_restart"):
            msg = "Finish needs return_type 'give_answer' or 'give_up_and_restart'"
            return Status.INPUT_ERROR, msg, "", _NO_CREDIT
        if not isinstance(final_answer, str):
            return Status.INPUT_ERROR, "Finish's final_answer must be a string", "", _NO_CREDIT
        if return_type == "give_up_and_restart":
            return Status.GIVE_UP, "", "chose to give up and restart", (0.0, 0.0, UNSOLVED)
        solved = float(self.suite.judge.judge_finish(task, self._state.judge_state, call))
        turn_end = self._turn_end_hook
        next_turn = turn_end(task, self._state.judge_state) if turn_end is not None else None
        if next_turn is not None:  # the answer ended a turn, not the episode: an intermediate step
            message, con = next_turn
            return Status.OK, "", NextTurn(message), (1.0, con, None)
        return Status.FINAL_ANSWER, "", "successfully giving the final answer.", (0.0, 0.0, solved)

    def _gold_progress(self, task: Task) -> tuple[float, float]:
        if self._progress_hook is None:
            return 0.0, 0.0
        matched, total = self._progress_hook(task, self._state.judge_state)
        return float(matched), float(total)

    def _render_response(self, error: str, response: Any) -> str:
        """ToolBench's ``{"error", "response"}`` JSON, cut to `max_observation_length` (+ ``...``).

        A response that is not JSON-serialisable (an object, a NaN-free but huge integer, a cycle, deep
        nesting) is rendered as its bounded text instead; rendering never raises.
        """
        if isinstance(response, NextTurn):
            return f"User: {response.text}"
        if isinstance(response, _Verbatim):  # a recorded observation: exactly as recorded
            text = response.text
            limit = self.max_observation_length
            return text if len(text) <= limit else text[:limit] + "..."
        error = error if isinstance(error, str) else _safe_text(error)
        text = _dumps({"error": error, "response": response})
        if text is None:
            text = json.dumps({"error": error, "response": _safe_text(response)})
        limit = self.max_observation_length
        return text if len(text) <= limit else text[:limit] + "..."

    def _add_optional_info(self, info: dict[str, Any]) -> None:
        wanted = self.infos
        if wanted.state_key:  # on every step by default: skip the `task` property's reset check
            state = self._state
            info["state_key"] = self.suite.state_key(self.suite.tasks[state.task_index], state.judge_state)
        if wanted is _DEFAULT_INFOS or wanted == _DEFAULT_INFOS:
            return
        if wanted.messages:
            info["messages"] = self.messages
        if wanted.tools:
            info["tools"] = self.tools
        if wanted.task:
            t = self.task
            info["task"] = {"task_id": t.task_id, "query": t.query, "group": t.group, "split": t.split}
        if wanted.gold:
            info["gold"] = self.task.gold
        if wanted.admissible_calls:
            info["admissible_calls"] = self.admissible_calls()

    def admissible_calls(self, limit: int | None = None) -> list[ToolCall]:
        """Up to `limit` (default 16) candidate calls for discrete-action adapters, Finish last: the suite's own
        (`Suite.admissible_calls`), else `default_admissible_calls`."""
        fn = getattr(self.suite, "admissible_calls", None)
        if fn is None:
            return default_admissible_calls(self.tools, self._state.history, **({"limit": limit} if limit else {}))
        if limit is None or "limit" not in inspect.signature(fn).parameters:  # a hook without a size argument
            return list(fn(self.task, self._state.judge_state, self._state.history))
        return list(fn(self.task, self._state.judge_state, self._state.history, limit=limit))


_DEFAULT_INFOS = EnvInfos()
# Credits are plain tuples (`step` builds the step's one RewardComponents); this one for every call that earns nothing.
_NO_CREDIT: _Credit = (0.0, 0.0, None)


@functools.lru_cache(maxsize=4096)
def _pcg64_state(seed: int) -> dict[str, Any]:
    # Exactly the state of `gymnasium.utils.seeding.np_random(seed)`'s generator (bit_generator.state copies it in).
    return np.random.PCG64(np.random.SeedSequence(seed)).state


@dataclass(frozen=True, slots=True)
class _Verbatim:
    """An observation text recorded with the answer (`CallResult.text`): rendered as is, never re-encoded."""

    text: str


# `json.dumps(value)`'s text without its per-call set-up (a new C encoder per call): the same C encoder built
# once, with json.dumps's defaults. It keeps no cycle markers, so a cyclic value ends in RecursionError instead of
# ValueError: both are a failure `_dumps` reports as None.
_C_ENCODER = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_ENCODE = _C_ENCODER(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                     False, False, True) if _C_ENCODER is not None else None


def _dumps(value: Any) -> str | None:
    """JSON text of `value` exactly as `json.dumps(value)`, or None when it is not JSON-serialisable (never
    raises)."""
    try:
        return "".join(_ENCODE(value, 0)) if _ENCODE is not None else json.dumps(value)
    except Exception:  # noqa: BLE001 - TypeError, ValueError (int digit limit), RecursionError, a raising __str__
        return None


def _safe_text(value: Any, limit: int = _RAW_ACTION_KEEP) -> str:
    """A bounded text form of any value: `str`, else a description (huge ints are not converted)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4096:
        return f"<int of {value.bit_length()} bits>"
    try:
        return str(value)[:limit]
    except Exception:  # noqa: BLE001 - an object whose __str__ raises, a huge int inside a container
        return f"<{type(value).__name__} object>"


def _raw_text(action: Any) -> str:
    if isinstance(action, str):
        return action[:_RAW_ACTION_KEEP]
    try:
        return json.dumps(action, default=_safe_text)[:_RAW_ACTION_KEEP]
    except Exception:  # noqa: BLE001 - whatever the value, the record keeps a description of it
        return f"<{type(action).__name__} action>"


# Terminal control: CSI/OSC escape sequences, then any remaining C0/C1 control (newline and tab kept) and the
# bidirectional overrides that reorder what a terminal shows.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    """`text` without terminal escape sequences or control characters (what `render()` shows)."""
    return _CONTROL.sub("\ufffd", _ESCAPES.sub("", text))
