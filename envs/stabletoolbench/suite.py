"""The StableToolBench suite: 765 solvable queries, ToolBench's function schemas, a backend chain, judges.

Suites are built once per argument set by `load_suite` (cached) and pickle by reference to it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from steptool_envs.stabletoolbench.backends import BACKEND_NAMES, ResponseCache, build_chain
from steptool_envs.stabletoolbench.data import (
    ALL,
    GROUPS,
    MODELS,
    Record,
    StableToolBenchDataError,
    default_data_dir,
    load_queries,
    load_records,
    records_dir,
)
from steptool_envs.stabletoolbench.judges import (
    EpisodeLog,
    LLMJudge,
    RuleJudge,
    StableToolBenchGold,
    is_give_up_answer,
    succeeded,
)
from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.backends import ChainBackend, canonical_arguments
from steptool_gym.catalog import API, Catalog, function_name, standardize
from steptool_gym.suite import Task

__all__ = ["StableToolBenchSuite", "load_suite"]

TOOL_DESCRIPTION_MAX = 512


class StableToolBenchSuite:
    """Tasks, per-task catalogs, the backend chain and the judge (see `load_suite` for the arguments).

    ToolBench cuts function names to their last 64 characters, so a few names denote different APIs in
    different queries (and, in four queries, two APIs of the same query). `catalog` keeps the first entry per
    name (`catalog_conflicts` lists the names concerned); `task_catalog(task)` holds each query's own
    entries, which is what the env shows and calls. Within one query the first entry of a name wins.
    """

    name = "stabletoolbench"

    def __init__(self, args: tuple[Any, ...]) -> None:
        (data_dir, group, backends, cache_dirs, server_url, llm_url, llm_model, judge, judge_url, judge_model,
         judge_k, con_mode, use_records, tools_dir, timeout_s, retries, gold_only) = args
        self._args = args
        root = Path(data_dir) if data_dir else default_data_dir()
        if not (root / "solvable_queries" / "test_instruction").is_dir():
            raise StableToolBenchDataError(
                f"{root}: StableToolBench data folder not found or lacks solvable_queries/test_instruction/ "
                "(pass data_dir=... or set STEPTOOL_STB_DIR)")
        if group != ALL and group not in GROUPS:
            raise ValueError(f"group must be 'all' or one of {', '.join(GROUPS)}; got {group!r}")
        groups = GROUPS if group == ALL else (group,)
        descriptions = _tool_descriptions(Path(tools_dir)) if tools_dir else {}
        records = [r for m in MODELS for g in groups for r in load_records(records_dir(root), m, g)] \
            if use_records else []

        apis_by_entry: dict[str, API] = {}
        first: dict[str, API] = {}
        conflicts: set[str] = set()
        self._task_catalogs: dict[str, Catalog] = {}
        tasks: list[Task] = []
        queries = [(g, item) for g in groups for item in load_queries(root, g)]
        for g, item in queries:
            task_apis: dict[str, API] = {}
            for entry in item["api_list"]:
                key = json.dumps(entry, sort_keys=True, default=str)
                api = apis_by_entry.get(key)
                if api is None:
                    api = apis_by_entry[key] = API.from_dict(entry)
                task_apis.setdefault(api.name, api)
                if first.setdefault(api.name, api) is not api and first[api.name].to_dict() != api.to_dict():
                    conflicts.add(api.name)
            task_id = f"{g}/{item['query_id']}"
            self._task_catalogs[task_id] = Catalog(task_apis.values(), _prompt_descriptions(task_apis, descriptions))
            relevant = frozenset(function_name(str(p[1]), str(p[0])) for p in item.get("relevant APIs") or ()
                                 if isinstance(p, list | tuple) and len(p) == 2)
            tasks.append(Task(task_id, str(item["query"]), tuple(task_apis), g, "test",
                              StableToolBenchGold(relevant),
                              {"query_id": str(item["query_id"]), "relevant_apis": item.get("relevant APIs") or []}))
        self.catalog = Catalog(first.values(), _prompt_descriptions(first, descriptions))
        self.catalog_conflicts = tuple(sorted(conflicts))

        self.cache = ResponseCache(cache_dirs)
        tasks = self._attach_gold(tasks, records)
        self.tasks = [t for t in tasks if t.gold.has_trajectory] if gold_only else tasks
        self.backend: ChainBackend = build_chain(
            backends, cache=self.cache, server_url=server_url, llm_url=llm_url, llm_model=llm_model,
            timeout_s=timeout_s, retries=retries, tool_descriptions=descriptions)
        rule = RuleJudge(con_mode)
        if judge == "rule":
            self.judge: RuleJudge | LLMJudge = rule
        elif judge == "llm":
            url = judge_url or llm_url
            if not url:
                raise ValueError("judge='llm' needs judge_url (or llm_url): an OpenAI-compatible endpoint")
            self.judge = LLMJudge(url, judge_model, k=judge_k, timeout_s=timeout_s, retries=retries, fallback=rule)
        else:
            raise ValueError(f"judge must be 'rule' or 'llm'; got {judge!r}")

    # ------------------------------------------------------------------ loading helpers
    def _attach_gold(self, tasks: list[Task], records: Sequence[Record]) -> list[Task]:
        """Fill the cache (gold runs first, so a replayed gold call meets its own answer) and gold trajectories."""
        by_id = {t.task_id: t for t in tasks}
        best: dict[str, tuple[tuple[int, int, int], Record]] = {}
        for rec in records:
            task = by_id.get(f"{rec.group}/{rec.query_id}")
            if task is None or rec.majority != "Solved" or rec.return_type != "give_answer" or not rec.final_answer:
                continue
            rank = (is_give_up_answer(rec.final_answer), -rec.verdicts.count("Solved"), MODELS.index(rec.model))
            if task.task_id not in best or rank < best[task.task_id][0]:
                best[task.task_id] = (rank, rec)
        gold_records = [rec for _, rec in best.values()]
        gold_ids = {id(rec) for rec in gold_records}
        for rec in gold_records + [r for r in records if id(r) not in gold_ids]:
            for step in rec.tool_steps:
                if step.arguments is not None and (step.error or step.response not in ("", None)):
                    self.cache.add(step.name, step.arguments, step.error, step.response, step.text)
        out = []
        for task in tasks:
            chosen = best.get(task.task_id)
            if chosen is None:
                out.append(task)
                continue
            rec = chosen[1]
            catalog = self._task_catalogs[task.task_id]
            calls = tuple((s.name, s.arguments) for s in rec.tool_steps
                          if s.arguments is not None and s.name in catalog and succeeded(s.error, s.response)
                          and catalog[s.name].validate(s.arguments, strict=False) is None)
            gold = StableToolBenchGold(task.gold.relevant, calls, rec.final_answer, rec.model)
            out.append(Task(task.task_id, task.query, task.api_names, task.group, task.split, gold, task.metadata))
        return out

    # ------------------------------------------------------------------ Suite protocol
    def task_catalog(self, task: Task) -> Catalog:
        """The catalog of `task`'s own api_list (see the class docstring)."""
        return self._task_catalogs[task.task_id]

    def floor_caller(self, task: Task) -> Callable[[str, Mapping[str, Any]], Any]:
        """The response cache looked up directly (no engine, judge or state key): `steptool_gym.bench`'s floor."""
        catalog, cache = self._task_catalogs[task.task_id], self.cache
        return lambda name, arguments: cache.call(catalog[name], arguments, None)

    def oracle_action(self, task: Task, state: EpisodeLog) -> ToolCall | None:
        """Replay the gold run's successful calls, then Finish with its answer; give up on tasks without one."""
        gold: StableToolBenchGold = task.gold
        if not gold.has_trajectory:
            return ToolCall(FINISH, {"return_type": "give_up_and_restart"}, "No solved reference run for this query.")
        made = Counter(state.successful)
        for name, arguments in gold.calls:
            key = (name, canonical_arguments(arguments))
            if made[key]:
                made[key] -= 1
                continue
            return ToolCall(name, dict(arguments), f"Replaying the reference run ({gold.source}).")
        return ToolCall(FINISH, {"return_type": "give_answer", "final_answer": gold.answer}, "Reference answer.")

    def state_key(self, task: Task, state: EpisodeLog) -> str:
        """Hash of the task id and the multiset of successful (name, canonical arguments) calls.

        Sorted because nothing downstream depends on call order (the rule judge scores each call on its own
        response, the oracle counts calls), so the same calls in another order reach the same state."""
        return _state_key(task.task_id, tuple(sorted(state.successful)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_load, (self._args,))


@functools.lru_cache(maxsize=1 << 16)
def _state_key(task_id: str, calls: tuple[tuple[str, str], ...]) -> str:
    # Every step reports a key and episodes revisit few states: the cache keeps JSON + hash off the step path.
    text = json.dumps([task_id, calls], separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()


def _tool_descriptions(tools_dir: Path) -> dict[str, str]:
    """ToolBench's ``toolenv/tools/<category>/<tool>.json`` descriptions, keyed by standardised tool name."""
    if not tools_dir.is_dir():
        raise StableToolBenchDataError(f"{tools_dir}: tools_dir is not a folder")
    out: dict[str, str] = {}
    for path in sorted(tools_dir.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise StableToolBenchDataError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and "tool_name" in data:
            out.setdefault(standardize(str(data["tool_name"])), str(data.get("tool_description") or ""))
    return out


def _prompt_descriptions(apis: dict[str, API], descriptions: dict[str, str]) -> dict[str, str]:
    """Tool descriptions as ToolBench prints them: first 512 characters, newlines removed, "None" if empty."""
    out = {}
    for api in apis.values():
        text = descriptions.get(standardize(api.tool_name), "")[:TOOL_DESCRIPTION_MAX].replace("\n", "").strip()
        out[api.tool_name] = text or "None"
    return out


@functools.cache
def _load(args: tuple[Any, ...]) -> StableToolBenchSuite:
    return StableToolBenchSuite(args)


def load_suite(*, data_dir: str | Path | None = None, group: str = ALL,
               backends: Sequence[str] = ("cache", "server", "llm", "template"),
               cache_dirs: Sequence[str | Path] = (), server_url: str | None = None, llm_url: str | None = None,
               llm_model: str = "gpt-4o-mini", judge: str = "rule", judge_url: str | None = None,
               judge_model: str = "gpt-4-turbo-2024-04-09", judge_k: int = 1, con_mode: str = "binary",
               use_records: bool = True, tools_dir: str | Path | None = None, timeout_s: float = 30.0,
               retries: int = 2, gold_only: bool = False) -> StableToolBenchSuite:
    """Build (or fetch from the cache) the suite for these arguments; see `StableToolBenchEnv` for each."""
    if isinstance(backends, str):
        backends = (backends,)
    unknown = [b for b in backends if b not in BACKEND_NAMES]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown}; choose from {', '.join(BACKEND_NAMES)}")
    root = str(Path(data_dir).expanduser().resolve()) if data_dir else str(default_data_dir())
    args = (root, group, tuple(backends), tuple(str(d) for d in cache_dirs), server_url, llm_url, llm_model, judge,
            judge_url, judge_model, int(judge_k), con_mode, bool(use_records),
            str(tools_dir) if tools_dir else None, float(timeout_s), int(retries), bool(gold_only))
    return _load(args)



