"""Atomic training checkpoints: adapter + value head (safetensors), optimizer, RNG states and counters.

A checkpoint is a directory ``checkpoints/update_NNNNNN`` written under a temporary name and moved into place
with `os.replace`, then ``checkpoints/latest`` (a one-line file, also replaced atomically) names it. A crash
mid-write leaves the previous checkpoint intact. Loading uses ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from steptool_agents.atomic import save_dir_atomic, write_text_atomic
from steptool_agents.models import Policy

__all__ = ["latest_checkpoint", "load_checkpoint", "save_checkpoint"]


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }


def _set_rng_state(state: dict[str, Any], torch_state: torch.Tensor) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch_state)


def save_checkpoint(root: Path, update: int, policy: Policy, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any]) -> Path:
    """Write checkpoint `update` under ``root/checkpoints`` and point ``latest`` at it."""
    ckpt_root = root / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"update_{update:06d}"

    def write(tmp: Path) -> None:
        policy.save(tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(torch.get_rng_state(), tmp / "torch_rng.pt")
        (tmp / "state.json").write_text(json.dumps({"update": update, "rng": _rng_state(), **state}))

    save_dir_atomic(ckpt_root / name, write)
    write_text_atomic(ckpt_root / "latest", name + "\n")
    return ckpt_root / name


def latest_checkpoint(root: Path) -> Path | None:
    """The checkpoint ``latest`` names, or None."""
    pointer = root / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    path = root / "checkpoints" / pointer.read_text().strip()
    return path if path.is_dir() else None


def load_checkpoint(path: Path, policy: Policy, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore weights, optimizer and RNG states from `path`; returns its ``state.json``."""
    policy.load_adapter_weights(path)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    state = json.loads((path / "state.json").read_text())
    _set_rng_state(state["rng"], torch.load(path / "torch_rng.pt", weights_only=True))
    return state
