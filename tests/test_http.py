"""`steptool_gym.http.post_json` against a misbehaving server on 127.0.0.1 (every loop bounded in count and time)."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from steptool_gym.http import MAX_JSON_DEPTH, loads_strict, post_json

OK = b'{"ok": true}'


def _answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"Connection: close\r\n\r\n" + body)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 1 << 16:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            rest += chunk
        self.server.seen.append((path, headers))  # type: ignore[attr-defined]
        route = path.strip("/").split("/")[0]
        stop = self.server.stop  # type: ignore[attr-defined]
        if route == "ok":
            sock.sendall(_answer(OK))
        elif route == "hang":
            stop.wait(10)
        elif route == "trickle":  # a valid answer, one byte every 50 ms: each read is fast, the whole is not
            for byte in _answer(b'{"ok": "' + b"x" * 200 + b'"}'):
                if stop.wait(0.05):
                    return
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return
        elif route == "garbage":
            sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\nnot http at all")
        elif route == "headers":  # more than http.client's 100 headers
            sock.sendall(_answer(OK, extra=b"".join(b"X-%d: y\r\n" % i for i in range(150))))
        elif route == "longheader":  # one 70 kB header line
            sock.sendall(_answer(OK, extra=b"X-Big: " + b"a" * 70_000 + b"\r\n"))
        elif route == "badchunk":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nxx\r\n")
        elif route == "huge":  # 5 MB body, with and without a Content-Length
            body = b'["' + b"a" * (5 << 20) + b'"]'
            sock.sendall(_answer(body) if "len" in path else
                         b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
        elif route == "deep":
            sock.sendall(_answer(b"[" * 1000 + b"]" * 1000))
        elif route == "deep100":
            sock.sendall(_answer(b"[" * 100 + b"]" * 100))
        elif route == "nan":
            sock.sendall(_answer(b'{"score": NaN}'))
        elif route == "bigint":
            sock.sendall(_answer(b'{"n": ' + b"9" * 5000 + b"}"))
        elif route == "binary":
            sock.sendall(_answer(b"\xff\xfe\x00{"))
        elif route == "redirect_other":
            target = self.server.other_origin  # type: ignore[attr-defined]
            sock.sendall(_answer(b"", "307 Temporary Redirect", f"Location: {target}/ok\r\n".encode()))
        elif route == "redirect_same":
            sock.sendall(_answer(b"", "307 Temporary Redirect", b"Location: /ok\r\n"))
        elif route == "redirect_loop":
            sock.sendall(_answer(b"", "308 Permanent Redirect", b"Location: /redirect_loop\r\n"))
        elif route == "redirect_302":
            sock.sendall(_answer(b"", "302 Found", b"Location: /ok\r\n"))
        elif route == "status500":
            sock.sendall(_answer(b'{"error": "boom"}', "500 Internal Server Error"))
        elif route == "status404":
            sock.sendall(_answer(b"{}", "404 Not Found"))
        elif route == "close":
            return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _start() -> _Server:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.seen = []  # type: ignore[attr-defined]
    srv.stop = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[_Server, _Server]]:
    main, other = _start(), _start()
    main.other_origin = f"http://127.0.0.1:{other.server_address[1]}"  # type: ignore[attr-defined]
    other.other_origin = main.other_origin  # type: ignore[attr-defined]
    yield main, other
    for srv in (main, other):
        srv.stop.set()  # type: ignore[attr-defined]
        srv.shutdown()
        srv.server_close()


def _url(srv: _Server, route: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/{route}"


def test_ok_and_headers_sent(servers):
    main, _ = servers
    assert post_json(_url(main, "ok"), {"a": 1}, headers={"Authorization": "Bearer k"}, timeout_s=2) == (
        {"ok": True}, "")
    assert main.seen[-1][1]["authorization"] == "Bearer k"


@pytest.mark.parametrize("route", ["hang", "trickle"])
def test_total_deadline(servers, route):
    main, _ = servers
    start = time.monotonic()
    payload, reason = post_json(_url(main, route), {}, timeout_s=0.5)
    elapsed = time.monotonic() - start
    assert (payload, reason) == (None, "timeout")
    assert elapsed < 1.5, f"{route}: a 0.5 s call took {elapsed:.2f} s"


def test_deadline_with_retries_is_bounded(servers):
    main, _ = servers
    start = time.monotonic()
    assert post_json(_url(main, "trickle"), {}, timeout_s=0.3, retries=2, backoff_s=0.01) == (None, "timeout")
    assert time.monotonic() - start < 2.5


@pytest.mark.parametrize("route, reason", [
    ("garbage", "malformed HTTP response (BadStatusLine)"),
    ("headers", "malformed HTTP response (HTTPException)"),
    ("longheader", "malformed HTTP response (LineTooLong)"),
    ("badchunk", "malformed HTTP response"),
    ("huge", "response too large (> 4194304 bytes)"),
    ("huge/len", "response too large (5242884 bytes > 4194304)"),
    ("deep", "invalid JSON (nested too deeply)"),
    ("deep100", f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"),
    ("nan", "invalid JSON (NaN is not valid JSON)"),
    ("bigint", "invalid JSON (Exceeds the limit"),
    ("binary", "invalid JSON (not UTF-8)"),
    ("status404", "status_code=404"),
    ("status500", "status_code=500"),
    ("close", "connection error (RemoteDisconnected)"),
])
def test_every_failure_is_a_reason(servers, route, reason):
    main, _ = servers
    start = time.monotonic()
    payload, got = post_json(_url(main, route), {}, timeout_s=3)
    assert payload is None and got.startswith(reason), got
    assert time.monotonic() - start < 3.5


def test_no_cross_origin_redirect_and_no_credentials(servers):
    main, other = servers
    before = len(other.seen)
    payload, reason = post_json(_url(main, "redirect_other"), {}, headers={"Authorization": "Bearer secret"},
                                timeout_s=2)
    assert (payload, reason) == (None, "redirect refused (status 307 to another origin)")
    assert len(other.seen) == before  # the other origin never saw a request, let alone the key


def test_same_origin_redirects(servers):
    main, _ = servers
    assert post_json(_url(main, "redirect_same"), {"x": 1}, headers={"Authorization": "k"}, timeout_s=2) == (
        {"ok": True}, "")
    assert main.seen[-1][0] == "/ok" and main.seen[-1][1]["authorization"] == "k"
    assert post_json(_url(main, "redirect_loop"), {}, timeout_s=2)[1] == "redirect refused (more than 3 redirects)"
    assert post_json(_url(main, "redirect_302"), {}, timeout_s=2)[1].startswith("redirect refused (status 302")


def test_retries_are_counted(servers):
    main, _ = servers
    before = len([p for p, _ in main.seen if p == "/status500"])
    assert post_json(_url(main, "status500"), {}, timeout_s=2, retries=2, backoff_s=0.01) == (None, "status_code=500")
    assert len([p for p, _ in main.seen if p == "/status500"]) - before == 3


def test_bad_urls_and_connection_errors():
    for url, reason in [("ftp://x/y", "invalid URL"), ("http://u:p@127.0.0.1:1/", "invalid URL"),
                        ("http://127.0.0.1:99999/", "invalid URL"), ("http://127.0.0.1:1/", "connection error")]:
        payload, got = post_json(url, {}, timeout_s=1)
        assert payload is None and got.startswith(reason), (url, got)
    assert post_json("http://127.0.0.1:1/", {"x": float("nan")}, timeout_s=1)[1].startswith("request not JSON")
    bad_header = post_json("http://127.0.0.1:1/", {}, headers={"X": "a\r\nInjected: 1"}, timeout_s=1)
    assert bad_header[0] is None


def test_loads_strict():
    assert loads_strict(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    for text in ["[" * 1000, "[" * 65 + "]" * 65, "Infinity", '{"a": -Infinity}', "9" * 5000, "{", b"\xff"]:
        with pytest.raises(ValueError):
            loads_strict(text)
    assert json.dumps(loads_strict("[" * 64 + "]" * 64)).count("[") == 64
