"""Atomic training checkpoints: adapter + value head (safetensors), optimizer, RNG states and counters.

A checkpoint is a directory ``checkpoints/update_NNNNNN`` written under a temporary name and moved into place
with `os.replace`, then ``checkpoints/latest`` (a one-line file, also replaced atomically) names it. Trainers with
state beyond the policy (ArCHer's critic, target critic and replay buffer) add it as ``NAME.safetensors`` files.
A crash mid-write leaves the previous checkpoint intact. Loading uses ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from steptool_agents.policy.models import Policy
from steptool_agents.runtime.atomic import remove_stale_temps, save_dir_atomic, write_text_atomic

__all__ = ["latest_checkpoint", "load_checkpoint", "save_checkpoint"]

_CHECKPOINT_NAME = re.compile(r"update_\d{6,}")


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
                    state: dict[str, Any], tensors: Mapping[str, Mapping[str, torch.Tensor]] | None = None) -> Path:
    """Write checkpoint `update` under ``root/checkpoints`` and point ``latest`` at it.

    `tensors` maps a file stem to extra weights, written as ``STEM.safetensors`` in the same atomic directory.
    """
    ckpt_root = root / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    for prefix in ("update_", "latest"):  # temporaries of a run killed mid-save
        remove_stale_temps(ckpt_root, prefix)
    name = f"update_{update:06d}"

    def write(tmp: Path) -> None:
        policy.save(tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(torch.get_rng_state(), tmp / "torch_rng.pt")
        if torch.cuda.is_available():  # sampling on a GPU draws from the CUDA generators
            torch.save(torch.cuda.get_rng_state_all(), tmp / "cuda_rng.pt")
        for stem, weights in (tensors or {}).items():
            save_file({k: v.detach().contiguous() for k, v in weights.items()}, str(tmp / f"{stem}.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"update": update, "rng": _rng_state(), **state}))

    save_dir_atomic(ckpt_root / name, write)
    write_text_atomic(ckpt_root / "latest", name + "\n")
    return ckpt_root / name


def latest_checkpoint(root: Path) -> Path | None:
    """The checkpoint ``latest`` names, else the newest ``update_*`` directory, else None.

    A checkpoint directory only appears by renaming a finished one into place, so every ``update_*`` directory is
    complete; the fallback covers a kill between that rename and the pointer's update.

    The pointer is confined to the run folder: it must be a bare ``update_NNNNNN`` name (no separators, no
    ``..``), and the directory it names (symlinks resolved) must sit directly in ``checkpoints/``; a pointer
    that names anything else is ignored, as is a ``update_*`` entry that is a link out of the folder.
    """
    ckpt_root = root / "checkpoints"
    pointer = ckpt_root / "latest"
    if pointer.is_file() and not pointer.is_symlink():
        try:
            name = pointer.read_text(encoding="utf-8", errors="strict")[:64].strip()
        except (OSError, UnicodeDecodeError):
            name = ""
        if _CHECKPOINT_NAME.fullmatch(name) and _confined(ckpt_root / name, ckpt_root):
            return ckpt_root / name
    found = sorted(p for p in ckpt_root.glob("update_*")
                   if _CHECKPOINT_NAME.fullmatch(p.name) and _confined(p, ckpt_root))
    return found[-1] if found else None


def _confined(path: Path, ckpt_root: Path) -> bool:
    """A complete checkpoint directory that really lies in `ckpt_root` (not a link to elsewhere)."""
    try:
        real = path.resolve(strict=True)
        return real.parent == ckpt_root.resolve(strict=True) and (real / "state.json").is_file()
    except (OSError, RuntimeError):
        return False


def load_checkpoint(path: Path, policy: Policy, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore weights, optimizer and RNG states from `path`; returns its ``state.json``."""
    policy.load_adapter_weights(path)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    state = json.loads((path / "state.json").read_text())
    _set_rng_state(state["rng"], torch.load(path / "torch_rng.pt", weights_only=True))
    if torch.cuda.is_available() and (path / "cuda_rng.pt").is_file():
        torch.cuda.set_rng_state_all(torch.load(path / "cuda_rng.pt", weights_only=True))
    return state
