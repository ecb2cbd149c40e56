"""Canonical call keys shared by the flaky-API counters and the judge.

Two calls are "the same" when their function names match and their arguments agree after normalisation:
strings compared case- and whitespace-insensitively, numbers by value (``18.50 == 18.5``, ``"3" == 3``),
and optional arguments equal to their default dropped. Both the backend's retry counters and the judge's
gold-node matching use this key, so "retry after a flaky failure" means the same thing to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CallKey", "call_key", "counter_key", "norm_value"]

CallKey = tuple[str, tuple[tuple[str, Any], ...]]


def norm_value(value: Any) -> Any:
    """A hashable canonical form of one argument value."""
    if isinstance(value, str):  # first: most arguments are text (and no str is a bool, int or float)
        text = " ".join(value.lower().split())
        if text[:1].isdigit() or text[:1] == "-":
            try:
                return norm_value(float(text)) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                return text
        return text
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 6)
    return repr(value)


def call_key(name: str, arguments: Mapping[str, Any], defaults: Mapping[str, Any] | None) -> CallKey:
    """The canonical key of a call; `defaults` maps optional argument names to normalised defaults."""
    items = []
    for key, value in arguments.items():
        value = norm_value(value)
        if defaults and defaults.get(key, _MISSING) == value:
            continue
        items.append((key, value))
    items.sort()
    return name, tuple(items)


def counter_key(key: CallKey) -> str:
    """The per-episode counter name of a call (what `CallContext.bump` counts)."""
    return f"{key[0]}|{key[1]!r}"


_MISSING = object()
