"""Declarative API specs and the runtime `Endpoint` that the `PythonBackend` calls.

A tool module lists `ToolSpec`s; each `Spec` names a handler (what the API returns), its parameters, whether
it is flaky, and — when it can answer a user's question — query phrasings (``asks``, with ``{e}`` for the
entity) and the response paths whose values are the answer facts (``facts``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steptool_envs.toolbench.handlers import Handler
from steptool_envs.toolbench.keys import call_key, counter_key, norm_value
from steptool_gym.backends import CallContext, ToolError
from steptool_gym.catalog import API, Parameter, function_name
from steptool_gym.status import Status

__all__ = ["Endpoint", "Spec", "ToolSpec", "boolean", "number", "page", "string", "template_of"]

# Flaky APIs fail the first attempt for this share of argument sets (selected by a hash of the call key).
FLAKY_SHARE = 0.5
_FLAKY_MESSAGES = {
    Status.RATE_LIMIT: "Rate limit error: You have exceeded the rate limit per second for your plan, BASIC, "
                       "by the API provider. Please retry shortly.",
    Status.API_NOT_WORKING: "API not working error: the upstream service returned HTTP 503. Please retry.",
    Status.TIMEOUT: "Timeout error: the API did not respond in time. Please retry.",
}


def string(name: str, description: str, example: Any = "") -> Parameter:
    return Parameter(name, "STRING", description, example)


def number(name: str, description: str, example: Any = "") -> Parameter:
    return Parameter(name, "NUMBER", description, example)


def boolean(name: str, description: str, example: Any = "") -> Parameter:
    return Parameter(name, "BOOLEAN", description, example)


def page() -> Parameter:
    return Parameter("page", "NUMBER", "Page number of the results (5 per page)", 1)


@dataclass(frozen=True)
class Spec:
    """One API: its RapidAPI name, description, handler, parameters, flakiness and question phrasings.

    The handler's main argument must be the first required parameter; optional parameters' ``default`` is
    the value used when omitted.
    """

    api_name: str
    description: str
    handler: Handler
    required: tuple[Parameter, ...]
    optional: tuple[Parameter, ...] = ()
    asks: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    flaky: Status | None = None
    method: str = "GET"


@dataclass(frozen=True)
class ToolSpec:
    category: str
    name: str
    description: str
    apis: tuple[Spec, ...]


class Endpoint:
    """The function behind one API: fills defaults, injects deterministic flakiness, calls the handler."""

    def __init__(self, name: str, handler: Handler, defaults: Mapping[str, Any], flaky: Status | None) -> None:
        self.name, self.handler, self.flaky = name, handler, flaky
        self.defaults = dict(defaults)
        self.norm_defaults = {k: norm_value(v) for k, v in self.defaults.items()}

    def call(self, arguments: Mapping[str, Any], context: CallContext) -> Any:
        if self.flaky is not None:
            key = counter_key(call_key(self.name, arguments, self.norm_defaults))
            # First attempt of a hash-selected call fails; the counter lives in the episode state, so a
            # restored snapshot replays the same failure or success.
            if is_flaky(key) and context.bump(key) == 1:
                raise ToolError(_FLAKY_MESSAGES[self.flaky], self.flaky)
        return self.handler.respond({**self.defaults, **arguments} if self.defaults else arguments)

    def fails_first(self, arguments: Mapping[str, Any]) -> bool:
        """Whether the first attempt of this call fails (task generation budgets a retry for it)."""
        return self.flaky is not None and is_flaky(counter_key(call_key(self.name, arguments, self.norm_defaults)))


def is_flaky(key: str) -> bool:
    return hashlib.blake2b(key.encode(), digest_size=2).digest()[0] < 256 * FLAKY_SHARE


def template_of(value: Any) -> Any:
    """ToolBench's ``template_response`` skeleton of a sample response (type names at the leaves)."""
    if isinstance(value, Mapping):
        return {k: template_of(v) for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return []
        first = template_of(value[0])
        if isinstance(first, dict):
            return [{**first, "_list_length": len(value)}]
        return f"list of {first} with length {len(value)}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str" if value is not None else "NoneType"


def build_api(tool: ToolSpec, spec: Spec) -> tuple[API, Endpoint]:
    """The catalog `API` (with a template from a sample response) and its `Endpoint`."""
    name = function_name(spec.api_name, tool.name)
    defaults = {p.key: p.default for p in spec.optional if p.default != ""}
    args, _, _ = spec.handler.sample(random.Random(name))
    api = API(category_name=tool.category, tool_name=tool.name, api_name=spec.api_name,
              api_description=spec.description, required_parameters=spec.required,
              optional_parameters=spec.optional, method=spec.method, tool_description=tool.description,
              template_response=template_of(spec.handler.respond({**defaults, **args})))
    return api, Endpoint(name, spec.handler, defaults, spec.flaky)
