"""Tool-call actions: the `ToolCall` value and the parsers that turn model output into one.

Accepted action forms (all parse to the same `ToolCall`):

* ReAct text as ToolBench/ToolLLaMA emit it::

      Thought: I need the weather first.
      Action: get_weather_for_weatherapi
      Action Input: {"city": "Paris"}

* a JSON object ``{"name": ..., "arguments": {...} | "<json>"}`` (as text or as a dict);
* an OpenAI-style assistant message ``{"role": "assistant", "content": ..., "tool_calls": [...]}`` or one
  entry of ``tool_calls`` (``{"type": "function", "function": {"name": ..., "arguments": "<json>"}}``);
* a `ToolCall` itself.

Malformed input raises `ActionError` carrying ToolBench's status code and a message a model can learn from;
the environment turns it into an error observation, never into a crash. Whatever the form, the result is a
`ToolCall` whose name is a string and whose arguments are JSON values only (str, int, float, bool, None,
lists and string-keyed objects), nested at most `MAX_ARGUMENT_DEPTH` levels, with at most
`MAX_ARGUMENT_NODES` values and `MAX_ARGUMENT_CHARS` characters in all, integers of at most
`MAX_INT_BITS` bits and finite floats: `check_arguments` enforces it for every form, `ToolCall` values
included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from steptool_gym.status import Status

__all__ = [
    "FINISH",
    "MAX_ARGUMENT_CHARS",
    "MAX_ARGUMENT_DEPTH",
    "MAX_ARGUMENT_NODES",
    "MAX_INT_BITS",
    "ActionError",
    "ToolCall",
    "check_arguments",
    "parse_action",
    "parse_arguments",
    "parse_react",
]

FINISH = "Finish"

# Parsing never needs more than this much of an action; longer inputs are cut before any regex or JSON work
# so that a 1 MB string costs the same as a 64 kB one.
_MAX_ACTION_CHARS = 65_536
_JSON = json.JSONDecoder()
# Bounds on a call's arguments (every suite's real calls are far inside them): deeper or larger values are an
# input error before any backend, judge, state key or snapshot sees them.
MAX_ARGUMENT_DEPTH = 32
MAX_ARGUMENT_NODES = 10_000
MAX_ARGUMENT_CHARS = _MAX_ACTION_CHARS
MAX_INT_BITS = 256


class ActionError(ValueError):
    """An action that cannot be executed: `status` is ToolBench's code, `name` the function if known."""

    def __init__(self, status: Status, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.name = name


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call: the function `name`, its `arguments` and the model's `thought` before it."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    thought: str = ""

    @property
    def is_finish(self) -> bool:
        return self.name == FINISH

    def arguments_json(self) -> str:
        """Arguments as the JSON text an OpenAI ``tool_calls`` entry carries."""
        return json.dumps(dict(self.arguments), ensure_ascii=False)

    def to_react(self) -> str:
        """Render as ToolLLaMA's ``Thought/Action/Action Input`` text (what `parse_react` reads back)."""
        return f"Thought: {self.thought}\nAction: {self.name}\nAction Input: {self.arguments_json()}"

    def to_openai(self, call_id: str) -> dict[str, Any]:
        """Render as one entry of an OpenAI assistant message's ``tool_calls``."""
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_json()},
        }


def parse_arguments(raw: Any, name: str | None = None) -> dict[str, Any]:
    """Arguments from a dict or JSON text; an empty string means no arguments (ToolBench does the same)."""
    if isinstance(raw, Mapping):
        return check_arguments(raw, name)
    if raw is None:
        return {}
    if not isinstance(raw, str):
        raise ActionError(Status.INPUT_ERROR, f"Action Input must be a JSON object, got {type(raw).__name__}", name)
    text = raw[:_MAX_ACTION_CHARS].strip()
    if not text:
        return {}
    try:
        # raw_decode tolerates trailing text after the object, which sampled models often produce.
        value, _ = _JSON.raw_decode(text)
    except (ValueError, RecursionError) as exc:
        raise ActionError(Status.INPUT_ERROR, f"Action Input is not valid JSON: {_short(exc)}", name) from None
    if not isinstance(value, dict):
        raise ActionError(Status.INPUT_ERROR, "Action Input must be a JSON object", name)
    return check_arguments(value, name)


