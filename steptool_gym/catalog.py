"""Tool catalogs in ToolBench's shape: APIs, their parameters, function names and OpenAI schemas.

An `API` carries exactly ToolBench's fields (``category_name, tool_name, api_name, api_description,
required_parameters, optional_parameters, method, template_response``). Function names and schemas follow
ToolBench's rules so that prompts match what ToolLLaMA and StepTool were trained on:

* names are ``<standardised api_name>_for_<standardised tool_name>``, cut to the last 64 characters;
* standardisation lower-cases, maps every character outside ``[a-zA-Z0-9_]`` (and CJK) to ``_``, collapses
  runs of ``_``, strips leading/trailing ``_`` and prefixes ``get_`` to names starting with a digit;
* reserved words (``from class return false true id and``) get an ``is_`` prefix;
* parameter types map ``NUMBER→integer, STRING→string, BOOLEAN→boolean``, anything else to ``string``;
  descriptions are cut to 256 characters (512 for tool descriptions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from steptool_gym.actions import FINISH

__all__ = [
    "API",
    "FINISH_SCHEMA",
    "Catalog",
    "FunctionAPI",
    "Parameter",
    "change_name",
    "function_name",
    "standardize",
]

DESCRIPTION_MAX = 256
TOOL_DESCRIPTION_MAX = 512
_NON_WORD = re.compile(r"[^\u4e00-\u9fa5a-zA-Z0-9_]")
_RUNS = re.compile(r"_+")
_RESERVED = frozenset({"from", "class", "return", "false", "true", "id", "and"})
_TYPE_MAP = {"NUMBER": "integer", "STRING": "string", "BOOLEAN": "boolean"}

FINISH_SCHEMA: dict[str, Any] = {
    "name": FINISH,
    "description": (
        "If you believe that you have obtained a result that can answer the task, please call this function to "
        "provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task "
        "in the current state, call this function to restart. Remember: you must ALWAYS call this function at "
        "the end of your attempt, and the only part that will be shown to the user is the final answer, so it "
        "should contain sufficient information."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
            "final_answer": {
                "type": "string",
                "description": 'The final answer you want to give the user. You should have this field if '
                '"return_type"=="give_answer"',
            },
        },
        "required": ["return_type"],
    },
}


def standardize(name: str) -> str:
    """ToolBench's name standardisation (see the module docstring)."""
    name = _RUNS.sub("_", _NON_WORD.sub("_", name)).lower().strip("_")
    if name and name[0].isdigit():
        name = "get_" + name
    return name


def change_name(name: str) -> str:
    """Prefix ToolBench's reserved words with ``is_``."""
    return "is_" + name if name in _RESERVED else name


