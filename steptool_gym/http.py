"""A JSON POST with timeouts and bounded retries, shared by every network backend, judge and agent."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["post_json"]

_MAX_BODY = 4 << 20  # bytes read from any HTTP answer


def post_json(url: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None,
              timeout_s: float, retries: int = 0, backoff_s: float = 0.5) -> tuple[Any, str]:
    """POST `body` as JSON; return ``(decoded JSON, "")`` or ``(None, reason)`` after `retries` retries.

    Timeouts, connection errors and 5xx answers are retried with exponential backoff; 4xx answers and
    undecodable bodies are not (retrying cannot fix them). The reason never includes request headers.
    """
    data = json.dumps(body).encode("utf-8")
    request_headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    reason = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=data, headers=request_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                raw = response.read(_MAX_BODY)
        except urllib.error.HTTPError as exc:
            reason = f"status_code={exc.code}"
            if exc.code < 500:
                return None, reason
            continue
        except (TimeoutError, OSError) as exc:  # URLError is an OSError; socket timeouts are TimeoutError
            timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
            reason = "timeout" if timed_out else f"connection error ({type(exc).__name__})"
            continue
        try:
            return json.loads(raw.decode("utf-8")), ""
        except (UnicodeDecodeError, ValueError):
            return None, "invalid JSON"
    return None, reason