def check_arguments(arguments: Any, name: str | None = None) -> dict[str, Any]:
    """`arguments` as a plain dict of JSON values within the module's bounds, or `ActionError` (INPUT_ERROR).

    Iterative (no recursion), so a hostile value cannot exhaust the stack; tuples become lists.
    """
    if not isinstance(arguments, Mapping):
        raise ActionError(Status.INPUT_ERROR, f"Action Input must be a JSON object, got {type(arguments).__name__}",
                          name)

    def fail(problem: str) -> ActionError:
        return ActionError(Status.INPUT_ERROR, f"Action Input {problem}", name)

    out: dict[str, Any] = {}
    # (source container, destination container, depth)
    stack: list[tuple[Any, Any, int]] = [(arguments, out, 1)]
    nodes = chars = 0
    while stack:
        source, dest, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            raise fail(f"is nested deeper than {MAX_ARGUMENT_DEPTH} levels")
        items = source.items() if isinstance(dest, dict) else enumerate(source)
        for key, value in items:
            nodes += 1
            if nodes > MAX_ARGUMENT_NODES:
                raise fail(f"has more than {MAX_ARGUMENT_NODES} values")
            if isinstance(dest, dict):
                if not isinstance(key, str):
                    raise fail(f"keys must be strings, got {type(key).__name__}")
                chars += len(key)
            if value is None or isinstance(value, bool):
                converted: Any = value
            elif isinstance(value, str):
                chars += len(value)
                converted = value
            elif isinstance(value, int):
                if value.bit_length() > MAX_INT_BITS:
                    raise fail(f"has an integer of more than {MAX_INT_BITS} bits")
                converted = int(value)
            elif isinstance(value, float):
                if value != value or value in (float("inf"), float("-inf")):
                    raise fail("has a non-finite number")
                converted = float(value)
            elif isinstance(value, Mapping):
                converted = {}
                stack.append((value, converted, depth + 1))
            elif isinstance(value, list | tuple):
                converted = [None] * len(value)
                stack.append((value, converted, depth + 1))
            else:
                raise fail(f"values must be JSON values, got {type(value).__name__}")
            if chars > MAX_ARGUMENT_CHARS:
                raise fail(f"has more than {MAX_ARGUMENT_CHARS} characters")
            dest[key] = converted
    return out


def parse_react(text: str) -> ToolCall:
    """Parse ToolLLaMA's ``Thought: … Action: … Action Input: …`` text."""
    text = text[:_MAX_ACTION_CHARS]
    action_at = text.rfind("Action:")
    # "Action Input:" contains no "Action:", so rfind above finds the Action line even when Input follows.
    if action_at < 0:
        raise ActionError(Status.NO_SUCH_FUNCTION, "No function call found: expected 'Action: <name>'")
    input_at = text.find("Action Input:", action_at)
    thought = text[:action_at].strip()
    if thought.startswith("Thought:"):
        thought = thought[len("Thought:") :].strip()
    if input_at < 0:
        name = text[action_at + len("Action:") :].strip()
        raw_args = ""
    else:
        name = text[action_at + len("Action:") : input_at].strip()
        raw_args = text[input_at + len("Action Input:") :]
    name = name.splitlines()[0].strip() if name else ""
    if not name:
        raise ActionError(Status.NO_SUCH_FUNCTION, "Empty function name after 'Action:'")
    return ToolCall(name, parse_arguments(raw_args, name), thought)


def _from_mapping(action: Mapping[str, Any]) -> ToolCall:
    if "tool_calls" in action:
        calls = action.get("tool_calls") or []
        if not isinstance(calls, list) or not calls:
            raise ActionError(Status.NO_SUCH_FUNCTION, "Assistant message has no tool_calls")
        thought = action.get("content") or ""
        call = _from_mapping(calls[0]) if isinstance(calls[0], Mapping) else None
        if call is None:
            raise ActionError(Status.NO_SUCH_FUNCTION, "tool_calls entries must be objects")
        return ToolCall(call.name, call.arguments, thought[:_MAX_ACTION_CHARS] if isinstance(thought, str) else "")
    if "function" in action and isinstance(action["function"], Mapping):
        return _from_mapping(action["function"])
    name = action.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ActionError(Status.NO_SUCH_FUNCTION, "Function call needs a non-empty string 'name'")
    name = name.strip()[:_MAX_ACTION_CHARS]
    raw = action.get("arguments", action.get("parameters"))
    thought = action.get("thought", "")
    return ToolCall(name, parse_arguments(raw, name), thought[:_MAX_ACTION_CHARS] if isinstance(thought, str) else "")


def _checked_call(call: ToolCall) -> ToolCall:
    """A `ToolCall` built by code (not parsed) passes the same checks as a parsed one."""
    if not isinstance(call.name, str) or not call.name.strip():
        raise ActionError(Status.NO_SUCH_FUNCTION, "Function call needs a non-empty string 'name'")
    name = call.name.strip()[:_MAX_ACTION_CHARS]
    arguments = check_arguments(call.arguments, name)
    thought = call.thought if isinstance(call.thought, str) else ""
    if name == call.name and thought is call.thought and arguments == call.arguments:
        return call
    return ToolCall(name, arguments, thought[:_MAX_ACTION_CHARS])


def parse_action(action: Any) -> ToolCall:
    """Turn any accepted action form into a `ToolCall`, or raise `ActionError`.

    Any Python value is accepted as input: anything that is not one of the forms above is an `ActionError`.
    """
    if isinstance(action, ToolCall):
        return _checked_call(action)
    if isinstance(action, Mapping):
        return _from_mapping(action)
    if isinstance(action, bytes):
        action = action.decode("utf-8", "replace")
    if not isinstance(action, str):
        raise ActionError(Status.NO_SUCH_FUNCTION, f"Unsupported action type {type(action).__name__}")
    stripped = action.lstrip()
    if stripped.startswith("{"):
        try:
            value, _ = _JSON.raw_decode(stripped[:_MAX_ACTION_CHARS])
        except (ValueError, RecursionError) as exc:
            raise ActionError(Status.INPUT_ERROR, f"Action is not valid JSON: {_short(exc)}") from None
        if not isinstance(value, dict):
            raise ActionError(Status.INPUT_ERROR, "A JSON action must be an object")
        return _from_mapping(value)
    return parse_react(action)


def _short(exc: BaseException) -> str:
    return str(exc)[:200] if not isinstance(exc, RecursionError) else "nested too deeply"