def function_name(api_name: str, tool_name: str) -> str:
    """The function name a model sees for ``api_name`` of ``tool_name``."""
    return f"{change_name(standardize(api_name))}_for_{standardize(tool_name)}"[-64:]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One API parameter; `type` is ToolBench's (``STRING``, ``NUMBER``, ``BOOLEAN``, …).

    `key` is the argument name a model uses (standardised, reserved words prefixed) and `json_type` the
    schema type; both are computed once, since validation reads them on every call.
    """

    name: str
    type: str = "STRING"
    description: str = ""
    default: Any = ""
    key: str = field(init=False, repr=False, compare=False)
    json_type: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", change_name(standardize(self.name)))
        object.__setattr__(self, "json_type", _TYPE_MAP.get(str(self.type).upper(), "string"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, "default": self.default}


def _check_type(value: Any, json_type: str, strict: bool) -> bool:
    if json_type == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and not strict):
            return True
        return not strict and isinstance(value, str) and _looks_numeric(value)
    if json_type == "boolean":
        return isinstance(value, bool) or (not strict and value in ("true", "false", "True", "False"))
    return isinstance(value, str) or (not strict and isinstance(value, int | float) and not isinstance(value, bool))


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class API:
    """One RapidAPI-style endpoint, with ToolBench's fields."""

    category_name: str
    tool_name: str
    api_name: str
    api_description: str = ""
    required_parameters: tuple[Parameter, ...] = ()
    optional_parameters: tuple[Parameter, ...] = ()
    method: str = "GET"
    template_response: Any = None
    tool_description: str = ""
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", function_name(self.api_name, self.tool_name))
        required = {p.key: p.json_type for p in self.required_parameters}
        optional = {p.key: p.json_type for p in self.optional_parameters if p.key not in required}
        object.__setattr__(self, "_required", required)
        object.__setattr__(self, "_types", {**optional, **required})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], tool_description: str = "") -> API:
        """Build from one entry of a ToolBench ``api_list``."""
        def params(key: str) -> tuple[Parameter, ...]:
            return tuple(
                Parameter(str(p["name"]), str(p.get("type", "STRING")), str(p.get("description") or ""),
                          p.get("default", ""))
                for p in data.get(key) or ()
            )

        return cls(
            category_name=str(data.get("category_name", "")),
            tool_name=str(data["tool_name"]),
            api_name=str(data["api_name"]),
            api_description=str(data.get("api_description") or ""),
            required_parameters=params("required_parameters"),
            optional_parameters=params("optional_parameters"),
            method=str(data.get("method", "GET")),
            template_response=data.get("template_response"),
            tool_description=tool_description,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ToolBench ``api_list`` entry."""
        return {
            "category_name": self.category_name,
            "tool_name": self.tool_name,
            "api_name": self.api_name,
            "api_description": self.api_description,
            "required_parameters": [p.to_dict() for p in self.required_parameters],
            "optional_parameters": [p.to_dict() for p in self.optional_parameters],
            "method": self.method,
            "template_response": self.template_response,
        }

    @property
    def standard_tool_name(self) -> str:
        return standardize(self.tool_name)

    def to_openai(self) -> dict[str, Any]:
        """The function schema a model sees, built exactly as ToolBench's ``api_json_to_openai_json``."""
        tool = self.standard_tool_name
        description = f'This is the subfunction for tool "{tool}", you can use this tool.'
        if self.api_description.strip():
            text = self.api_description.strip().replace(self.api_name, self.name)[:DESCRIPTION_MAX]
            description += f'The description of this function is: "{text}"'
        properties: dict[str, Any] = {}
        required: list[str] = []
        optional: list[str] = []
        for group, names in ((self.required_parameters, required), (self.optional_parameters, optional)):
            for p in group:
                prop: dict[str, Any] = {"type": p.json_type, "description": p.description[:DESCRIPTION_MAX]}
                if len(str(p.default)) != 0:
                    prop["example_value"] = p.default
                properties[p.key] = prop
                names.append(p.key)
        return {
            "name": self.name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required, "optional": optional},
        }

    def validate(self, arguments: Mapping[str, Any], strict: bool = True) -> str | None:
        """Return a message a model can learn from when `arguments` do not fit, else None.

        `strict` rejects values of the wrong JSON type; lenient mode accepts what an HTTP query string would
        (numbers as text and the reverse), as real RapidAPI endpoints do.
        """
        types: dict[str, str] = self._types  # type: ignore[attr-defined]
        for key, value in arguments.items():
            expected = types.get(key)
            if expected is None:
                allowed = ", ".join(sorted(types)) or "none"
                return f"Unexpected parameter '{_clip(key)}' for {self.name}; allowed parameters: {allowed}"
            if not _check_type(value, expected, strict):
                return f"Parameter '{key}' of {self.name} must be of type {expected}, got {type(value).__name__}"
            if isinstance(value, str) and not value.strip() and key in self._required:  # type: ignore[attr-defined]
                return f"Required parameter '{key}' of {self.name} must not be empty"
        for key in self._required:  # type: ignore[attr-defined]
            if key not in arguments:
                return f"Missing required parameter '{key}' for {self.name}"
        return None


