"""BFCL v4 multi-turn as a `Suite`: tasks, function catalog, simulator backend and BFCL's checker.

Data, function docs and the eight stateful API simulators come from the ``bfcl-eval`` package (installed with
``--no-deps``; the simulators need only the standard library and mpmath). Ground truth is a list of Python call
strings per turn, e.g. ``cd(folder='document')``: they are parsed with `ast` (literal arguments only) and run
by dispatching methods on simulator instances, never evaluated.

Scoring follows ``bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker``: after each turn whose ground
truth is non-empty, the model must have made a call in that turn, every simulator's public attributes must
equal those of a ground-truth replay (state check), and the turn's ground-truth execution results must all
appear among the model's results of all turns so far (unordered response check). The entry is solved when
every such turn passes. BFCL's own `state_checker` and `response_checker` do the comparisons.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import decimal
import functools
import glob
import hashlib
import importlib
import inspect
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

try:
    import orjson
except ImportError:  # part of the 'bfcl' extra: `_bfcl` names it when an env is made
    orjson = None

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.backends import CallContext, CallResult
from steptool_gym.catalog import API, Catalog, FunctionAPI
from steptool_gym.errors import DataError, MissingExtraError, read_text
from steptool_gym.status import Status
from steptool_gym.suite import Task, Verdict

__all__ = [
    "CATEGORIES",
    "BFCLBackend",
    "BFCLEpisode",
    "BFCLGold",
    "BFCLJudge",
    "BFCLSuite",
    "READ_ONLY",
    "GoldCall",
    "bfcl_result_text",
    "bounds_problem",
    "load_bfcl",
    "parse_call",
    "run_simulator",
]

CATEGORIES = ("base", "miss_func", "miss_param", "long_context")
ENV_ID = "StepTool-BFCL-MultiTurn-v0"
# The eight simulators of the multi-turn categories (BFCL also ships web-search/memory ones, which need network
# access or heavy dependencies and are not used by these categories).
CLASSES = ("GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI", "TradingBot", "TravelAPI",
           "VehicleControlAPI")
# Methods that leave their simulator's public state and the file system's current directory as they were, so a
# call to one keeps the simulator's cached `state_key` digest. Read from bfcl-eval's source (they write only to
# locals and shallow copies) and checked by tests/test_speed.py on real states; methods that touch private state
# (``_random``, ``_flight_cost_lookup``) are left out.
READ_ONLY: Mapping[str, frozenset[str]] = {
    "GorillaFileSystem": frozenset({"cat", "diff", "du", "find", "grep", "ls", "pwd", "sort", "tail", "wc"}),
    "MathAPI": frozenset({"absolute_value", "add", "divide", "imperial_si_conversion", "logarithm", "max_value",
                          "mean", "min_value", "multiply", "percentage", "power", "round_number",
                          "si_unit_conversion", "square_root", "standard_deviation", "subtract", "sum_values"}),
    "MessageAPI": frozenset({"get_message_stats", "get_user_id", "list_users", "message_get_login_status",
                             "search_messages", "view_messages_sent"}),
    "TwitterAPI": frozenset({"get_tweet", "get_tweet_comments", "get_user_stats", "get_user_tweets",
                             "list_all_following", "posting_get_login_status", "search_tweets"}),
    "TicketAPI": frozenset({"get_ticket", "get_user_tickets", "ticket_get_login_status"}),
    "TradingBot": frozenset({"filter_stocks_by_price", "get_account_info", "get_available_stocks",
                             "get_current_time", "get_order_details", "get_order_history", "get_stock_info",
                             "get_symbol_by_name", "get_transaction_history", "get_watchlist", "notify_price_change",
                             "trading_get_login_status"}),
    "TravelAPI": frozenset({"compute_exchange_rate", "contact_customer_support", "get_all_credit_cards",
                            "get_booking_history", "get_budget_fiscal_year", "get_credit_card_balance",
                            "get_nearest_airport_by_city", "list_all_airports", "retrieve_invoice",
                            "travel_get_login_status", "verify_traveler_information"}),
    "VehicleControlAPI": frozenset({"check_tire_pressure", "displayCarStatus", "display_log", "estimate_distance",
                                    "estimate_drive_feasibility_by_mileage", "find_nearest_tire_shop",
                                    "gallon_to_liter", "get_outside_temperature_from_weather_com",
                                    "get_zipcode_based_on_city", "liter_to_gallon"}),
}
_CALL_CHARS_MAX = 20_000  # a ground-truth call string longer than this is malformed data
_TYPE_MAP = {"dict": "object", "float": "number", "tuple": "array", "any": None}


@functools.cache
def _bfcl() -> Any:
    """The ``bfcl_eval`` package (or a `MissingExtraError` naming what to install)."""
    if orjson is None:
        raise MissingExtraError(ENV_ID, "bfcl", "orjson")
    try:
        return importlib.import_module("bfcl_eval")
    except ImportError:
        # bfcl-eval's declared dependencies are heavy (model SDKs, torch); the simulators need none of them.
        raise MissingExtraError(ENV_ID, "bfcl",
                                "bfcl-eval [pip install --no-deps bfcl-eval]") from None


def _data_dir() -> Path:
    return Path(_bfcl().__file__).parent / "data"


def _latest(pattern: str) -> Path:
    """The newest BFCL version of a data file (``BFCL_v4_…`` today; later releases bump the number)."""
    paths = sorted(glob.glob(str(_data_dir() / pattern)))
    if not paths:
        raise DataError(f"{_data_dir() / pattern}: no such BFCL data file in the installed bfcl-eval")
    return Path(paths[-1])


def _read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """BFCL's JSON-lines file: one object per non-blank line, each with the `required` keys."""
    rows = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path} line {n}: not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {n}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in required if k not in row]
        if missing:
            raise DataError(f"{path} line {n}: lacks {', '.join(missing)}")
        rows.append(row)
    return rows


