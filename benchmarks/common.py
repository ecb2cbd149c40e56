"""Shared by the benchmark scripts: machine description and package versions for their JSON results."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

__all__ = ["PACKAGES", "machine_info", "package_versions"]

PACKAGES = ("steptool-gym", "gymnasium", "numpy", "torch", "transformers", "peft", "accelerate", "trl",
            "stable-baselines3", "sb3-contrib")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpu() -> str | None:
    # Only ask torch when the script already imported it: importing it just for this costs ~200 MB of RSS.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return None


def machine_info(note: str = "") -> dict[str, Any]:
    """CPU model, logical cores, RAM, GPU (when torch is loaded and sees one), OS and Python; `note` as given."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "ram_gb": _ram_gb(), "gpu": _gpu(),
                            "os": platform.platform(), "python": platform.python_version()}
    if note:
        info["note"] = note
    return info


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions (None when a package is missing), read from metadata without importing anything."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out
