"""An agent backed by any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, TGI, llama.cpp, OpenAI, …).

It sends the env's conversation (`ToolUseEnv.messages`) and, with ``use_tools=True``, the function schemas as
``tools``; the reply's ``tool_calls`` (or ReAct text) is the action. Network failures never crash an
evaluation: after `retries` attempts with exponential backoff the agent returns an ``Endpoint error`` text,
which the env scores as a failed step. The API key is read from the environment variable named by
`api_key_env` at call time and is never logged or stored on the object.
"""

from __future__ import annotations

import os
import time
from typing import Any

from steptool_gym.env import ToolUseEnv
from steptool_gym.http import post_json

__all__ = ["EndpointAgent"]


class EndpointAgent:
    """``act(env, observation, info)`` asks the endpoint for the next action."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.0,
                 max_tokens: int = 512, timeout_s: float = 60.0, retries: int = 2, backoff_s: float = 0.5,
                 use_tools: bool = True) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL; got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.temperature, self.max_tokens = temperature, max_tokens
        self.timeout_s, self.retries, self.backoff_s, self.use_tools = timeout_s, retries, backoff_s, use_tools

    def reset(self, seed: int | None = None) -> None:
        return None

    def _payload(self, env: ToolUseEnv) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "messages": env.messages, "temperature": self.temperature,
                                   "max_tokens": self.max_tokens}
        if self.use_tools:
            payload["tools"] = [{"type": "function", "function": schema} for schema in env.tools]
        return payload

    def act(self, env: ToolUseEnv, observation: str, info: dict[str, Any]) -> Any:
        body = self._payload(env)
        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        error = ""
        # Every failure is retried here, malformed replies included: a sampled reply may parse next time.
        for attempt in range(self.retries + 1):
            payload, error = post_json(self.url, body, headers=headers, timeout_s=self.timeout_s)
            try:
                message = payload["choices"][0]["message"]
                if not isinstance(message, dict):
                    raise TypeError("message is not an object")
            except (KeyError, IndexError, TypeError) as exc:
                error = error or f"malformed reply ({type(exc).__name__})"
                if attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
                continue
            if isinstance(message.get("tool_calls"), list) and message["tool_calls"]:
                return message
            content = message.get("content")
            return content if isinstance(content, str) else ""
        return f"Endpoint error after {self.retries + 1} attempts: {error}"
