"""Errors raised when an environment cannot be built (bad data, missing optional dependencies)."""

from __future__ import annotations

__all__ = ["DataError", "MissingExtraError"]


class MissingExtraError(ImportError):
    """A suite's optional dependencies are not installed; the message names the extra to install."""

    def __init__(self, suite: str, extra: str, missing: str) -> None:
        super().__init__(f"{suite} needs the '{extra}' extra ({missing} is not installed): "
                         f"pip install 'steptool-gym[{extra}]'")
        self.extra = extra


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file, the record and the problem."""
