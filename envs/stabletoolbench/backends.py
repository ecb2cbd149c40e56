"""StableToolBench's answer chain: recorded cache → virtual API server → LLM simulator → templates.

StableToolBench's server answers a call from its response cache, then the real RapidAPI service, then a
GPT simulation primed with cached examples. `build_chain` assembles the same order from these backends (any
order can be configured); a backend without a URL is left out, and one returning None passes the call on.

* `ResponseCache`: responses keyed by (function name, canonical arguments), filled from StepTool's
  per-query records and read lazily from StableToolBench cache folders
  (``<cache_dir>/<category>/<tool>_for_<category>/<api>.json``, a map of ``str(arguments)`` to
  ``{"error", "response"}``, exactly as the server writes them).
* `VirtualServerClient`: POSTs to a StableToolBench/MirrorAPI ``/virtual`` endpoint (stdlib ``urllib``).
* `LLMSimulator`: asks any OpenAI-compatible ``/v1/chat/completions`` endpoint with the server's simulator
  prompt.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from steptool_envs.stabletoolbench.data import StableToolBenchDataError, safe_literal
from steptool_gym.backends import Backend, CallContext, CallResult, ChainBackend, TemplateSimulator, canonical_arguments
from steptool_gym.catalog import API, change_name, standardize
from steptool_gym.http import loads_strict, post_json
from steptool_gym.status import Status

__all__ = [
    "BACKEND_NAMES",
    "LLMSimulator",
    "ResponseCache",
    "VirtualServerClient",
    "build_chain",
    "post_json",
    "standard_category",
    "status_for_error",
]

BACKEND_NAMES = ("cache", "server", "llm", "template")

# ToolBench's client (rapidapi.py) maps these server error strings to status codes; anything else is OK.
_ERROR_STATUS = {
    "API not working error...": Status.API_NOT_WORKING,
    "Unauthorized error...": Status.UNAUTHORIZED,
    "Unsubscribed error...": Status.UNSUBSCRIBED,
    "Too many requests error...": Status.TOO_MANY_REQUESTS,
    "Rate limit per minute error...": Status.RATE_LIMIT,
    "Message error...": Status.MESSAGE_ERROR,
}


def status_for_error(error: str) -> Status:
    """ToolBench's status code for a server ``error`` string."""
    return _ERROR_STATUS.get(error, Status.OK)


def standard_category(category: str) -> str:
    """The category folder name StableToolBench's server uses."""
    name = category.replace(" ", "_").replace(",", "_").replace("/", "_")
    while " " in name or "," in name:
        name = name.replace(" ", "_").replace(",", "_")
    return name.replace("__", "_")


def _result(payload: Any, backend: str) -> CallResult | None:
    """A `CallResult` from a ``{"error", "response"}`` mapping, or None when it is not one."""
    if not isinstance(payload, Mapping) or ("response" not in payload and "error" not in payload):
        return None
    error = str(payload.get("error") or "")
    return CallResult(error, payload.get("response", ""), status_for_error(error), backend)


