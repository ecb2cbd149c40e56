"""An OpenEnv-compatible server for any registered env (``steptool serve ENV_ID``; extra ``[openenv]``).

The server is `openenv-core`'s own FastAPI app (``create_fastapi_app``): one env instance per WebSocket session
(``/ws``, what OpenEnv's ``EnvClient`` speaks), plus the stateless HTTP ``/reset``, ``/step``, ``/state``,
``/schema``, ``/metadata`` and ``/health`` routes. Around it this module adds what a shared deployment needs:
it binds 127.0.0.1 unless told otherwise, an optional bearer token (HTTP header ``Authorization: Bearer T``,
also on the WebSocket handshake), a request-size limit (HTTP bodies and WebSocket frames), a session limit
(``max_sessions``) and idle-session expiry (``idle_timeout_s``, OpenEnv's session reaper).

Every observation carries the step's own reward (``reward``), every step reward of the episode so far
(``step_rewards``), ``status``, ``state_key`` and the JSON-safe step ``info``. They are observation fields and
are also in the observation's ``metadata``; OpenEnv's serializer leaves ``metadata`` out of what it sends, so a
remote client reads the fields.

    from steptool_gym.integrations.openenv_server import StepToolAction, StepToolEnvClient
    with StepToolEnvClient("http://127.0.0.1:8000").sync() as env:
        result = env.reset(task_index=0)
        result = env.step(StepToolAction(action='{"name": "Finish", "arguments": {...}}'))
        result.reward, result.observation.step_rewards, result.observation.state_key
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from steptool_gym.integrations import make_env, require

require("openenv.core", "openenv", "The OpenEnv server")
require("uvicorn", "openenv", "The OpenEnv server")

from openenv.core.client_types import StepResult  # noqa: E402
from openenv.core.env_client import EnvClient  # noqa: E402
from openenv.core.env_server.http_server import create_fastapi_app  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import (  # noqa: E402
    Action,
    ConcurrencyConfig,
    EnvironmentMetadata,
    Observation,
    State,
)
from pydantic import Field  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

__all__ = [
    "ServeConfig",
    "SessionError",
    "StepToolAction",
    "StepToolEnvClient",
    "StepToolEnvironment",
    "StepToolObservation",
    "StepToolState",
    "create_app",
    "serve",
    "start_server",
]


class SessionError(RuntimeError):
    """A request the session cannot serve in its state (step before reset, after the end, after expiry)."""


class StepToolAction(Action):
    """One agent turn: ReAct text, a JSON call, a ``{"name", "arguments"}`` dict or an OpenAI assistant message."""

    action: str | dict[str, Any] = Field(..., description="the tool call, in any form the env's step accepts")


class StepToolObservation(Observation):
    """What the env returned: the text for the model plus the step's reward bookkeeping."""

    text: str = Field(default="", description="reset: system prompt and query; step: the tool response JSON")
    task_id: str = Field(default="", description="the task being played")
    status: int | None = Field(default=None, description="ToolBench status code of the step (None on reset)")
    state_key: str | None = Field(default=None, description="stable hash of the task-relevant state")
    reward_components: dict[str, Any] = Field(default_factory=dict, description="SC, Con, IsSolved of the step")
    step_rewards: list[float] = Field(default_factory=list, description="every step reward of the episode so far")
    truncated: bool = Field(default=False, description="the episode hit the env's step limit")
    info: dict[str, Any] = Field(default_factory=dict, description="the step's info dict (JSON-safe)")


class StepToolState(State):
    """The session's episode: env ID, task, step rewards so far, the latest state key and whether it ended."""

    env_id: str = ""
    task_id: str = ""
    done: bool = False
    step_rewards: list[float] = Field(default_factory=list)
    state_key: str | None = None


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, default=str))


