"""Golden traces: every training algorithm, a short seeded run on the toy suite, pinned to tests/golden/traces.json.

The runs go through the public entry points only (`run_training`, `build_base_model`), so they stay valid while the
code behind them moves. Pinned per algorithm: every numeric per-update metric (losses, advantage statistics, KL,
rewards, pass rate, …; timings excepted) and a fingerprint of the final weights (sum, absolute sum and a projection
on a fixed random vector of all tensors in ``final/``). SFT is the warm start every RL run begins from: its loss and
the fingerprint of the SFT-trained base model are pinned too. Warm-starting makes some episodes score, so every
algorithm sees non-zero advantages and really updates.

A change that alters these numbers on purpose regenerates the file: ``STEPTOOL_REGEN_GOLDEN=1 pytest
tests/test_golden_traces.py`` (and says so in its commit).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402
from steptool_agents.warmstart import build_base_model  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
GOLDEN = Path(__file__).parent / "golden" / "traces.json"
REGEN = os.environ.get("STEPTOOL_REGEN_GOLDEN") == "1"
REL, ABS = 1e-4, 1e-6
ALGOS = ("steptool", "ppo", "grpo", "gigpo", "reinforce-rebn", "rft", "eto", "archer")


def _config(algo: str) -> dict[str, Any]:
    return {
        "algo": algo, "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 2, "max_steps": 3, "seed": 1,
        "checkpoint_every": 1, "warm_start_sft": True, "threads": 1,
        "env_kwargs": {"reward_mode": "step"},  # the paper's reward: traces pin trainer mechanics, not the env default
        "model": {"vocab_size": 400, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "sft": {"episodes": 32, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2, "rft_rounds": 2,
                "rft_episodes": 8},
        "rollout": {"num_envs": 2, "episodes_per_update": 8, "max_new_tokens": 96},
        "ppo": {"updates": 2, "minibatch_size": 2, "grad_accum_steps": 2, "learning_rate": 1e-2,
                "target_approx_kl": None, "gamma": 0.9},
        "grpo": {"group_size": 2},
        "gigpo": {"group_size": 2, "step_weight": 0.5},
        "eto": {"rounds": 2, "episodes": 4, "epochs": 2, "batch_size": 2, "learning_rate": 1e-2,
                "explore_temperature": 1.0, "sft_weight": 0.5},
        "archer": {"updates": 2, "critic_batch_size": 8, "critic_updates": 2, "minibatch_size": 1,
                   "warmup_updates": 1, "actor_lr": 1e-2},
    }


def _fingerprint(directory: Path) -> dict[str, float]:
    """Sum, |sum| and a fixed random projection of every tensor in `directory`'s safetensors files."""
    tensors = []
    for path in sorted(directory.glob("*.safetensors")):
        state = load_file(str(path))
        tensors += [state[k].detach().to(torch.float64).flatten() for k in sorted(state)]
    flat = torch.cat(tensors)
    probe = torch.randn(flat.numel(), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return {"numel": float(flat.numel()), "sum": float(flat.sum()), "abs_sum": float(flat.abs().sum()),
            "projection": float(flat @ probe)}


def _metrics(out: Path) -> list[dict[str, float]]:
    """Per-update metrics without timings and throughputs (wall-clock, not behaviour)."""
    rows = []
    for row in read_csv(out / "metrics.csv"):
        rows.append({k: float(v) for k, v in row.items()
                     if v != "" and not (k.endswith("_s") or k.endswith("_per_s"))})  # "": not logged that round
    return rows


@pytest.fixture(scope="module")
def warm_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("golden-warm")
    torch.set_num_threads(1)  # as run_training does with the config's threads = 1
    build_base_model(TrainConfig.from_dict(_config("sft")), out)
    return out / "model"


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    if REGEN:
        return {}
    assert GOLDEN.exists(), f"{GOLDEN} is missing: STEPTOOL_REGEN_GOLDEN=1 pytest {Path(__file__).name} writes it"
    return json.loads(GOLDEN.read_text())


def _check(name: str, trace: dict[str, Any], golden: dict[str, Any]) -> None:
    if REGEN:
        data = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        data[name] = trace
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
        return
    want = golden[name]
    assert trace["weights"] == pytest.approx(want["weights"], rel=REL, abs=ABS), f"{name}: final weights differ"
    assert len(trace["metrics"]) == len(want["metrics"]), f"{name}: number of updates differs"
    for i, (got, exp) in enumerate(zip(trace["metrics"], want["metrics"], strict=True)):
        missing = set(exp) - set(got)
        assert not missing, f"{name} update {i + 1}: metrics {sorted(missing)} are no longer logged"
        assert {k: got[k] for k in exp} == pytest.approx(exp, rel=REL, abs=ABS), f"{name} update {i + 1}"
    for key, value in want.get("extra", {}).items():
        assert trace["extra"][key] == pytest.approx(value, rel=REL, abs=ABS), f"{name}: {key}"


def test_sft_warm_start_golden(warm_model: Path, golden: dict[str, Any]) -> None:
    meta = json.loads((warm_model / "steptool.json").read_text())
    trace = {"metrics": [], "weights": _fingerprint(warm_model),
             "extra": {"sft_loss": meta["sft"]["loss"], "sft_episodes": float(meta["sft"]["episodes"])}}
    _check("sft", trace, golden)


@pytest.mark.parametrize("algo", ALGOS)
def test_algorithm_golden(algo: str, warm_model: Path, golden: dict[str, Any], tmp_path: Path) -> None:
    shutil.copytree(warm_model, tmp_path / "model")
    run_training(TrainConfig.from_dict(_config(algo)), tmp_path, evaluate=False)
    trace = {"metrics": _metrics(tmp_path), "weights": _fingerprint(tmp_path / "final")}
    assert trace["metrics"], f"{algo} logged no update"
    _check(algo, trace, golden)
