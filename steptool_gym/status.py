"""ToolBench's status codes for one environment step.

The numbering is ToolBench's (``rapidapi.py``) and StableToolBench's server, so records produced here read
the same as theirs.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Status"]


class Status(IntEnum):
    """Outcome of one action, as reported in ``info["status"]``."""

    OK = 0
    NO_SUCH_FUNCTION = 1
    INPUT_ERROR = 2
    FINAL_ANSWER = 3
    GIVE_UP = 4
    TIMEOUT = 5
    API_NOT_WORKING = 6
    UNAUTHORIZED = 7
    UNSUBSCRIBED = 8
    TOO_MANY_REQUESTS = 9
    RATE_LIMIT = 10
    MESSAGE_ERROR = 11
    REQUEST_ERROR = 12

    @property
    def is_tool_error(self) -> bool:
        """True for every status of a tool call that did not succeed."""
        return self not in (Status.OK, Status.FINAL_ANSWER, Status.GIVE_UP)
