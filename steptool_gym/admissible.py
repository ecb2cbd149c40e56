"""Generic admissible calls for suites that do not define their own (`Suite.admissible_calls` wins if present).

Each of the task's functions is filled, parameter by parameter, with values observed in successful tool
responses under the same (standardised) key, newest first, falling back to the schema's ``example_value``;
calls that already succeeded are skipped. The calls come in an order shuffled by a generator seeded with the
task's functions and the step (reproducible, but no hint), capped, Finish last with an answer listing the values
of the newest successful response only (an answer listing everything seen would game a lenient judge).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.catalog import standardize
from steptool_gym.status import Status

__all__ = ["default_admissible_calls"]

_PER_PARAM = 2
_PER_FUNCTION = 2
_ANSWER_CHARS = 1500


def _scalars(node: Any, out: dict[str, list[Any]], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
                bucket = out.setdefault(standardize(str(key)), [])
                if value not in bucket:
                    bucket.append(value)
            else:
                _scalars(value, out, depth + 1)
    elif isinstance(node, list):
        for item in node[:20]:
            _scalars(item, out, depth + 1)


def _observed(history: Sequence[Any]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for record in reversed(history):  # newest first
        if record.call is None or record.status != Status.OK or record.call.is_finish:
            continue
        try:
            response = json.loads(record.observation).get("response")
        except (ValueError, AttributeError):
            continue  # a truncated observation is not JSON any more
        if isinstance(response, str):
            try:
                response = json.loads(response)
            except ValueError:
                continue
        _scalars(response, values)
    return values


def default_admissible_calls(tools: Sequence[Mapping[str, Any]], history: Sequence[Any],
                             limit: int = 16) -> list[ToolCall]:
    """Candidate calls for the task's `tools` (OpenAI schemas) given the episode `history` (see module doc)."""
    observed = _observed(history)
    done = {(r.call.name, repr(sorted(r.call.arguments.items()))) for r in history
            if r.call is not None and r.status == Status.OK}
    calls: list[ToolCall] = []
    for schema in tools:
        name = schema["name"]
        if name == FINISH:
            continue
        params = schema.get("parameters", {})
        props = params.get("properties", {})
        required = [k for k in params.get("required", []) if k]
        options = []
        for key in required:
            values = list(observed.get(standardize(key), ()))[:_PER_PARAM]
            example = props.get(key, {}).get("example_value")
            if example not in (None, "") and example not in values:
                values.append(example)
            options.append(values or [""])
        for combo in itertools.islice(itertools.product(*options), _PER_FUNCTION):
            call = ToolCall(name, dict(zip(required, combo)))
            if (name, repr(sorted(call.arguments.items()))) not in done:
                calls.append(call)
    random.Random(f"{'|'.join(s['name'] for s in tools)}|{len(history)}").shuffle(calls)
    newest = _observed([r for r in history if r.call is not None and not r.call.is_finish
                        and r.status == Status.OK][-1:])
    summary = "; ".join(str(v) for vs in newest.values() for v in vs[:1])[:_ANSWER_CHARS]
    finish = ToolCall(FINISH, {"return_type": "give_answer", "final_answer": f"Here is what I found: {summary}"})
    return calls[: limit - 1] + [finish]
