"""Atomic writes: a crash mid-write (SIGKILL, power loss) leaves the previous file or directory intact.

Data is fsynced before the rename that publishes it, and the parent directory after, so a published name never
points at unwritten blocks. Temporary names start with a dot; readers ignore them and `remove_stale_temps`
clears the ones a killed writer left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["remove_stale_temps", "save_dir_atomic", "write_text_atomic"]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def save_dir_atomic(target: Path, write: Callable[[Path], Any]) -> None:
    """Let `write` fill a temporary sibling directory, then move it onto `target`.

    An existing `target` is first renamed aside (not deleted in place), so a crash leaves either the old or the
    new directory complete under a name, never a half-deleted one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    old = None
    try:
        write(tmp)
        for file in tmp.rglob("*"):
            if file.is_file():
                _fsync(file)
        _fsync(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync(target.parent)
    except BaseException:
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)  # the new copy failed: put the previous one back
        raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover)


def remove_stale_temps(directory: Path, name: str) -> None:
    """Delete the temporaries of writes to ``directory/name*`` that a killed process left behind.

    Only call this where no other process is writing the same names.
    """
    for path in directory.glob(f".{name}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
