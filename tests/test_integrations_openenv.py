"""`steptool serve`: OpenEnv's own clients play whole episodes over the server (loopback, real sockets)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import gymnasium as gym
import pytest

pytest.importorskip("openenv.core")
from openenv.core.generic_client import GenericEnvClient

import steptool_gym  # noqa: F401
from steptool_gym.integrations.openenv_server import (
    ServeConfig,
    StepToolAction,
    StepToolEnvClient,
    start_server,
)

ENV_ID = "StepTool-ToolBench-G1-v0"
KW = {"split": "test_instruction"}


def _oracle_episode(task_index: int) -> tuple[list[str], list[float], list[str], list[int]]:
    """The oracle's actions (ReAct text, as an LLM sends them) and the gym env's own rewards, keys and statuses."""
    env = gym.make(ENV_ID, **KW)
    _, info = env.reset(options={"task_index": task_index})
    actions, rewards, keys, statuses = [], [], [info["state_key"]], []
    while True:
        call = env.unwrapped.oracle_action()
        actions.append(call.to_react())
        _, reward, terminated, truncated, info = env.step(actions[-1])
        rewards.append(float(reward))
        keys.append(info["state_key"])
        statuses.append(info["status"])
        if terminated or truncated:
            return actions, rewards, keys, statuses


@pytest.fixture(scope="module")
def server():
    with start_server(ServeConfig(ENV_ID, port=0, max_sessions=4, env_kwargs=KW)) as running:
        yield running


def test_openenv_client_plays_full_episodes_with_the_gym_rewards(server):
    for task_index in (0, 3):
        actions, rewards, keys, statuses = _oracle_episode(task_index)
        with StepToolEnvClient(server.url).sync() as client:
            result = client.reset(task_index=task_index)
            assert not result.done and result.observation.text and result.observation.state_key == keys[0]
            for i, action in enumerate(actions):
                result = client.step(StepToolAction(action=action))
                assert result.reward == pytest.approx(rewards[i])
                assert result.observation.step_rewards == pytest.approx(rewards[: i + 1])
                assert result.observation.state_key == keys[i + 1]
                assert result.observation.status == statuses[i] == result.observation.info["status"]
            assert result.done and result.observation.info["is_solved"] == 1.0
            state = client.state()
            assert state.step_count == len(actions) and state.done and state.step_rewards == pytest.approx(rewards)


def test_generic_client_and_dict_actions(server):
    actions, rewards, *_ = _oracle_episode(1)
    with GenericEnvClient(server.url).sync() as client:
        result = client.reset(task_index=1)
        assert "text" in result.observation
        for action, reward in zip(actions, rewards):
            result = client.step({"action": action})
            assert result.reward == pytest.approx(reward)
        assert result.done


def test_concurrent_sessions_are_isolated(server):
    episodes = {i: _oracle_episode(i) for i in (0, 1, 2)}

    async def play(task_index: int) -> list[float]:
        actions = episodes[task_index][0]
        async with StepToolEnvClient(server.url) as client:
            await client.reset(task_index=task_index)
            got = []
            for action in actions:  # interleaved with the other sessions' steps
                got.append((await client.step(StepToolAction(action=action))).reward)
                await asyncio.sleep(0)
            return got

    async def main() -> list[list[float]]:
        return await asyncio.gather(*(play(i) for i in episodes))

    for task_index, got in zip(episodes, asyncio.run(main())):
        assert got == pytest.approx(episodes[task_index][1])


def test_bad_requests_get_clear_errors(server):
    with StepToolEnvClient(server.url).sync() as client:
        with pytest.raises(RuntimeError, match="step before reset"):
            client.step(StepToolAction(action="Action: x"))
        with pytest.raises(RuntimeError, match="Unknown task_id"):
            client.reset(task_id="no-such-task")
        client.reset(task_index=0)
        bad = client.step(StepToolAction(action="not a tool call at all"))
        assert bad.observation.status != 0 and bad.observation.info["reward_components"]["SC"] == 0.0
    with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):  # an action without the `action` field
        _raw_step(server.url, {"wrong": 1})
    # HTTP /step is stateless (a fresh env per request): a clear 409, not a 500
    with pytest.raises(urllib.error.HTTPError) as err:
        _post(server.url + "/step", {"action": {"action": "x"}})
    assert err.value.code == 409 and "step before reset" in json.loads(err.value.read())["detail"]


def _raw_step(url: str, data: dict) -> None:
    async def go() -> None:
        async with StepToolEnvClient(url) as client:
            await client._send_and_receive({"type": "step", "data": data})

    asyncio.run(go())


def _post(url: str, body: dict, headers: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_session_limit_token_and_request_size():
    config = ServeConfig(ENV_ID, port=0, max_sessions=1, token="s3cret-token", max_request_bytes=4096, env_kwargs=KW)
    with start_server(config) as running:
        with pytest.raises(ConnectionError, match="403"):
            StepToolEnvClient(running.url).sync().connect()
        with pytest.raises(ConnectionError, match="403"):
            StepToolEnvClient(running.url, token="wrong-token").sync().connect()
        with pytest.raises(urllib.error.HTTPError) as err:
            _post(running.url + "/reset", {})
        assert err.value.code == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        assert "observation" in _post(running.url + "/reset", {}, auth)
        with pytest.raises(urllib.error.HTTPError) as err:
            _post(running.url + "/reset", {"pad": "x" * 10_000}, auth)
        assert err.value.code == 413
        with StepToolEnvClient(running.url, token="s3cret-token").sync() as first:
            assert first.reset(task_index=0).observation.text
            # max_sessions=1: OpenEnv answers a second session with CAPACITY_REACHED and closes it
            from websockets.sync.client import connect

            with connect(running.url.replace("http", "ws") + "/ws",
                         additional_headers={"Authorization": "Bearer s3cret-token"}) as second:
                error = json.loads(second.recv(timeout=30))
            assert error["type"] == "error" and error["data"]["code"] == "CAPACITY_REACHED"
            from websockets.exceptions import ConnectionClosedError

            with pytest.raises(ConnectionClosedError, match="1009"):  # a WebSocket message over the limit
                first.step(StepToolAction(action="x" * 10_000))


def test_idle_sessions_expire():
    with start_server(ServeConfig(ENV_ID, port=0, max_sessions=1, idle_timeout_s=0.5, env_kwargs=KW)) as running:
        with StepToolEnvClient(running.url).sync() as client:
            client.reset(task_index=0)
            deadline = time.monotonic() + 20  # the reaper checks every max(timeout/4, 5) s
            while time.monotonic() < deadline:
                time.sleep(1.0)
                try:
                    client.reset(task_index=0)
                except RuntimeError as exc:
                    assert "closed" in str(exc)
                    break
            else:
                pytest.fail("the idle session was not closed")
        with StepToolEnvClient(running.url).sync() as again:  # the slot was freed
            assert again.reset(task_index=0).observation.text


def test_bad_config_is_one_line():
    with pytest.raises(ValueError, match="max_sessions must be >= 1"):
        ServeConfig(ENV_ID, max_sessions=0)
    with pytest.raises(ValueError, match="unknown env"):
        start_server(ServeConfig("StepTool-Nope-v0", port=0))


def test_cli_serve_subprocess(tmp_path):
    """`steptool serve` in its own process: binds 127.0.0.1, serves an episode, exits on SIGTERM."""
    port_file = tmp_path / "log"
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen([sys.executable, "-m", "steptool_gym.cli", "serve", ENV_ID, "--port", str(port),
                             "--env-kwarg", "split=test_instruction", "--log-level", "warning"],
                            stdout=port_file.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert proc.poll() is None, port_file.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        actions, rewards, *_ = _oracle_episode(2)
        with StepToolEnvClient(f"http://127.0.0.1:{port}").sync() as client:
            client.reset(task_index=2)
            got = [client.step(StepToolAction(action=a)).reward for a in actions]
        assert got == pytest.approx(rewards)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    bad = subprocess.run([sys.executable, "-m", "steptool_gym.cli", "serve", "StepTool-Nope-v0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "unknown env" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