class StepToolEnvironment(Environment[StepToolAction, StepToolObservation, StepToolState]):
    """OpenEnv ``Environment`` over one gym env instance (one per session; sessions never share one)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.env_id = env_id
        self._env = make_env(env_id, env_kwargs)
        self._state = StepToolState(env_id=env_id)
        self._started = False
        self._closed = False

    def reset(self, seed: int | None = None, episode_id: str | None = None, task_id: str | None = None,
              task_index: int | None = None, **kwargs: Any) -> StepToolObservation:
        """Start an episode: ``task_id`` or ``task_index`` pick the task, else the seeded generator draws one."""
        self._check_open()
        if kwargs:
            raise ValueError(f"unknown reset argument(s) {sorted(kwargs)}; expected seed, episode_id, task_id, "
                             "task_index")
        options: dict[str, Any] = {}
        if task_id is not None:
            options["task_id"] = task_id
        if task_index is not None:
            options["task_index"] = int(task_index)
        text, info = self._env.reset(seed=seed, options=options or None)
        self._started = True
        key = info.get("state_key")
        self._state = StepToolState(env_id=self.env_id, episode_id=episode_id or str(uuid.uuid4()), step_count=0,
                                    task_id=str(info.get("task_id", "")), state_key=key)
        meta = {"status": None, "state_key": key, "task_id": self._state.task_id}
        return StepToolObservation(text=text, task_id=self._state.task_id, state_key=key, done=False, reward=None,
                                   info=_json_safe(info), metadata=meta)

    def step(self, action: StepToolAction, timeout_s: float | None = None, **kwargs: Any) -> StepToolObservation:
        """One tool call; the observation holds its reward, status, state key and the episode's step rewards."""
        self._check_open()
        if not self._started:
            raise SessionError("step before reset: send a reset first (HTTP /step is stateless; use the "
                               "WebSocket session /ws, e.g. OpenEnv's EnvClient)")
        if self._state.done:
            raise SessionError("the episode has ended; send a reset to start the next one")
        text, reward, terminated, truncated, info = self._env.step(action.action)
        state = self._state
        state.step_count += 1
        state.step_rewards = [*state.step_rewards, float(reward)]
        state.done = bool(terminated or truncated)
        state.state_key = info.get("state_key")
        status = int(info["status"])
        meta = {"status": status, "state_key": state.state_key, "task_id": state.task_id,
                "is_solved": info.get("is_solved")}
        return StepToolObservation(
            text=text, task_id=state.task_id, status=status, state_key=state.state_key,
            reward_components=_json_safe(info.get("reward_components", {})), step_rewards=list(state.step_rewards),
            truncated=bool(truncated), info=_json_safe(info), done=state.done, reward=float(reward), metadata=meta)

    @property
    def state(self) -> StepToolState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        doc = (type(self._env.unwrapped).__doc__ or "").strip().splitlines()
        return EnvironmentMetadata(name=self.env_id, description=doc[0] if doc else self.env_id,
                                   version="0.1.0", author="StepTool-Gym")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._env.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("this session was closed (idle longer than the server's idle timeout?); reconnect")