@dataclass(frozen=True, eq=False)
class FunctionAPI(API):
    """A function defined by its own OpenAI schema (BFCL, τ²-bench) rather than ToolBench's fields.

    The model-facing name is the schema's ``name`` as is (no ``_for_<tool>`` suffix), the schema is shown
    unchanged, and `validate` checks top-level argument names and (when `typed`) their JSON types; nested
    values are the tool's own business. `tool_name` only groups functions in the prompt's tool list.
    """

    schema: Mapping[str, Any] = field(default_factory=dict)
    typed: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", str(self.schema.get("name") or self.api_name))

    def to_openai(self) -> dict[str, Any]:
        return dict(self.schema)

    def validate(self, arguments: Mapping[str, Any], strict: bool = True) -> str | None:
        parameters = self.schema.get("parameters") or {}
        properties: Mapping[str, Any] = parameters.get("properties") or {}
        for key, value in arguments.items():
            spec = properties.get(key)
            if spec is None:
                allowed = ", ".join(sorted(properties)) or "none"
                return f"Unexpected parameter '{_clip(key)}' for {self.name}; allowed parameters: {allowed}"
            expected = spec.get("type") if isinstance(spec, Mapping) else None
            if self.typed and expected is not None and not _fits_schema_type(value, expected, strict):
                return f"Parameter '{key}' of {self.name} must be of type {expected}, got {type(value).__name__}"
        for key in parameters.get("required") or ():
            if key not in arguments:
                return f"Missing required parameter '{key}' for {self.name}"
        return None


def _fits_schema_type(value: Any, expected: Any, strict: bool) -> bool:
    """JSON-schema type check; a list of types is a union, unknown type names accept anything."""
    if isinstance(expected, list):
        return any(_fits_schema_type(value, t, strict) for t in expected)
    if expected in ("string", "integer", "boolean"):
        return _check_type(value, expected, strict)
    if expected == "number":
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric or (not strict and isinstance(value, str) and _looks_numeric(value))
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, Mapping)
    if expected == "null":
        return value is None
    return True


def _clip(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class Catalog:
    """A set of APIs indexed by function name, grouped by tool and category."""

    def __init__(self, apis: Iterable[API], tool_descriptions: Mapping[str, str] | None = None) -> None:
        self._apis: dict[str, API] = {}
        for api in apis:
            if api.name in self._apis:
                raise ValueError(f"Duplicate function name {api.name!r} in catalog")
            self._apis[api.name] = api
        self.tool_descriptions: dict[str, str] = dict(tool_descriptions or {})
        self._schemas: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._apis)

    def __contains__(self, name: object) -> bool:
        return name in self._apis

    def __getitem__(self, name: str) -> API:
        return self._apis[name]

    def get(self, name: str) -> API | None:
        return self._apis.get(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._apis.values())

    @property
    def tools(self) -> dict[str, list[API]]:
        """APIs grouped by tool name."""
        grouped: dict[str, list[API]] = {}
        for api in self._apis.values():
            grouped.setdefault(api.tool_name, []).append(api)
        return grouped

    @property
    def categories(self) -> dict[str, list[str]]:
        """Tool names grouped by category."""
        grouped: dict[str, list[str]] = {}
        for api in self._apis.values():
            tools = grouped.setdefault(api.category_name, [])
            if api.tool_name not in tools:
                tools.append(api.tool_name)
        return grouped

    def schema(self, name: str) -> dict[str, Any]:
        """The OpenAI function schema of `name` (cached; Finish included)."""
        if name == FINISH:
            return FINISH_SCHEMA
        cached = self._schemas.get(name)
        if cached is None:
            cached = self._schemas[name] = self._apis[name].to_openai()
        return cached

    def schemas(self, names: Sequence[str], with_finish: bool = True) -> list[dict[str, Any]]:
        """Schemas for `names`, then Finish, in ToolBench's order."""
        out = [self.schema(n) for n in names]
        if with_finish:
            out.append(FINISH_SCHEMA)
        return out
