"""`ToolBenchSuite`: the synthetic ToolBench task sets, their oracle, state keys and admissible calls."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from steptool_envs.toolbench.judge import ExactJudge, JudgeState
from steptool_envs.toolbench.registry import build_registry
from steptool_envs.toolbench.tasks import GROUPS, SPLITS, dig, fact_text, generate, signatures
from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.backends import CallContext, PythonBackend, ToolError
from steptool_gym.catalog import Catalog
from steptool_gym.status import Status
from steptool_gym.suite import Task

__all__ = ["GROUP_CHOICES", "SPLITS", "ToolBenchSuite", "load_suite"]

GROUP_CHOICES = ("all", *GROUPS)
MAX_ADMISSIBLE = 16
_PER_API = 6
_PER_PARAM = 3
# A scalar field in a rendered observation (works on truncated text, unlike json.loads).
_FIELD = re.compile(r'"([^"\\]+)": ("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false)')


class ToolBenchSuite:
    """One group × split of the synthetic ToolBench (build with `load_suite`, which caches)."""

    def __init__(self, group: str, split: str, world_seed: int, tasks: Sequence[Task]) -> None:
        registry = build_registry(world_seed)
        self.group, self.split, self.world_seed = group, split, world_seed
        self.name = f"toolbench-{group}-{split}"
        self.catalog: Catalog = registry.catalog
        self.tasks: tuple[Task, ...] = tuple(tasks)
        self.backend = _backend(world_seed)
        self.judge = _judge(world_seed)

    def __reduce__(self) -> tuple[Any, tuple[str, str, int]]:
        return load_suite, (self.group, self.split, self.world_seed)

    def __repr__(self) -> str:
        return f"ToolBenchSuite(group={self.group!r}, split={self.split!r}, tasks={len(self.tasks)})"

    def oracle_action(self, task: Task, state: JudgeState) -> ToolCall:
        """The next gold call whose dependencies are satisfied (retried after a flaky failure), then Finish."""
        gold = task.gold
        pending = gold.full_mask & ~state.satisfied
        if not pending:
            return gold.finish
        # Nodes are in dependency order, so the lowest pending node has all its dependencies satisfied.
        return gold.calls[(pending & -pending).bit_length() - 1]

    def state_key(self, task: Task, state: JudgeState) -> str:
        """Hash of the task id, the satisfied gold nodes and the attempted-but-unsatisfied ones (whose retry
        will now succeed): everything that decides what happens next."""
        return _state_key(task.task_id, state.satisfied, state.attempted & ~state.satisfied)

    def floor_caller(self, task: Task) -> Callable[[str, Mapping[str, Any]], Any]:
        """The tool functions called directly with a fresh episode counter (no engine, judge or state key):
        `steptool_gym.bench`'s floor. A flaky first attempt returns its error message."""
        functions, context = self.backend.functions, CallContext(0, {}, None)

        def call(name: str, arguments: Mapping[str, Any]) -> Any:
            try:
                return functions[name](arguments, context)
            except ToolError as exc:
                return exc.message

        return call

    def admissible_calls(self, task: Task, state: JudgeState, history: Sequence[Any],
                         limit: int = MAX_ADMISSIBLE) -> list[ToolCall]:
        """`limit` candidate calls in a seeded random order (a fair discrete action space), Finish last.

        Two thirds of the slots (at most) are the task's APIs filled with values from earlier responses and from the
        query, skipping calls that already succeeded; the rest are decoys, never gold calls: two in three the task's
        APIs with other real entities of the parameter's kind, the others other tools' APIs with this task's values.
        The order is shuffled by a generator seeded with the task id and the step, so it is reproducible but carries
        no hint. Finish answers what the query asks (`_read_answer`): solved only when the newest calls of the
        answering functions were the gold ones."""
        limit = max(int(limit), 2)
        rng = random.Random(f"{task.task_id}|{len(history)}")
        observed: dict[str, list[Any]] = {}
        done = set()
        for record in reversed(history):
            if record.call is None or record.status != Status.OK:
                continue
            done.add(_call_key(record.call.name, record.call.arguments))
            for key, value in _fields(record.observation):
                if value != "" and value not in observed.setdefault(key, []):
                    observed[key].append(value)
        query_values = task.metadata.get("query_values", ())
        calls: list[ToolCall] = []
        for name in task.api_names:
            api = self.catalog[name]
            options = []
            for param in api.required_parameters:
                numeric = param.json_type == "integer"
                values = list(observed.get(param.key, ()))
                values += [v for v in query_values if isinstance(v, int | float) == numeric and v not in values]
                options.append(values[:_PER_PARAM])
            keys = [p.key for p in api.required_parameters]
            for combo in itertools.islice(itertools.product(*options), _PER_API):
                call = ToolCall(name, dict(zip(keys, combo)))
                if _call_key(name, call.arguments) not in done:
                    calls.append(call)
        # Calls using the newest response's values first, so that a chain's next call survives the cut.
        newest = _newest_values(history)
        calls.sort(key=lambda c: not any(_hashable(v) in newest for v in c.arguments.values()))
        calls = calls[:max(1, limit - 1 - limit // 3)]
        calls += self._decoys(task, rng, observed, done, limit - 1 - len(calls))
        rng.shuffle(calls)
        finish = ToolCall(FINISH, {"return_type": "give_answer", "final_answer": _read_answer(task, history)})
        return calls[:limit - 1] + [finish]

    def _decoys(self, task: Task, rng: random.Random, observed: dict[str, list[Any]], done: set[Any],
                count: int) -> list[ToolCall]:
        """`count` plausible non-gold calls: the task's APIs with other tasks' entities, other tools' APIs."""
        if count <= 0:
            return []
        own = set(task.api_names)
        others = _other_apis(self, task.api_names)
        pool, entities = _value_pool(self), _entity_pool(self)
        gold = {_call_key(node.name, node.arguments) for node in task.gold.nodes}
        own_values = list(task.metadata.get("query_values", ())) + [v for vs in observed.values() for v in vs]
        out: list[ToolCall] = []
        for attempt in range(count * 4):
            if len(out) >= count:
                break
            other_tool = attempt % 3 == 2 and others  # two in three: the task's APIs, other entities
            name = rng.choice(others) if other_tool else rng.choice(task.api_names)
            api = self.catalog[name]
            arguments = {}
            for param in api.required_parameters:
                numeric = param.json_type == "integer"
                # Another real entity of the kind this parameter takes (it answers, wrongly), else any entity.
                fits = entities.get((name, param.key)) or pool[numeric]
                if other_tool:
                    fits = [v for v in own_values if isinstance(v, int | float) == numeric
                            and not isinstance(v, bool)] or fits
                arguments[param.key] = rng.choice(fits) if fits else ""
            call = ToolCall(name, arguments)
            key = _call_key(name, arguments)
            # A decoy is never a gold call (an id drawn from the pool may be this task's own, offered before its
            # lookup) nor the task's API about the query's entity.
            if key in done or key in gold or (name in own and any(v in task.metadata.get("query_values", ())
                                                                  for v in arguments.values())):
                continue
            done.add(key)
            out.append(call)
        return out


@functools.lru_cache(maxsize=1 << 16)
def _state_key(task_id: str, satisfied: int, pending_retry: int) -> str:
    # Every step reports a key and episodes revisit few states; the cache keeps the hash off the step path.
    return hashlib.blake2b(f"{task_id}|{satisfied}|{pending_retry}".encode(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=1 << 14)
def _fields(observation: str) -> tuple[tuple[str, Any], ...]:
    # Every later step re-reads the episode's earlier observations; parsing each one once keeps this O(steps).
    return tuple((key, json.loads(raw)) for key, raw in _FIELD.findall(observation))


def _call_key(name: str, arguments: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    # repr of the values is enough to tell calls apart here and far cheaper than canonical JSON.
    return name, tuple(sorted((k, repr(v)) for k, v in arguments.items()))


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


@functools.lru_cache(maxsize=64)
def _other_apis(suite: ToolBenchSuite, own: tuple[str, ...]) -> tuple[str, ...]:
    names = sorted({n for t in suite.tasks for n in t.api_names} - set(own))
    return tuple(names)


@functools.lru_cache(maxsize=16)
def _entity_pool(suite: ToolBenchSuite) -> dict[tuple[str, str], tuple[Any, ...]]:
    # The values each (function, parameter) takes in the suite's gold calls: entities that exist, so a decoy call
    # with one succeeds and answers about the wrong entity instead of failing on an unknown name.
    out: dict[tuple[str, str], dict[Any, None]] = {}
    for task in suite.tasks:
        for node in task.gold.nodes:
            for key, value in node.arguments.items():
                out.setdefault((node.name, key), {})[value] = None
    return {k: tuple(v) for k, v in out.items()}


@functools.lru_cache(maxsize=16)
def _value_pool(suite: ToolBenchSuite) -> dict[bool, tuple[Any, ...]]:
    # Entities of the suite's queries (a decoy call about another city, player, flight, ...), split once into
    # numbers and the rest: filtering thousands of values per decoy argument was the hottest line of an SB3 run.
    values = tuple(dict.fromkeys(v for t in suite.tasks for v in t.metadata.get("query_values", ())))
    return {kind: tuple(v for v in values if isinstance(v, int | float) == kind and not isinstance(v, bool))
            for kind in (False, True)}


def _read_answer(task: Task, history: Sequence[Any]) -> str:
    """The Finish candidate's answer: each sub-question's asked fields (``task.metadata["asks"]``: the answering
    function, the entity as the query names it, labels and response paths; no values) read from one of the newest
    k distinct successful calls of that function (k: its calls in the gold graph, lookups of other sub-questions
    included): the one whose response names the entity, else the newest one left. Reading any call naming the
    entity instead let the `exhaust` probe (call every candidate, then Finish) solve 22-28% of held-out G1.

    Why not a list of values seen: the newest response alone misses facts of multi-entity tasks and lists many
    non-asked fields (the oracle's calls then solved 35-45% of held-out G1 through it), and everything seen is a
    kitchen-sink answer. Reading the asked fields is what an agent that understood the question would write; it
    is right exactly when the calls that answer it were the right ones (another entity's response gives wrong
    values)."""
    observations: dict[str, list[str]] = {}
    seen = set()
    for record in reversed(history):
        call = record.call
        if call is None or call.is_finish or record.status != Status.OK:
            continue
        key = _call_key(call.name, call.arguments)
        if key not in seen:
            seen.add(key)
            observations.setdefault(call.name, []).append(record.observation)
    # Only a function's newest k distinct calls count, k = its calls in the gold graph (how many lookups the
    # question needs, not which): calling every candidate and then Finish reads whatever entities came last.
    wanted = Counter(node.name for node in task.gold.nodes)
    observations = {name: found[:wanted[name]] for name, found in observations.items()}
    asks = task.metadata.get("asks", ())
    picked: list[str | None] = [None] * len(asks)
    for named in (True, False):  # responses naming the entity first, so that a fallback never takes one of them
        for i, (name, mention, _) in enumerate(asks):
            pool = observations.get(name, [])
            if picked[i] is None and pool:
                match = next((o for o in pool if mention.lower() in o.lower()), None) if named else pool[0]
                if match is not None:
                    picked[i] = match
                    pool.remove(match)
    parts = []
    for observation, (_, _, fields) in zip(picked, asks, strict=True):
        for label, path in fields if observation is not None else ():
            value = _read(observation, path)
            if value is not None:
                parts.append(f"{label} is {fact_text(value)}")
    return "Here is what I found: " + "; ".join(parts) if parts else "I could not find the answer."


def _read(observation: str, path: str) -> Any:
    """The scalar at `path` in a rendered response; in a truncated one (not JSON), the first field of that name."""
    response = _response(observation)
    if response is not None:
        value = dig(response, path)
        return value if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    key = path.rsplit(".", 1)[-1]
    return next((value for k, value in _fields(observation) if k == key), None)


@functools.lru_cache(maxsize=1 << 12)
def _response(observation: str) -> Any:
    # Every step re-reads the episode's responses: parse each once (callers only read the result).
    try:
        return json.loads(observation).get("response")
    except (ValueError, AttributeError):
        return None


def _newest_values(history: Sequence[Any]) -> set[Any]:
    for record in reversed(history):
        if record.call is not None and record.status == Status.OK and not record.call.is_finish:
            return {_hashable(value) for _, value in _fields(record.observation)}
    return set()


@functools.lru_cache(maxsize=4)
def _backend(world_seed: int) -> PythonBackend:
    return PythonBackend(build_registry(world_seed).functions)


@functools.lru_cache(maxsize=4)
def _judge(world_seed: int) -> ExactJudge:
    registry = build_registry(world_seed)
    return ExactJudge({name: e.norm_defaults for name, e in registry.endpoints.items()})


@functools.lru_cache(maxsize=64)
def _group_tasks(split: str, group: str, world_seed: int) -> tuple[Task, ...]:
    registry = build_registry(world_seed)
    exclude = signatures(_group_tasks("train", group, world_seed)) if split == "test_instruction" else None
    return tuple(generate(registry, split, group, world_seed, exclude))


def load_suite(group: str = "all", split: str = "train", world_seed: int = 0) -> ToolBenchSuite:
    """The suite of `group` ("all", "G1", "G2", "G3") and `split` ("train", "test_instruction", "test_tool",
    "test_category"), built once per process and shared by every env."""
    if group not in GROUP_CHOICES:
        raise ValueError(f"group must be one of {', '.join(GROUP_CHOICES)}; got {group!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    # One cache key per suite however the arguments were spelled (positional, keyword, defaulted).
    return _cached_suite(group, split, int(world_seed))


@functools.lru_cache(maxsize=64)
def _cached_suite(group: str, split: str, world_seed: int) -> ToolBenchSuite:
    groups = GROUPS if group == "all" else (group,)
    tasks = [t for g in groups for t in _group_tasks(split, g, world_seed)]
    return ToolBenchSuite(group, split, world_seed, tasks)
