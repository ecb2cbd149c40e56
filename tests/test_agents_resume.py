"""Crash safety: a training process killed with SIGKILL resumes (``--resume``) into the uninterrupted run.

The killed runs are real ``python -m steptool_agents.cli train`` subprocesses: one is killed from outside as
soon as its first checkpoint is on disk (wherever it then is), two kill themselves at fixed points of writing
checkpoint 2 (the directory half-written; the directory published but ``latest`` not yet moved).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from rich.console import Console  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.runtime.checkpoint import latest_checkpoint  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
UPDATES = 6
TIMING_KEYS = {"rollout_s", "score_s", "train_s", "train_tokens_per_s"}
CONFIG = {
    "algo": "steptool", "env_id": ENV_ID, "eval_split": "test", "max_steps": 3, "checkpoint_every": 1,
    "warm_start_sft": False, "threads": 1,
    "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
              "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
    "rollout": {"num_envs": 2, "episodes_per_update": 2, "max_new_tokens": 24},
    # An untrained tiny model earns no reward; the entropy bonus (and then the KL penalty) still move the weights,
    # so every update depends on the sampled episodes and on the restored RNG and optimizer states.
    "ppo": {"updates": UPDATES, "minibatch_size": 2, "grad_accum_steps": 2, "learning_rate": 1e-2,
            "target_approx_kl": None, "ent_coef": 0.05},
}
# Runs the real CLI with a SIGKILL injected at a fixed point of writing checkpoint 2.
KILL_AT = """
import os, signal, sys
from steptool_agents import cli
from steptool_agents.runtime import checkpoint

point, argv = sys.argv[1], sys.argv[2:]
save_dir, write_text = checkpoint.save_dir_atomic, checkpoint.write_text_atomic

def save_dir_atomic(target, write):
    def write_then_die(tmp):
        write(tmp)
        if point == "mid-save" and target.name == "update_000002":
            os.kill(os.getpid(), signal.SIGKILL)
    save_dir(target, write_then_die)

def write_text_atomic(path, text):
    if point == "before-pointer" and text.strip() == "update_000002":
        os.kill(os.getpid(), signal.SIGKILL)
    write_text(path, text)

checkpoint.save_dir_atomic, checkpoint.write_text_atomic = save_dir_atomic, write_text_atomic
sys.exit(cli.main(argv))
"""


def _rows(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in read_csv(out / "metrics.csv")]


def _train_cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--config", str(cfg), "--out", str(out), "--no-eval", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "toy.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The reference run, in-process (the CLI in a subprocess gives the same bits: same config, one thread)."""
    out = tmp_path_factory.mktemp("full")
    run_training(TrainConfig.from_dict(CONFIG), out, evaluate=False, console=Console(quiet=True))
    return out


def _resume_and_compare(config: Path, parts: list[Path], full: Path) -> None:
    """Resume every run in `parts` (concurrently) and check each ends exactly as the uninterrupted run."""
    procs = [subprocess.Popen([sys.executable, "-m", "steptool_agents.cli", *_train_cmd(config, part, "--resume")],
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for part in parts]
    for part, proc in zip(parts, procs, strict=True):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert "resumed from update_" in err
        rows = _rows(part)
        assert [int(r["update"]) for r in rows] == list(range(1, UPDATES + 1))  # nothing duplicated or missing
        assert rows == _rows(full)
        assert len({r["policy_loss"] for r in rows}) > 1  # the run is not trivially constant
        for name in ("adapter_model.safetensors", "value_head.safetensors"):
            a, b = load_file(str(full / "final" / name)), load_file(str(part / "final" / name))
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        assert not [p.name for p in (part / "checkpoints").iterdir() if p.name.startswith(".")]  # temps cleared


def test_sigkill_after_first_checkpoint_then_resume(config: Path, uninterrupted: Path, tmp_path: Path) -> None:
    part = tmp_path / "part"
    proc = subprocess.Popen([sys.executable, "-m", "steptool_agents.cli", *_train_cmd(config, part)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while latest_checkpoint(part) is None:
            assert proc.poll() is None, f"training exited before its first checkpoint: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (part / "final").exists()  # killed mid-run, not after it
    _resume_and_compare(config, [part], uninterrupted)


def test_sigkill_while_writing_a_checkpoint_then_resume(config: Path, uninterrupted: Path, tmp_path: Path) -> None:
    script = tmp_path / "kill_at.py"
    script.write_text(KILL_AT)
    points = {"mid-save": tmp_path / "mid-save", "before-pointer": tmp_path / "before-pointer"}
    procs = {point: subprocess.Popen([sys.executable, str(script), point, *_train_cmd(config, part)], env=_env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for point, part in points.items()}  # both at once: the kill points do not depend on timing
    for point, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, f"{point}: {err[-2000:]}"
    for point, part in points.items():
        ckpts = part / "checkpoints"
        assert [int(r["update"]) for r in read_csv(part / "metrics.csv")] == [1, 2]  # row 2 outlived checkpoint 2
        assert (ckpts / "latest").read_text().strip() == "update_000001"
        if point == "mid-save":  # a half-written checkpoint stays under a temporary name nobody resumes from
            assert not (ckpts / "update_000002").exists()
            assert [p for p in ckpts.iterdir() if p.name.startswith(".update_000002-")]
        else:  # published and complete, but `latest` still names checkpoint 1
            assert (ckpts / "update_000002" / "state.json").is_file()
        assert latest_checkpoint(part) == ckpts / "update_000001"
    _resume_and_compare(config, list(points.values()), uninterrupted)
