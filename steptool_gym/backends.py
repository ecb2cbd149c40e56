"""Tool backends: what answers a validated call.

Every backend implements one method, ``call(api, arguments, context) -> CallResult``. A result carries
ToolBench's ``error``/``response`` pair, a `Status` and the backend's name (reported in ``info["backend"]``).

* `PythonBackend` runs in-process Python functions (the synthetic suites). Functions signal API-level
  failures by raising `ToolError`; any other exception becomes ``REQUEST_ERROR``; an optional per-call timeout
  runs the function in a worker thread and reports ``TIMEOUT``.
* `TemplateSimulator` fills ToolBench's ``template_response`` skeletons deterministically from a hash of the
  function name and canonical arguments, the last-resort backend of StableToolBench-style chains.
* `ChainBackend` asks backends in order and returns the first answer that is not a miss.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from steptool_gym.catalog import API
from steptool_gym.status import Status

__all__ = [
    "Backend",
    "CallContext",
    "CallResult",
    "ChainBackend",
    "PythonBackend",
    "TemplateSimulator",
    "ToolError",
    "canonical_arguments",
]


@dataclass(slots=True)
class CallResult:
    """ToolBench's ``{"error": ..., "response": ...}`` plus the status code and the answering backend.

    Not frozen: one is built per tool call, and a frozen dataclass's ``__init__`` pays ``object.__setattr__`` per
    field; nothing changes a result after its backend returns it.

    `text`, when set, is the exact observation text a recording holds for this answer (StableToolBench
    replays): the env shows it verbatim (cut to its observation length) instead of re-encoding `response`.
    """

    error: str
    response: Any
    status: Status = Status.OK
    backend: str = ""
    text: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK and not self.error


@dataclass(slots=True)
class CallContext:
    """Per-episode facts a backend may use: the call's index, per-episode counters and the judge state.

    `counters` is part of the episode state (snapshotted with the env), so flaky behaviour such as "fails on
    the first attempt" replays identically after a restore. `episode` is the judge's per-episode state: a
    stateful simulator (BFCL's API classes, τ²-bench's database) keeps its world there, never in the shared
    suite, so snapshots copy it and two envs never share it.
    """

    step: int = 0
    counters: dict[str, int] | None = None
    episode: Any = None

    def bump(self, key: str) -> int:
        """Increment and return the per-episode counter `key` (1 on first use)."""
        if self.counters is None:
            self.counters = {}
        n = self.counters.get(key, 0) + 1
        self.counters[key] = n
        return n


class Backend(Protocol):
    """Anything that can answer a validated call."""

    name: str

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        """Answer the call, or return None when this backend has no answer (a cache miss)."""
        ...


class ToolError(Exception):
    """Raised by a tool function for an API-level failure with a ToolBench status."""

    def __init__(self, message: str, status: Status = Status.MESSAGE_ERROR, response: Any = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.response = response


ToolFunction = Callable[[Mapping[str, Any], CallContext], Any]


class PythonBackend:
    """Calls in-process Python functions registered by function name."""

    name = "python"

    def __init__(self, functions: Mapping[str, ToolFunction], timeout_s: float | None = None) -> None:
        self.functions = dict(functions)
        self.timeout_s = timeout_s
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        fn = self.functions.get(api.name)
        if fn is None:
            return None
        try:
            if self.timeout_s is None:
                response = fn(arguments, context)
            else:
                response = self._run_with_timeout(fn, arguments, context)
        except ToolError as exc:
            return CallResult(exc.message, exc.response, exc.status, self.name)
        except concurrent.futures.TimeoutError:
            return CallResult(f"Timeout: {api.name} took longer than {self.timeout_s}s", "", Status.TIMEOUT, self.name)
        except Exception as exc:  # noqa: BLE001 - a broken tool is an observation, never a crash
            return CallResult(f"{type(exc).__name__}: {exc}"[:500], "", Status.REQUEST_ERROR, self.name)
        return CallResult("", response, Status.OK, self.name)

    def _run_with_timeout(self, fn: ToolFunction, arguments: Mapping[str, Any], context: CallContext) -> Any:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="steptool-tool")
        future = self._pool.submit(fn, arguments, context)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            # The hung worker cannot be killed; replace the pool so the next call is not queued behind it.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    def __getstate__(self) -> dict[str, Any]:
        return {"functions": self.functions, "timeout_s": self.timeout_s, "_pool": None}


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as canonical JSON (sorted keys, no spaces): the key of caches and simulators."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class TemplateSimulator:
    """Deterministic stand-in answers built from an API's ``template_response`` skeleton.

    ``"str"``/``"int"``/``"float"``/``"bool"`` leaves become values drawn from a generator seeded by a hash of
    the function name and canonical arguments; lists repeat their element ``_list_length`` times (capped at
    `max_list`); ``"list of str with length N"`` becomes N strings. The same call always gets the same answer.
    """

    name = "template"

    def __init__(self, max_list: int = 3, seed: int = 0) -> None:
        self.max_list = max_list
        self.seed = seed

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        key = f"{self.seed}|{api.name}|{canonical_arguments(arguments)}".encode("utf-8", "replace")
        rng = random.Random(hashlib.blake2b(key, digest_size=8).digest())
        template = api.template_response
        if template in (None, "", {}, []):
            template = {"result": "str"}
        return CallResult("", self._fill(template, rng, arguments), Status.OK, self.name)

    def _fill(self, node: Any, rng: random.Random, arguments: Mapping[str, Any]) -> Any:
        if isinstance(node, dict):
            return {k: self._fill(v, rng, arguments) for k, v in node.items() if k != "_list_length"}
        if isinstance(node, list):
            if not node:
                return []
            first = node[0]
            if isinstance(first, str) and first.startswith("list of "):
                n = _trailing_int(first) or 1
                leaf = first.split()[2] if len(first.split()) > 2 else "str"
                return [self._leaf(leaf, rng, arguments) for _ in range(min(n, self.max_list))]
            n = first.get("_list_length", 1) if isinstance(first, dict) else 1
            return [self._fill(first, rng, arguments) for _ in range(min(int(n), self.max_list))]
        if isinstance(node, str):
            return self._leaf(node, rng, arguments)
        return node

    @staticmethod
    def _leaf(kind: str, rng: random.Random, arguments: Mapping[str, Any]) -> Any:
        kind = kind.lower()
        if kind in ("int", "integer"):
            return rng.randint(0, 10_000)
        if kind in ("float", "number"):
            return round(rng.uniform(0, 1000), 2)
        if kind in ("bool", "boolean"):
            return rng.random() < 0.5
        if kind in ("nonetype", "null", "none"):
            return None
        seed_word = next((str(v) for v in arguments.values() if isinstance(v, str) and v), "item")
        return f"{seed_word[:24]}-{rng.randrange(16**6):06x}"


def _trailing_int(text: str) -> int | None:
    tail = text.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else None


class ChainBackend:
    """Ask `backends` in order; the first non-None answer wins (StableToolBench's cache → real → simulated)."""

    name = "chain"

    def __init__(self, backends: Sequence[Backend]) -> None:
        if not backends:
            raise ValueError("ChainBackend needs at least one backend")
        self.backends = list(backends)

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        for backend in self.backends:
            result = backend.call(api, arguments, context)
            if result is not None:
                return result
        return CallResult(f"No backend could answer {api.name}", "", Status.API_NOT_WORKING, self.name)
