"""OpenEnv server throughput: steps/s and per-step latency at 1, 8 and 64 concurrent sessions vs in-process.

    python benchmarks/serve_throughput.py [--env StepTool-ToolBench-v0] [--sessions 1 8 64] [--seconds 4]
                                          [--repeats 3] [--note TEXT] [--json]

Needs the ``openenv`` extra. Method:

* The server is ``steptool serve ENV --port P --max-sessions 64`` in its own process on 127.0.0.1 (loopback
  only); the clients are OpenEnv's async ``EnvClient`` (`StepToolEnvClient`), one WebSocket session each, all on
  one asyncio loop in this process. Each session replays the oracle's episodes (the actions as ReAct text, as an
  LLM sends them): reset to a task, step until the episode ends, next task. The sessions connect before the
  timed window (steady state; the server builds one env per session on connect). Latency is per step, from send
  to the parsed reply; steps/s counts steps of every session over the timed window (`--seconds`, bounded).
* In-process: the same replay on one ``gym.make`` env in this process (the floor the server adds to).
* Each configuration runs `--repeats` times; the JSON holds every run and the medians. CPU-seconds are the
  server process's plus this process's (psutil), so the cost per step includes both sides.

The machine matters: on a shared 2-core CPU the server and the clients compete for the same cores.
Writes benchmarks/results/serve_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import machine_info, package_versions

RESULTS = Path(__file__).parent / "results" / "serve_throughput.json"
# The anchor: StableToolBench's API server answers ~350 calls/s sequentially (not measured here).
STB_SERVER_ANCHOR = 350.0


def _episodes(env_id: str, tasks: int) -> list[tuple[int, list[str]]]:
    import gymnasium as gym

    import steptool_gym  # noqa: F401
    from steptool_gym.bench import record_oracle_actions

    env = gym.make(env_id, disable_env_checker=True).unwrapped
    return [(index, [call.to_react() for call in calls]) for index, calls in record_oracle_actions(env, tasks)]


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    return {"p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def in_process(env_id: str, episodes: list[tuple[int, list[str]]], seconds: float) -> dict[str, Any]:
    import gymnasium as gym

    env = gym.make(env_id, disable_env_checker=True)
    latencies: list[float] = []
    cpu0, start = time.process_time(), time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        index, actions = episodes[i % len(episodes)]
        i += 1
        env.reset(options={"task_index": index})
        for action in actions:
            t = time.perf_counter()
            env.step(action)
            latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {"steps": len(latencies), "wall_s": wall, "cpu_s": cpu, "steps_per_s": len(latencies) / wall,
            "cpu_ms_per_step": 1e3 * cpu / len(latencies), **_percentiles(latencies)}


async def _session(client: Any, episodes: list[tuple[int, list[str]]], offset: int, stop: float,
                   latencies: list[float]) -> None:
    from steptool_gym.integrations.openenv_server import StepToolAction

    i = offset
    while time.perf_counter() < stop:
        index, actions = episodes[i % len(episodes)]
        i += 1
        await client.reset(task_index=index)
        for action in actions:
            t = time.perf_counter()
            await client.step(StepToolAction(action=action))
            latencies.append(time.perf_counter() - t)
            if time.perf_counter() >= stop:
                return


def over_server(url: str, server_pid: int, episodes: list[tuple[int, list[str]]], sessions: int,
                seconds: float) -> dict[str, Any]:
    """`sessions` clients connect first (one env each on the server); then the timed window runs."""
    import psutil

    from steptool_gym.integrations.openenv_server import StepToolEnvClient

    server = psutil.Process(server_pid)
    me = psutil.Process()
    latencies: list[float] = []
    timed: dict[str, float] = {}

    async def run() -> None:
        clients = [StepToolEnvClient(url, connect_timeout_s=120, message_timeout_s=120) for _ in range(sessions)]
        for client in clients:  # one at a time: the server builds each session's env on connect
            await client.connect()
        try:
            timed["cpu0"] = sum(server.cpu_times()[:2]) + sum(me.cpu_times()[:2])
            start = time.perf_counter()
            stop = start + seconds
            await asyncio.gather(*(_session(c, episodes, k * 7, stop, latencies) for k, c in enumerate(clients)))
            timed["wall"] = time.perf_counter() - start
            timed["cpu"] = sum(server.cpu_times()[:2]) + sum(me.cpu_times()[:2]) - timed["cpu0"]
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    asyncio.run(run())
    wall, cpu = timed["wall"], timed["cpu"]
    return {"sessions": sessions, "steps": len(latencies), "wall_s": wall, "cpu_s": cpu,
            "steps_per_s": len(latencies) / wall, "cpu_ms_per_step": 1e3 * cpu / max(1, len(latencies)),
            **_percentiles(latencies)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(env_id: str, port: int, max_sessions: int, log: Any) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "steptool_gym.cli", "serve", env_id, "--port", str(port),
                             "--max-sessions", str(max_sessions), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)  # a file: an unread pipe would block the server
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the server did not start (see its log)") from None
            time.sleep(0.3)


def _median(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("steps_per_s", "p50_ms", "p99_ms", "cpu_ms_per_step", "wall_s", "cpu_s")
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="StepTool-ToolBench-v0")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=4.0, help="timed window per run (bounded: <= 60)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--note", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.seconds <= 60 or not 1 <= args.repeats <= 10 or max(args.sessions) > 256:
        raise SystemExit("serve_throughput: --seconds in (0, 60], --repeats in [1, 10], sessions <= 256")
    from rich.progress import Progress

    episodes = _episodes(args.env, args.tasks)
    port = _free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="steptool-serve-", suffix=".log", delete=False)
    proc = _start_server(args.env, port, max(args.sessions), log)
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, list[dict[str, Any]]] = {"in_process": [], **{str(n): [] for n in args.sessions}}
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("serve throughput", total=args.repeats * (1 + len(args.sessions)))
            over_server(url, proc.pid, episodes, 2, 2.0)  # warm-up: imports, suite cache, first session
            for _ in range(args.repeats):  # interleaved so load drifts hit every configuration alike
                runs["in_process"].append(in_process(args.env, episodes, args.seconds))
                bar.advance(task)
                for n in args.sessions:
                    runs[str(n)].append(over_server(url, proc.pid, episodes, n, args.seconds))
                    bar.advance(task)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        print(f"server log: {log.name}", file=sys.stderr)
    floor = _median(runs["in_process"])
    rows = [{"mode": "in-process", "sessions": 1, **floor, "vs_in_process": 1.0}]
    for n in args.sessions:
        med = _median(runs[str(n)])
        rows.append({"mode": "server", "sessions": n, **med, "vs_in_process": med["steps_per_s"] / floor["steps_per_s"],
                     "vs_stb_anchor": med["steps_per_s"] / STB_SERVER_ANCHOR})
    report = {"env": args.env, "seconds": args.seconds, "repeats": args.repeats, "tasks": len(episodes),
              "stb_server_anchor_calls_per_s": STB_SERVER_ANCHOR, "rows": rows, "runs": runs,
              "machine": machine_info(args.note), "versions": package_versions((*_pkgs(),))}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['mode']:>10} x{r['sessions']:<3} {r['steps_per_s']:>9.1f} steps/s  p50 {r['p50_ms']:.2f} ms  "
                  f"p99 {r['p99_ms']:.2f} ms  {r['cpu_ms_per_step']:.3f} CPU-ms/step  x{r['vs_in_process']:.3f}")
    print(f"wrote {RESULTS}", file=sys.stderr)


def _pkgs() -> tuple[str, ...]:
    return ("steptool-gym", "gymnasium", "openenv-core", "fastapi", "uvicorn", "websockets")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