class ResponseCache:
    """Recorded responses keyed by (function name, canonical arguments); first recorded answer wins."""

    name = "cache"

    def __init__(self, cache_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.cache_dirs = tuple(Path(d) for d in cache_dirs)
        for directory in self.cache_dirs:
            if not directory.is_dir():
                raise StableToolBenchDataError(f"{directory}: cache_dirs entry is not a folder")
        self._entries: dict[tuple[str, str], tuple[str, Any, str | None]] = {}
        self._loaded_files: dict[Path, dict[str, tuple[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, name: str, arguments: Mapping[str, Any], error: str, response: Any, text: str | None = None) -> bool:
        """Record an answer unless one is already cached for the same call; True if it was added.

        `text` is the recorded observation text (StepTool's records): a hit replays it verbatim.
        """
        key = (name, canonical_arguments(arguments))
        if key in self._entries:
            return False
        self._entries[key] = (error, response, text or None)
        return True

    def examples(self, name: str, limit: int = 5) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Up to `limit` cached (arguments, answer) pairs of `name`: the LLM simulator's in-context examples."""
        out = []
        for (fn, args), (error, response, _text) in self._entries.items():
            if fn == name:
                out.append((json.loads(args), {"error": error, "response": response}))
                if len(out) == limit:
                    break
        return out

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        key = canonical_arguments(arguments)
        hit = self._entries.get((api.name, key))
        if hit is None:
            for directory in self.cache_dirs:
                hit = self._folder(directory, api).get(key)
                if hit is not None:
                    break
        if hit is None:
            return None
        return CallResult(hit[0], hit[1], status_for_error(hit[0]), self.name, hit[2] if len(hit) > 2 else None)

    def _folder(self, directory: Path, api: API) -> dict[str, tuple[str, Any]]:
        category = standard_category(api.category_name)
        path = (directory / category / f"{standardize(api.tool_name)}_for_{category}"
                / f"{change_name(standardize(api.api_name))}.json")
        entries = self._loaded_files.get(path)
        if entries is None:
            entries = self._loaded_files[path] = _read_cache_file(path) if path.is_file() else {}
        return entries


def _read_cache_file(path: Path) -> dict[str, tuple[str, Any]]:
    """A server cache file: keys are ``str(arguments)`` (a Python literal), values ``{"error", "response"}``.

    Files are read mid-episode, so a broken file or entry is a warning and a miss, never an exception.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        warnings.warn(f"{path}: unreadable cache file ignored ({type(exc).__name__})", stacklevel=2)
        return {}
    if not isinstance(data, dict):
        warnings.warn(f"{path}: cache file is not an object; ignored", stacklevel=2)
        return {}
    out: dict[str, tuple[str, Any]] = {}
    skipped = 0
    for raw_key, value in data.items():
        try:
            arguments = safe_literal(raw_key, str(path)) if raw_key.strip() else {}
            if not (isinstance(arguments, dict) and isinstance(value, dict)):
                raise ValueError("not an arguments → answer entry")
            error = value.get("error") or ""
            out.setdefault(canonical_arguments(arguments),
                           (error if isinstance(error, str) else json.dumps(error), value.get("response", "")))
        except (StableToolBenchDataError, TypeError, ValueError, RecursionError):
            skipped += 1  # e.g. non-string keys in the arguments, a non-JSON value, nesting too deep
    if skipped:
        warnings.warn(f"{path}: {skipped} malformed cache entr{'y' if skipped == 1 else 'ies'} ignored", stacklevel=2)
    return out


def _failure(reason: str, backend: str) -> CallResult:
    """ToolBench's client messages for transport failures."""
    if reason == "timeout":
        return CallResult("Timeout error...", "", Status.TIMEOUT, backend)
    if reason.startswith("status_code="):
        return CallResult(f"request invalid, data error. {reason}", "", Status.REQUEST_ERROR, backend)
    return CallResult(f"request invalid, data error ({reason})", "", Status.REQUEST_ERROR, backend)


class VirtualServerClient:
    """A StableToolBench/MirrorAPI ``/virtual`` server: ``{category, tool_name, api_name, tool_input, strip,
    toolbench_key}`` in, ``{"error", "response"}`` out.

    The key is read from the environment variable `key_env` at call time (never stored, logged or pickled).
    With `fallthrough` (the default), transport failures return None so the next backend answers, as
    StableToolBench simulates a call whose real API fails; otherwise they are ToolBench's error results.
    """

    name = "server"

    def __init__(self, url: str, *, timeout_s: float = 30.0, retries: int = 2, backoff_s: float = 0.5,
                 key_env: str = "TOOLBENCH_KEY", fallthrough: bool = True) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.key_env = key_env
        self.fallthrough = fallthrough

    def __repr__(self) -> str:
        return f"VirtualServerClient({self.url!r}, timeout_s={self.timeout_s}, retries={self.retries})"

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        key = os.environ.get(self.key_env, "")
        body = {
            "category": api.category_name,
            "tool_name": standardize(api.tool_name),
            "api_name": change_name(standardize(api.api_name)),
            "tool_input": json.dumps(dict(arguments), ensure_ascii=False),
            "strip": "",
            "toolbench_key": key,
        }
        payload, reason = post_json(self.url, body, headers={"toolbench_key": key}, timeout_s=self.timeout_s,
                                    retries=self.retries, backoff_s=self.backoff_s)
        result = _result(payload, self.name) if payload is not None else None
        if result is not None:
            return result
        if self.fallthrough:
            return None
        return _failure(reason or "invalid JSON", self.name)


# StableToolBench's simulator prompt (server/main.py), so simulated answers match the benchmark's.
SIMULATOR_SYSTEM_PROMPT = """
Imagine you are an API Server operating within a specialized tool, which contains a collection of distinct APIs. Your role is to deeply understand the function of each API based on their descriptions in the API documentation. As you receive specific inputs for individual API calls within this tool, analyze these inputs to determine their intended purpose. Your task is to craft a JSON formatted response that aligns with the expected output of the API, guided by the provided examples.\n
Your responses must adhere to a specific JSON structure, which is as follows:\n
{
    "error": "",
    "response": "<Your_Response>"
}\n
The error field should remain empty, indicating no errors in processing. The response field should contain the content you formulate based on the API's functionality and the input provided. Ensure that your responses are meaningful, directly addressing the API's intended functionality. If the provided examples are mostly error messages or lack substantial content, use your judgment to create relevant and accurate responses. The key is to maintain the JSON format's integrity while ensuring that your response is an accurate reflection of the API's intended output within the tool.\n
Please note that your answer should not contain anything other than a json format object, which should be parsable directly to json.
Note that:
- your response should be around 100 to 200 words, containing rich information given the api input parameters. Keep Your answer short and simple.
- your response must be effective and have practical content.
- if the api response example if null or ineffective, ignore the example and give your independent response.
    """  # noqa: E501


def chat_completions_url(base: str) -> str:
    """Accept ``http://host:port``, ``.../v1`` or the full ``.../v1/chat/completions`` URL."""
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")


def simulator_messages(api: API, arguments: Mapping[str, Any], examples: Iterable[Any],
                       tool_description: str = "") -> list[dict[str, str]]:
    """The server's two messages: system prompt, then API documentation, ≤ 5 examples (≤ 2048 chars), input."""
    doc = {"tool_description": tool_description,
           "api_info": [{"name": api.api_name, "description": api.api_description}]}
    chosen = list(examples)[:5]
    while len(str(chosen)) > 2048 and len(chosen) > 1:
        chosen = chosen[:-1]
    user = f"API Documentation:{doc}\nAPI Examples:{str(chosen)[:2048]}\nAPI Input:{dict(arguments)}\n"
    return [{"role": "system", "content": SIMULATOR_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def message_content(payload: Any) -> str | None:
    """``choices[0].message.content`` of a chat-completions answer, or None."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _strip_fences(text: str) -> str:
    text = text.strip()
    if "```" in text:
        text = text.replace("```json", "").replace("```", "").strip()
    return text


class LLMSimulator:
    """Simulated API answers from an OpenAI-compatible chat endpoint, prompted as StableToolBench's server.

    Answers are memoised per (function, canonical arguments) so a call repeats identically within a process.
    Timeouts are ``TIMEOUT``; transport failures ``REQUEST_ERROR``; an answer that is not a JSON
    ``{"error", "response"}`` object is ``MESSAGE_ERROR`` ("Failed to generate fake response", as the server).
    The key comes from the environment variable `key_env` at call time.
    """

    name = "llm"

    def __init__(self, url: str, model: str = "gpt-4o-mini", *, timeout_s: float = 60.0, retries: int = 1,
                 backoff_s: float = 0.5, temperature: float = 0.0, key_env: str = "OPENAI_API_KEY",
                 examples: ResponseCache | None = None, tool_descriptions: Mapping[str, str] | None = None) -> None:
        # `tool_descriptions` is keyed by standardised tool name (ToolBench's toolenv file names).
        self.url = chat_completions_url(url)
        self.model = model
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        self.key_env = key_env
        self.examples = examples
        self.tool_descriptions = dict(tool_descriptions or {})
        self._memo: dict[tuple[str, str], CallResult] = {}

    def __repr__(self) -> str:
        return f"LLMSimulator({self.url!r}, model={self.model!r}, timeout_s={self.timeout_s})"

    def call(self, api: API, arguments: Mapping[str, Any], context: CallContext) -> CallResult | None:
        memo_key = (api.name, canonical_arguments(arguments))
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached
        examples = self.examples.examples(api.name) if self.examples is not None else []
        body = {
            "model": self.model,
            "messages": simulator_messages(api, arguments, examples,
                                           self.tool_descriptions.get(standardize(api.tool_name), "")),
            "max_tokens": 1024,
            "temperature": self.temperature,
            "response_format": {"type": "json_object"},
        }
        key = os.environ.get(self.key_env, "")
        payload, reason = post_json(self.url, body, headers={"Authorization": f"Bearer {key}"} if key else None,
                                    timeout_s=self.timeout_s, retries=self.retries, backoff_s=self.backoff_s)
        if payload is None:
            return _failure(reason, self.name)
        content = message_content(payload)
        try:
            answer = loads_strict(_strip_fences(content)) if content is not None else None
        except ValueError:  # not JSON, NaN, too deep (loads_strict maps RecursionError to ValueError)
            answer = None
        result = _result(answer, self.name)
        if result is None:
            return CallResult("Failed to generate fake response", "", Status.MESSAGE_ERROR, self.name)
        self._memo[memo_key] = result
        return result


def build_chain(order: Sequence[str], *, cache: ResponseCache, server_url: str | None = None,
                llm_url: str | None = None, llm_model: str = "gpt-4o-mini", timeout_s: float = 30.0,
                retries: int = 2, tool_descriptions: Mapping[str, str] | None = None,
                template_seed: int = 0) -> ChainBackend:
    """A `ChainBackend` over `order` (names from `BACKEND_NAMES`); server/llm without a URL are skipped."""
    unknown = [n for n in order if n not in BACKEND_NAMES]
    if unknown or not order:
        raise ValueError(f"backends must be a non-empty sequence of {', '.join(BACKEND_NAMES)}; got {list(order)}")
    chain: list[Backend] = []
    for name in dict.fromkeys(order):
        if name == "cache":
            chain.append(cache)
        elif name == "server" and server_url:
            chain.append(VirtualServerClient(server_url, timeout_s=timeout_s, retries=retries))
        elif name == "llm" and llm_url:
            chain.append(LLMSimulator(llm_url, llm_model, timeout_s=timeout_s, retries=retries, examples=cache,
                                      tool_descriptions=tool_descriptions))
        elif name == "template":
            chain.append(TemplateSimulator(seed=template_seed))
    if not chain:
        raise ValueError(f"none of the backends {list(order)} is configured (server and llm need a URL)")
    return ChainBackend(chain)