@dataclass
class ServeConfig:
    """Settings of ``steptool serve``; checked on construction (one-line `ValueError` for a bad value)."""

    env_id: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_sessions: int = 64
    """Concurrent WebSocket sessions (one env each); one more is refused with OpenEnv's CAPACITY_REACHED."""
    idle_timeout_s: float | None = 300.0
    """A session idle this long is closed (checked every max(timeout/4, 5) s); None keeps sessions forever."""
    token: str | None = None
    """When set, every request but ``/health`` needs ``Authorization: Bearer <token>``."""
    max_request_bytes: int = 1 << 20
    """Largest HTTP body and WebSocket message accepted (413 / close code 1009 above it)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535]; got {self.port}")
        if self.max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1; got {self.max_sessions}")
        if self.idle_timeout_s is not None and self.idle_timeout_s <= 0:
            raise ValueError(f"idle_timeout_s must be > 0 or None; got {self.idle_timeout_s}")
        if self.max_request_bytes < 1024:
            raise ValueError(f"max_request_bytes must be >= 1024; got {self.max_request_bytes}")
        if self.token is not None and len(self.token) < 8:
            raise ValueError("token must be at least 8 characters")


class _Guard:
    """ASGI middleware: bearer-token check (HTTP and WebSocket handshake) and the HTTP body-size limit."""

    def __init__(self, app: Any, token: str | None, max_request_bytes: int) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and scope.get("path") != "/health":
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                if kind == "websocket":  # closing before accept makes the server answer the handshake with 403
                    await send({"type": "websocket.close", "code": 1008})
                    return None
                return await _reply(send, 401, "missing or wrong bearer token (Authorization: Bearer <token>)")
        if kind == "websocket":
            try:
                return await self.app(scope, receive, send)
            except WebSocketDisconnect:  # openenv-core closes sockets the client already closed: not an error
                return None
        if kind == "http":
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_request_bytes:
                return await _reply(send, 413, f"request body over {self.max_request_bytes} bytes")
            receive = self._bounded(receive, send)
        return await self.app(scope, receive, send)

    def _bounded(self, receive: Any, send: Any) -> Any:
        seen = 0
        limit = self.max_request_bytes

        async def wrapped() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(f"request body over {limit} bytes")
            return message

        return wrapped


class _TooLarge(ValueError):
    pass


async def _reply(send: Any, code: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(config: ServeConfig) -> Any:
    """The ASGI app: OpenEnv's FastAPI app for `config.env_id`, wrapped with the token and size guard."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    make_env(config.env_id, config.env_kwargs).close()  # fail here, once, on a bad ID or bad kwargs

    def factory() -> StepToolEnvironment:
        return StepToolEnvironment(config.env_id, config.env_kwargs)

    factory.__name__ = f"StepToolEnvironment[{config.env_id}]"
    concurrency = ConcurrencyConfig(max_concurrent_envs=config.max_sessions, session_timeout=config.idle_timeout_s)
    # openenv-core builds one env from the factory to read SUPPORTS_CONCURRENT_SESSIONS off its class.
    app = create_fastapi_app(factory, StepToolAction, StepToolObservation, concurrency_config=concurrency)

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409 if isinstance(exc, SessionError) else 400,
                            content={"detail": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})

    for error in (SessionError, _TooLarge, ValueError):
        app.add_exception_handler(error, bad_request)
    return _Guard(app, config.token, config.max_request_bytes)


def _uvicorn_config(config: ServeConfig, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(create_app(config), host=config.host, port=config.port, log_level=log_level,
                          ws_max_size=config.max_request_bytes, lifespan="on")


def serve(config: ServeConfig, log_level: str = "info") -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    uvicorn.Server(_uvicorn_config(config, log_level)).run()


class RunningServer:
    """A server on a background thread (tests, benchmarks, notebooks); `stop()` shuts it down."""

    def __init__(self, config: ServeConfig, log_level: str = "warning") -> None:
        import uvicorn

        self._server = uvicorn.Server(_uvicorn_config(config, log_level))
        self._thread = threading.Thread(target=self._server.run, name="steptool-openenv", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the OpenEnv server for {config.env_id} did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{config.host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(config: ServeConfig) -> RunningServer:
    """Start the server on a background thread and return it once it accepts connections (``.url``)."""
    return RunningServer(config)


class StepToolEnvClient(EnvClient[StepToolAction, StepToolObservation, StepToolState]):
    """OpenEnv ``EnvClient`` for a ``steptool serve`` server, typed, with the optional bearer token.

    ``.sync()`` gives OpenEnv's synchronous wrapper. Any other OpenEnv client works too (``GenericEnvClient``
    with dict actions ``{"action": ...}``), as long as it can send the token when the server wants one.
    """

    def __init__(self, base_url: str, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._token = token

    async def connect(self) -> StepToolEnvClient:
        if self._ws is not None or self._token is None:
            await super().connect()
            return self
        from websockets.asyncio.client import connect as ws_connect

        try:
            self._ws = await ws_connect(self._ws_url, open_timeout=self._connect_timeout,
                                        max_size=self._max_message_size,
                                        additional_headers={"Authorization": f"Bearer {self._token}"})
        except Exception as exc:
            raise ConnectionError(f"Failed to connect to {self._ws_url}: {exc}") from exc
        return self

    def _step_payload(self, action: StepToolAction) -> dict[str, Any]:
        return {"action": action.action}

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[StepToolObservation]:
        obs = dict(payload.get("observation", {}))
        observation = StepToolObservation(**obs, done=payload.get("done", False), reward=payload.get("reward"))
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> StepToolState:
        return StepToolState(**payload)
