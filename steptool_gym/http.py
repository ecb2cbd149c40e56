"""The one HTTP client of the project: a JSON POST with a total deadline, a size cap and bounded retries.

Every network backend, judge and agent calls `post_json`. What it guarantees, whatever the server does:

* **A total deadline per attempt.** ``timeout_s`` bounds connecting, sending, waiting and reading together: a
  server that trickles one byte a second, or never answers, is cut off at the deadline (a watchdog shuts the
  socket down), not after ``timeout_s`` per read. A whole call takes at most
  ``(retries + 1) · timeout_s`` plus the backoff sleeps.
* **A response-size cap.** At most ``max_bytes`` of body are read (a larger ``Content-Length`` is refused
  before reading); http.client's own limits bound the status line, header lines and header count.
* **No cross-origin redirects, never with credentials.** Only 307/308 redirects to the same scheme, host and
  port are followed (at most `MAX_REDIRECTS`, method and body kept); any other redirect is an error result, so
  an ``Authorization`` or key header is never sent anywhere but the URL's origin.
* **Every failure is a result, never an exception:** ``(None, reason)`` with a short reason (``timeout``,
  ``status_code=N``, ``connection error (…)``, ``malformed HTTP response (…)``, ``response too large``,
  ``redirect refused (…)``, ``invalid JSON (…)``). The reason never includes request headers.

Bodies are decoded as strict JSON (no ``NaN``/``Infinity``), nested at most `MAX_JSON_DEPTH` levels.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "MAX_REDIRECTS", "loads_strict", "post_json"]

MAX_BODY_BYTES = 4 << 20  # bytes read from any HTTP answer
MAX_JSON_DEPTH = 64  # nesting levels accepted in a decoded answer
MAX_REDIRECTS = 3
_CHUNK = 64 << 10
_REDIRECTS = (301, 302, 303, 307, 308)


class _Failure(Exception):
    """An attempt's failure: `reason` for the caller, `retry` whether another attempt may help."""

    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether `value` (decoded JSON) nests at most `limit` containers deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return True


def loads_strict(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON from an untrusted peer: strict (no NaN/Infinity), nested at most `max_depth` levels.

    Raises ValueError (with a one-line message) for anything else, including deep nesting, huge integers and
    undecodable bytes.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except ValueError as exc:
        raise ValueError(str(exc).splitlines()[0][:120] if str(exc) else "not JSON") from None
    if not _depth_ok(value, max_depth):
        raise ValueError(f"nested deeper than {max_depth} levels")
    return value


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _split(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise _Failure(f"invalid URL ({exc})", retry=False) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure("invalid URL (needs http:// or https:// and a host)", retry=False)
    if parts.username is not None or parts.password is not None:
        raise _Failure("invalid URL (credentials in the URL are not sent)", retry=False)
    return parts


def _attempt(url: str, data: bytes, headers: Mapping[str, str], timeout_s: float, max_bytes: int) -> bytes:
    """One POST (following same-origin 307/308 redirects) within one deadline; the body, or `_Failure`."""
    deadline = time.monotonic() + timeout_s
    parts = _split(url)
    origin = _origin(parts)
    for _hop in range(MAX_REDIRECTS + 1):
        status, location, body = _exchange(parts, data, headers, deadline, max_bytes)
        if status in _REDIRECTS:
            target = _split(urllib.parse.urljoin(parts.geturl(), location or ""))
            if _origin(target) != origin:
                raise _Failure(f"redirect refused (status {status} to another origin)", retry=False)
            if status not in (307, 308):
                raise _Failure(f"redirect refused (status {status} would drop the POST body)", retry=False)
            parts = target
            continue
        if status >= 500:
            raise _Failure(f"status_code={status}", retry=True)
        if status >= 300 or status < 200:
            raise _Failure(f"status_code={status}", retry=False)
        return body
    raise _Failure(f"redirect refused (more than {MAX_REDIRECTS} redirects)", retry=False)


def _exchange(parts: urllib.parse.SplitResult, data: bytes, headers: Mapping[str, str], deadline: float,
              max_bytes: int) -> tuple[int, str | None, bytes]:
    """Send one request and read its answer before `deadline`: (status, Location header, body)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Failure("timeout", retry=True)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=remaining)
    expired = threading.Event()

    def abort() -> None:  # the watchdog: unblocks any pending read or write at the deadline
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(remaining, abort)
    timer.daemon = True
    timer.start()
    try:
        path = parts.path or "/"
        conn.request("POST", f"{path}?{parts.query}" if parts.query else path, body=data, headers=dict(headers))
        response = conn.getresponse()
        location = response.getheader("Location")
        if response.status in _REDIRECTS or response.status >= 300:
            return response.status, location, b""
        length = response.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > max_bytes:
            raise _Failure(f"response too large ({int(length)} bytes > {max_bytes})", retry=False)
        chunks, size = [], 0
        while True:
            if time.monotonic() >= deadline:
                raise _Failure("timeout", retry=True)
            chunk = response.read(min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise _Failure(f"response too large (> {max_bytes} bytes)", retry=False)
        if expired.is_set():
            raise _Failure("timeout", retry=True)
        return response.status, location, b"".join(chunks)
    except _Failure:
        raise
    except TimeoutError:
        raise _Failure("timeout", retry=True) from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        if expired.is_set():
            raise _Failure("timeout", retry=True) from None
        if isinstance(exc, http.client.HTTPException | ValueError) and not isinstance(exc, ConnectionError):
            raise _Failure(f"malformed HTTP response ({type(exc).__name__})", retry=True) from None
        raise _Failure(f"connection error ({type(exc).__name__})", retry=True) from None
    finally:
        timer.cancel()
        conn.close()


def post_json(url: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None,
              timeout_s: float, retries: int = 0, backoff_s: float = 0.5,
              max_bytes: int = MAX_BODY_BYTES) -> tuple[Any, str]:
    """POST `body` as JSON; return ``(decoded JSON, "")`` or ``(None, reason)`` after `retries` retries.

    Timeouts, connection errors, malformed HTTP and 5xx answers are retried with exponential backoff; 4xx
    answers, refused redirects, oversized and undecodable bodies are not (retrying cannot fix them). See the
    module docstring for the guarantees. Never raises for anything the server or the network does.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0; got {timeout_s}")
    try:
        data = json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        return None, f"request not JSON-serialisable ({type(exc).__name__})"
    request_headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    reason = ""
    for attempt in range(max(0, retries) + 1):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        try:
            raw = _attempt(url, data, request_headers, timeout_s, max_bytes)
        except _Failure as failure:
            reason = failure.reason
            if failure.retry:
                continue
            return None, reason
        try:
            return loads_strict(raw), ""
        except ValueError as exc:
            return None, f"invalid JSON ({exc})"
    return None, reason
