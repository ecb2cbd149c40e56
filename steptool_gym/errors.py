"""Errors raised when an environment or a run cannot be built (bad data, missing optional dependencies)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "MissingExtraError", "read_text"]


class MissingExtraError(ImportError):
    """A suite's optional dependencies are not installed; the message names the extra to install."""

    def __init__(self, suite: str, extra: str, missing: str) -> None:
        super().__init__(f"{suite} needs the '{extra}' extra ({missing} is not installed): "
                         f"pip install 'steptool-gym[{extra}]'")
        self.extra = extra


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file, the record and the problem."""


def read_text(path: Path, error: type[DataError] = DataError) -> str:
    """A data file's text, decoded as UTF-8; a missing file or other bytes raise `error` naming the file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise error(f"{path} line {line}: not UTF-8 text ({bad})") from None