# ------------------------------------------------------------------ call strings
def parse_call(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """Parse one ground-truth call string ``name(arg, key=value)`` with literal arguments only."""
    if len(text) > _CALL_CHARS_MAX:
        raise DataError(f"BFCL call string of {len(text)} characters exceeds {_CALL_CHARS_MAX}")
    try:
        node = ast.parse(text.strip(), mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise ValueError("not a plain function call")
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise ValueError("**kwargs are not supported")
    except (SyntaxError, ValueError, TypeError, RecursionError) as exc:
        raise DataError(f"BFCL call {text[:200]!r}: {exc}") from None
    return node.func.id, args, kwargs


_MAX_DEPTH = 128  # deeper simulator state is summarised (a step must never hit Python's recursion limit)
_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def _canonical(value: Any, _path: set[int] | None = None, _depth: int = 0) -> Any:
    """JSON-able canonical form of simulator state: sorted mappings, objects as their public attributes.

    Calls can make the state self-referencing (``cp`` of the current directory onto itself puts the directory
    inside its own ``contents``): a container already on the path from the root becomes ``"<cycle>"``, and one
    nested deeper than ``_MAX_DEPTH`` becomes ``"<deep>"``, so any object graph canonicalises without
    recursing past ``_MAX_DEPTH`` levels."""
    # Exact-type fast paths (`state_key` re-dumps a called simulator every step): the same values as the general
    # branches, without their ABC `isinstance` checks.
    kind = type(value)
    if kind in _SCALARS or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    if not isinstance(value, Mapping | list | tuple) and not hasattr(value, "__dict__"):
        return repr(value)
    path = set() if _path is None else _path
    key = id(value)
    if key in path:
        return "<cycle>"
    if _depth >= _MAX_DEPTH:
        return "<deep>"
    path.add(key)
    depth = _depth + 1
    scalars = _SCALARS
    try:
        # `issuperset(map(type, ...))` checks every key or value's exact type in C, without a Python loop.
        if kind is dict and _STR.issuperset(map(type, value)):
            if scalars.issuperset(map(type, value.values())):
                return dict(sorted(value.items()))
            return {k: v if type(v := value[k]) in scalars else _canonical(v, path, depth) for k in sorted(value)}
        if isinstance(value, Mapping):
            return {str(k): _canonical(v, path, depth) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if kind is list:
            if scalars.issuperset(map(type, value)):
                return list(value)
            return [v if type(v) in scalars else _canonical(v, path, depth) for v in value]
        if isinstance(value, list | tuple):
            return [_canonical(v, path, depth) for v in value]
        # `parent` is GorillaFileSystem's back-pointer up the directory tree; following it would loop.
        return {k: v if type(v) in scalars else _canonical(v, path, depth) for k, v in sorted(vars(value).items())
                if not k.startswith("_") and k != "parent"}
    finally:
        path.discard(key)


def bfcl_result_text(value: Any) -> str:
    """A call's result as BFCL's executor records it (``execute_multi_turn_func_call``); never raises (an
    integer too long for `str`, BFCL's own limit of 4,300 digits, is described instead)."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            pass
    try:
        return str(value)
    except ValueError:
        return f"<{type(value).__name__} too large to print>"


# ------------------------------------------------------------------ simulator bounds
# BFCL's MathAPI computes exactly what it is asked: `power(10, 10**9)`, `logarithm(precision=10**7)` or
# `round_number(5, -10**9)` run for minutes or exhaust memory inside one C call, which no timeout can stop.
# These caps are checked before dispatch; every real BFCL task is far inside them.
MAX_PRECISION = 1_000  # digits for logarithm/square_root
MAX_DECIMAL_PLACES = 1_000  # |decimal_places| for round_number
MAX_RESULT_DIGITS = 4_000  # decimal digits of an exact integer power (below Python's int→str limit)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def bounds_problem(name: str, arguments: Mapping[str, Any]) -> str | None:
    """Why a simulator call would run unbounded (an error message), or None when it is within the caps."""
    if name in ("logarithm", "square_root"):
        precision = arguments.get("precision")
        if _number(precision) and not -MAX_PRECISION <= precision <= MAX_PRECISION:
            return f"precision must be at most {MAX_PRECISION}"
    elif name == "round_number":
        places = arguments.get("decimal_places")
        if _number(places) and not -MAX_DECIMAL_PLACES <= places <= MAX_DECIMAL_PLACES:
            return f"decimal_places must be within ±{MAX_DECIMAL_PLACES}"
    elif name == "power":
        base, exponent = arguments.get("base"), arguments.get("exponent")
        if _number(base) and _number(exponent) and abs(base) > 1 and exponent > 0:
            if isinstance(base, int) and isinstance(exponent, int):
                if exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
                    return f"the result would have more than {MAX_RESULT_DIGITS} digits"
            elif isinstance(exponent, int) and exponent > 1 << 53:
                return "exponent too large"
    return None


@contextlib.contextmanager
def _global_state_restored() -> Iterator[None]:
    """Run a simulator call without leaking its changes of process-wide state (decimal and mpmath precision)."""
    mpmath = sys.modules.get("mpmath")
    mp_prec = mpmath.mp.prec if mpmath is not None else None
    try:
        with decimal.localcontext():
            yield
    finally:
        mpmath = sys.modules.get("mpmath")
        if mpmath is not None:
            mpmath.mp.prec = mp_prec if mp_prec is not None else 53


@functools.cache
def _mutable_defaults(function: Callable[..., Any]) -> tuple[tuple[str, Any], ...]:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple((p.name, p.default) for p in params if isinstance(p.default, (list, dict, set)))


def with_fresh_defaults(method: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """`arguments` plus a fresh copy of each mutable default the call leaves out.

    Some simulator methods have list defaults (``TwitterAPI.post_tweet(tags=[], mentions=[])``) that a later call
    mutates in place; shared across every instance in the process, one episode would leak into the next.
    """
    out = dict(arguments)
    for name, default in _mutable_defaults(getattr(method, "__func__", method)):
        if name not in out:
            out[name] = copy.deepcopy(default)
    return out


def run_simulator(method: Callable[..., Any], arguments: Mapping[str, Any]) -> tuple[Any, str]:
    """Call a simulator method on a deep copy of `arguments` within the caps, restoring global state.

    Returns the value and BFCL's result text, rendered while the call's precision is still in force (as
    BFCL's executor renders it); a value that JSON cannot encode (``mpf``, ``Decimal``) is replaced by that text.
    """
    problem = bounds_problem(getattr(method, "__name__", ""), arguments)
    if problem is not None:
        raise ValueError(problem)
    with _global_state_restored():
        value = method(**with_fresh_defaults(method, copy.deepcopy(dict(arguments))))
        text = bfcl_result_text(value)
        if isinstance(value, dict) and not text.startswith('{"') and value:
            value = text
    return value, text


# ------------------------------------------------------------------ tasks and gold
@dataclass(frozen=True)
class GoldCall:
    """One ground-truth call: `arguments` by keyword, `key` the call with defaults applied (for matching)."""

    name: str
    arguments: Mapping[str, Any]
    key: str
    source: str


@dataclass(frozen=True)
class BFCLGold:
    """Ground truth of one entry: calls per turn, functions held out until a turn (miss_func), scenario."""

    turns: tuple[tuple[GoldCall, ...], ...]
    holdout: Mapping[int, tuple[str, ...]]
    initial_config: Mapping[str, Any]
    involved_classes: tuple[str, ...]
    long_context: bool


@dataclass(frozen=True)
class _TurnGold:
    """A ground-truth replay after one turn: simulator instances (never mutated) and BFCL result strings."""

    instances: Mapping[str, Any]
    results: tuple[str, ...]


@dataclass
class BFCLEpisode:
    """Per-episode judge state: the model's simulators, turn progress and the checks of ended turns."""

    instances: dict[str, Any]
    turn: int = 0
    turn_calls: int = 0
    results: list[str] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    # The digest of each simulator's canonical JSON, for `state_key`; dropped when a call reaches it.
    digests: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    matched_before: int = 0  # gold calls matched in ended turns (Φ of reward_mode="progress")
    # Simulators this episode may share with a deep copy of it (a snapshot): `own` copies one before a call
    # that may write to it, so snapshot/restore copy no simulator up front (copy on write).
    shared: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def solved(self) -> bool:
        return all(c["valid"] for c in self.checks)

    def __deepcopy__(self, memo: dict[int, Any]) -> BFCLEpisode:
        """A copy of everything but the simulators, which both sides share until one writes (`own`)."""
        self.shared = set(self.instances)
        copied = copy.copy(self)
        memo[id(self)] = copied
        for f in fields(self):
            if f.name != "instances":
                setattr(copied, f.name, copy.deepcopy(getattr(self, f.name), memo))
        copied.instances = dict(self.instances)
        return copied

    def own(self, name: str) -> Any:
        """The simulator `name`, first copied if a copy of this episode may share it."""
        if name in self.shared:
            self.instances[name] = copy.deepcopy(self.instances[name])
            self.shared.discard(name)
        return self.instances[name]


# ------------------------------------------------------------------ backend and judge
class BFCLBackend:
    """Runs a validated call on the episode's simulator instance and logs BFCL's result string."""

    name = "bfcl"

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        episode = context.episode
        if not isinstance(episode, BFCLEpisode):
            return None
        episode.turn_calls += 1
        name = api.tool_name  # a task offers only its involved classes' functions
        if api.api_name in READ_ONLY[name]:
            instance = episode.instances[name]
        else:  # this simulator may change now (even if the call fails)
            instance = episode.own(name)
            episode.digests.pop(name, None)
        try:
            # Simulators keep references to argument lists (e.g. a tweet's tags); a copy keeps the caller's
            # objects out of the world, as BFCL's eval of a call string does.
            value, text = run_simulator(getattr(instance, api.api_name), arguments)
        except Exception as exc:  # noqa: BLE001 - a failing simulator call is an observation, as in BFCL
            message = f"Error during execution: {bfcl_result_text(exc)}"
            episode.results.append(message)
            return CallResult(message[:1000], "", Status.REQUEST_ERROR, self.name)
        episode.results.append(text)
        if isinstance(value, dict) and "error" in value:
            return CallResult(bfcl_result_text(value["error"]), "", Status.MESSAGE_ERROR, self.name)
        return CallResult("", value, Status.OK, self.name)


class BFCLJudge:
    """SC from execution, Con from the current turn's ground truth, turn checks as BFCL's checker."""

    def __init__(self, suite: BFCLSuite) -> None:
        self.suite = suite

    def start(self, task: Task) -> BFCLEpisode:
        gold: BFCLGold = task.gold
        episode = BFCLEpisode(self.suite.fresh_instances(gold), digests=dict(self.suite.initial_digests(task)))
        self._enter_turn(task, episode)
        return episode

    def judge_call(self, task: Task, state: BFCLEpisode, call: ToolCall, result: CallResult) -> Verdict:
        key = self.suite.call_key(call.name, call.arguments)
        turn = task.gold.turns[state.turn]
        hits = [i for i, g in enumerate(turn) if g.key == key]
        fresh = next((i for i in hits if not state.matched[i]), None)
        if fresh is not None:
            state.matched[fresh] = True
        return Verdict(1.0 if result.ok else 0.0, 5.0 if fresh is not None else 0.0, bool(hits))

    def judge_finish(self, task: Task, state: BFCLEpisode, call: ToolCall) -> float:
        """End the current turn (checking it as BFCL does); the verdict is final after the last turn."""
        if not state.finished:
            state.checks.append(self._check_turn(task, state))
            state.matched_before += sum(state.matched)
            state.turn += 1
            state.finished = state.turn >= len(task.gold.turns)
            if not state.finished:
                self._enter_turn(task, state)
        return 1.0 if state.solved else 0.0

    def progress(self, task: Task, state: BFCLEpisode) -> tuple[int, int]:
        """Gold calls matched so far over every turn, and gold calls in all (`Judge`'s optional hook)."""
        current = 0 if state.finished else sum(state.matched)
        return state.matched_before + current, sum(len(turn) for turn in task.gold.turns)

    def _enter_turn(self, task: Task, state: BFCLEpisode) -> None:
        gold: BFCLGold = task.gold
        state.turn_calls = 0
        state.matched = [False] * len(gold.turns[state.turn])

    def _check_turn(self, task: Task, state: BFCLEpisode) -> dict[str, Any]:
        turn = state.turn
        if not task.gold.turns[turn]:  # BFCL skips turns whose expected outcome is "no call"
            return {"turn": turn, "valid": True, "checked": False}
        if state.turn_calls == 0:
            return {"turn": turn, "valid": False, "error_type": "multi_turn:empty_turn_model_response",
                    "error_message": f"Model response list is empty for turn {turn}"}
        checker = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
        gold_turn = self.suite.gold_trace(task)[turn]
        for outcome in (checker.state_checker(state.instances, dict(gold_turn.instances)),
                        checker.response_checker(state.results, list(gold_turn.results), turn)):
            if not outcome["valid"]:
                return {"turn": turn, "valid": False, "error_type": outcome["error_type"],
                        "error_message": outcome["error_message"]}
        return {"turn": turn, "valid": True, "checked": True}


# ------------------------------------------------------------------ suite
class BFCLSuite:
    """One BFCL multi-turn category: 200 entries over the eight simulators (see the module docstring)."""

    def __init__(self, category: str = "base") -> None:
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}; got {category!r}")
        self.category = category
        self.name = f"bfcl-multi-turn-{category}"
        bfcl = _bfcl()
        config = importlib.import_module(f"{bfcl.__name__}.constants.executable_backend_config")
        prompts = importlib.import_module(f"{bfcl.__name__}.constants.default_prompts")
        self.holdout_prompt: str = prompts.DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC
        self.classes: dict[str, type] = {
            name: getattr(importlib.import_module(config.CLASS_FILE_PATH_MAPPING[name]), name) for name in CLASSES
        }
        self.stateless = frozenset(config.STATELESS_CLASSES)
        self.functions: dict[str, list[str]] = {}
        apis: list[API] = []
        descriptions: dict[str, str] = {}
        for cls in CLASSES:
            docs = _read_jsonl(_data_dir() / "multi_turn_func_doc" / config.MULTI_TURN_FUNC_DOC_FILE_MAPPING[cls],
                               ("name",))
            self.functions[cls] = [d["name"] for d in docs]
            descriptions[cls] = docs[0]["description"].split(" Tool description:")[0] if docs else cls
            # Untyped: BFCL runs calls without checking value types (its own ground truth passes a ticket id
            # as text where the doc says integer); unknown and missing parameters are still rejected.
            apis += [FunctionAPI("BFCL", cls, d["name"], schema=_openai_schema(d), typed=False) for d in docs]
        self.catalog = Catalog(apis, descriptions)
        self._owner = {name: cls for cls, names in self.functions.items() for name in names}
        self._signatures = {name: inspect.signature(getattr(self.classes[cls], name))
                            for name, cls in self._owner.items()}
        self.tasks = self._load_tasks()
        self.backend = BFCLBackend()
        self.judge = BFCLJudge(self)
        self._gold_traces: dict[str, tuple[_TurnGold, ...]] = {}
        self._initial_digests: dict[str, dict[str, bytes]] = {}

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return load_bfcl, (self.category,)

    # ------------------------------------------------------------------ engine hooks (see `steptool_gym.suite`)
    def extra_apis(self, task: Task) -> list[str]:
        """Held-out functions (miss_func) are absent from the prompt but dispatch once revealed."""
        return [n for names in task.gold.holdout.values() for n in names]

    def visible_tools(self, task: Task, state: BFCLEpisode) -> list[str]:
        """The held-out functions revealed up to the current turn."""
        return [n for t, names in task.gold.holdout.items() if t <= state.turn for n in names]

    def turn_end(self, task: Task, state: BFCLEpisode) -> tuple[str, float] | None:
        """A Finish before the last turn ends the turn: Con = 5 when BFCL's check of it passed; the next user
        message follows."""
        if state.finished:
            return None
        return task.metadata["turns"][state.turn], 5.0 if state.checks[-1]["valid"] else 0.0

    def step_info(self, task: Task, state: BFCLEpisode, record: Any, terminated: bool) -> dict[str, Any]:
        """``turn``; after a step that ended a turn, ``turn_check`` (and ``gold_call``: whether it passed)."""
        info: dict[str, Any] = {"turn": state.turn}
        call = record.call
        if call is not None and call.is_finish and record.status in (Status.OK, Status.FINAL_ANSWER):
            info["turn_check"] = dict(state.checks[-1])  # judge_finish checked the turn it ended
            if not terminated:
                info["gold_call"] = state.checks[-1]["valid"]
        return info

    # -------------------------------------------------------------- loading
    def _load_tasks(self) -> list[Task]:
        questions = _read_jsonl(_latest(f"BFCL_v*_multi_turn_{self.category}.json"),
                                ("id", "question", "involved_classes"))
        answers = {a["id"]: a for a in _read_jsonl(_latest(f"possible_answer/BFCL_v*_multi_turn_{self.category}.json"),
                                                   ("id", "ground_truth"))}
        tasks = []
        for entry in questions:
            where = f"BFCL entry {entry.get('id')!r}"
            if entry.get("id") not in answers:
                raise DataError(f"{where}: no ground truth in possible_answer/")
            classes = tuple(entry["involved_classes"])
            unknown = sorted(set(classes) - set(CLASSES))
            if unknown:
                raise DataError(f"{where}: unsupported simulator class(es) {unknown}")
            ground_truth = answers[entry["id"]]["ground_truth"]
            turns = tuple(tuple(self._gold_call(s, where) for s in turn) for turn in ground_truth)
            if len(turns) != len(entry["question"]):
                raise DataError(f"{where}: {len(entry['question'])} turns but {len(turns)} ground-truth turns")
            holdout = {int(t): tuple(names) for t, names in (entry.get("missed_function") or {}).items()}
            messages = tuple(self._turn_message(turn, holdout.get(i, ())) for i, turn in enumerate(entry["question"]))
            held = {n for names in holdout.values() for n in names}
            names = tuple(n for cls in classes for n in self.functions[cls] if n not in held)
            gold = BFCLGold(turns, holdout, entry.get("initial_config") or {}, classes,
                            self.category == "long_context")
            tasks.append(Task(entry["id"], messages[0], names, self.category, "test", gold,
                              {"turns": messages, "path": tuple(entry.get("path", ())),
                               "excluded_function": tuple(entry.get("excluded_function", ()))}))
        return tasks

    def _gold_call(self, text: str, where: str) -> GoldCall:
        name, args, kwargs = parse_call(text)
        if name not in self._signatures:
            raise DataError(f"{where}: ground truth calls unknown function {name!r}")
        try:
            bound = self._signatures[name].bind(None, *args, **kwargs)
        except TypeError as exc:
            raise DataError(f"{where}: ground truth {text!r} does not fit {name}: {exc}") from None
        arguments = {k: v for k, v in list(bound.arguments.items())[1:]}
        return GoldCall(name, arguments, self.call_key(name, arguments), text)

    def _turn_message(self, messages: Sequence[Mapping[str, Any]], holdout: Sequence[str]) -> str:
        if holdout:  # BFCL's prompt for a turn that reveals held-out functions (their docs, then a question)
            schemas = [self.catalog.schema(n) for n in holdout]
            return f"{json.dumps(schemas)}\n{self.holdout_prompt}"
        return "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")

    # -------------------------------------------------------------- simulators
    def fresh_instances(self, gold: BFCLGold) -> dict[str, Any]:
        """New simulator instances loaded with the entry's initial configuration, as BFCL builds them."""
        instances = {}
        for name in gold.involved_classes:
            instance = self.classes[name]()
            if name not in self.stateless:
                instance._load_scenario(copy.deepcopy(dict(gold.initial_config.get(name, {}))),
                                        long_context=gold.long_context)
            instances[name] = instance
        return instances

    def initial_digests(self, task: Task) -> Mapping[str, bytes]:
        """`state_key`'s digest of each simulator as `fresh_instances` builds it (once per task)."""
        digests = self._initial_digests.get(task.task_id)
        if digests is None:
            instances = self.fresh_instances(task.gold)
            digests = {name: _state_digest(inst) for name, inst in instances.items()}
            self._initial_digests[task.task_id] = digests
        return digests

    def call_key(self, name: str, arguments: Mapping[str, Any]) -> str:
        """A call with defaults applied, as canonical JSON; calls that do not fit the signature get a unique key."""
        signature = self._signatures.get(name)
        try:
            bound = signature.bind(None, **arguments) if signature else None
        except TypeError:
            bound = None
        if bound is None:
            return f"!{name}:{json.dumps(_canonical(dict(arguments)), sort_keys=True)}"
        bound.apply_defaults()
        values = dict(list(bound.arguments.items())[1:])
        return f"{name}:{json.dumps(_canonical(values), sort_keys=True, default=repr)}"

    def gold_trace(self, task: Task) -> tuple[_TurnGold, ...]:
        """The ground-truth replay of `task`, turn by turn (computed once per task and process)."""
        trace = self._gold_traces.get(task.task_id)
        if trace is None:
            gold: BFCLGold = task.gold
            instances = self.fresh_instances(gold)
            turns = []
            for calls in gold.turns:
                results = []
                for c in calls:
                    try:
                        method = getattr(instances[self._owner[c.name]], c.name)
                        results.append(run_simulator(method, c.arguments)[1])
                    except Exception as exc:  # noqa: BLE001 - recorded as BFCL records it
                        results.append(f"Error during execution: {exc}")
                turns.append(_TurnGold(copy.deepcopy(instances), tuple(results)))
            trace = self._gold_traces[task.task_id] = tuple(turns)
        return trace

    def floor_caller(self, task: Task) -> Callable[[str, Mapping[str, Any]], Any]:
        """Fresh simulators whose methods are called directly (no engine, judge, argument copy or state key):
        `steptool_gym.bench`'s floor. Failing calls return BFCL's error text, as its executor records it."""
        instances, owner = self.fresh_instances(task.gold), self._owner

        def call(name: str, arguments: Mapping[str, Any]) -> Any:
            try:
                method = getattr(instances[owner[name]], name)
                return bfcl_result_text(method(**with_fresh_defaults(method, arguments)))
            except Exception as exc:  # noqa: BLE001 - as BFCL's executor
                return f"Error during execution: {exc}"

        return call

    # -------------------------------------------------------------- oracle and state key
    def oracle_action(self, task: Task, state: BFCLEpisode) -> ToolCall | None:
        if state.finished:
            return None
        for done, call in zip(state.matched, task.gold.turns[state.turn], strict=True):
            if not done:
                return ToolCall(call.name, copy.deepcopy(dict(call.arguments)), f"ground truth: {call.source}")
        return ToolCall(FINISH, {"return_type": "give_answer", "final_answer": "Done."}, "the turn is complete")

    def state_key(self, task: Task, state: BFCLEpisode) -> str:
        """Hash of the task, turn progress, the simulators' public state and the file system's directory.

        The hashed bytes are orjson's ``[task, turn, matched, called, failed]`` followed by each simulator's
        digest in name order (`_state_digest`: 16 bytes of BLAKE2b over its public state and, for the file system,
        its current directory). Digests are cached in the episode until a call reaches that simulator, so a step
        re-dumps and re-hashes at most the one simulator it called, never the whole world."""
        digests = state.digests
        instances = state.instances
        parts = [orjson.dumps((task.task_id, state.turn, state.matched, state.turn_calls > 0, not state.solved))]
        for name in sorted(instances):
            digest = digests.get(name)
            if digest is None:
                digest = digests[name] = _state_digest(instances[name])
            parts.append(digest)
        return hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()


def _state_digest(instance: Any) -> bytes:
    """BLAKE2b (16 bytes) of a simulator's public state (`_state_bytes`) and, for the file system, its current
    directory, which is private state that later calls depend on (NUL never occurs in JSON text)."""
    digest = hashlib.blake2b(_state_bytes(instance), digest_size=16)
    if hasattr(instance, "_current_dir"):
        digest.update(b"\0" + _path(instance).encode("utf-8", "surrogatepass"))
    return digest.digest()


# orjson (Rust, no Python per value) sorts dicts with keys of mixed types, as TradingBot's ``orders`` (order ids
# and "order_type"), where json's encoder raises and the state took the slow `_canonical` path; its non-str keys
# become text as json's (and `_canonical`'s) do. Dataclasses and datetimes go through `_public`, as in json.
_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
                   | orjson.OPT_PASSTHROUGH_DATETIME) if orjson is not None else 0


def _state_bytes(instance: Any) -> bytes:
    """What a simulator's digest hashes: ``b"o"`` + orjson's sorted text of its public state, or ``b"j"`` +
    `_state_json` when orjson cannot encode it (an integer past 64 bits, a cycle, odd keys) or wrote a ``null``:
    orjson writes NaN and ±inf as null too, and json's text tells them apart. The tags keep the two forms apart."""
    try:
        data = orjson.dumps(instance, default=_public, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        data = b"null"
    if b"null" in data:
        return b"j" + _state_json(instance).encode()
    return b"o" + data


def _state_json(instance: Any) -> str:
    """A simulator's public state as json text: ``json.dumps(instance, sort_keys=True)`` with objects as their
    public attributes (`_public`), in json's C encoder. A state it cannot encode (a cycle, keys of mixed types
    that cannot be sorted, nesting past the recursion limit) is ``json.dumps(_canonical(instance))``."""
    try:
        return _STATE_JSON(instance)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_canonical(instance), default=repr)


def _public(value: Any) -> Any:
    """What `_state_bytes` encodes for a value json or orjson cannot: `_canonical`'s form, one level deep."""
    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if hasattr(value, "__dict__"):
        # `parent` is GorillaFileSystem's back-pointer up the directory tree (see `_canonical`).
        return {k: v for k, v in vars(value).items() if not k.startswith("_") and k != "parent"}
    return repr(value)


def _encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode` without its per-call set-up (a new C encoder each call): the same C encoder built once.
    It keeps no cycle markers, so a cycle ends in RecursionError instead of ValueError (`_state_json` catches
    both)."""
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:
        return encoder.encode
    encode = make(None, encoder.default, json.encoder.encode_basestring_ascii, None, encoder.key_separator,
                  encoder.item_separator, encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    return lambda value: "".join(encode(value, 0))


_STATE_JSON = _encoder(json.JSONEncoder(sort_keys=True, default=_public))


def _path(file_system: Any) -> str:
    """GorillaFileSystem's current directory as a path (it is private state that later calls depend on)."""
    parts, node, seen = [], file_system._current_dir, set()
    while node is not None and id(node) not in seen:  # `seen`: a parent chain that calls made loop ends
        seen.add(id(node))
        parts.append(node.name)
        node = node.parent
    return "/".join(reversed(parts))


def _openai_schema(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI schema: BFCL's Python type names become JSON-schema ones."""
    parameters = doc.get("parameters") or {"type": "dict", "properties": {}}
    return {"name": doc["name"], "description": doc.get("description", ""), "parameters": _json_schema(parameters)}


def _json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if k not in ("type", "properties", "items")}
    kind = _TYPE_MAP.get(node.get("type"), node.get("type"))
    if kind is not None:
        out["type"] = kind
    if isinstance(node.get("properties"), Mapping):
        out["properties"] = {k: _json_schema(v) for k, v in node["properties"].items()}
    if isinstance(node.get("items"), Mapping):
        out["items"] = _json_schema(node["items"])
    return out


@functools.cache
def load_bfcl(category: str = "base") -> BFCLSuite:
    """The suite of `category`, built once per process."""
    return BFCLSuite(category)
