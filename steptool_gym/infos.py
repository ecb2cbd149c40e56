"""Opt-in extra information (TextWorld's ``EnvInfos`` pattern).

Every step returns a small default ``info``: ``status``, ``reward_components``, ``gold_call`` (tool calls),
``state_key`` (on by default; reset infos carry it too) and, at the end of an episode, ``is_solved``. Anything
costlier is requested by name, either as ``gym.make(ID, infos=EnvInfos(messages=True))`` or
``gym.make(ID, infos=["messages"])``; unknown names are rejected with the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

__all__ = ["EnvInfos"]


@dataclass(frozen=True)
class EnvInfos:
    """Which extra keys `reset` and `step` add to ``info``."""

    messages: bool = False
    """The conversation so far as OpenAI-style messages (a fresh list)."""
    tools: bool = False
    """The task's function schemas in OpenAI format, Finish included."""
    task: bool = False
    """``task_id``, ``query``, ``group`` and ``split`` of the current task."""
    gold: bool = False
    """The task's gold answer facts and call graph (for analysis; never show it to a policy)."""
    admissible_calls: bool = False
    """Candidate calls built from the query and the responses so far (for discrete-action adapters)."""
    state_key: bool = True
    """A stable hash of the task-relevant state (call-graph progress and world state, never free text): equal
    in every process for the same state, so trajectories that reach one state share it (GiGPO's anchor states,
    tree search). On by default because it is cheap; ``EnvInfos(state_key=False)`` drops it."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def coerce(cls, value: EnvInfos | Iterable[str] | Mapping[str, bool] | None) -> EnvInfos:
        """Accept an `EnvInfos`, a list of names or a name→bool mapping; reject unknown names."""
        if value is None:
            return cls()
        if isinstance(value, EnvInfos):
            return value
        if isinstance(value, str):
            value = [value]
        requested = dict(value) if isinstance(value, Mapping) else {name: True for name in value}
        unknown = sorted(set(requested) - set(cls.names()))
        if unknown:
            raise ValueError(f"Unknown info key(s) {unknown}; valid keys: {', '.join(cls.names())}")
        return cls(**{k: bool(v) for k, v in requested.items()})
