"""A task's ground truth: the gold call graph and the answer facts, with lookups precomputed for the judge."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from steptool_envs.toolbench.keys import CallKey
from steptool_gym.actions import FINISH, ToolCall

__all__ = ["Gold", "GoldNode", "norm_answer"]

_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_PUNCT = re.compile(r"[^\w.\-]+")
_LONE_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")


def _canonical_number(match: re.Match[str]) -> str:
    text = match.group().replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole)}{'.' + frac if frac else ''}"


def norm_answer(text: str) -> str:
    """Lower-case, canonical numbers (``18.50`` → ``18.5``, ``1,234`` → ``1234``), punctuation as spaces,
    padded with spaces so that a fact matches only whole tokens (``" 18.5 " in norm_answer(...)``)."""
    text = _NUMBER.sub(_canonical_number, text.lower())
    text = _LONE_DOT.sub(" ", _PUNCT.sub(" ", text))
    return " " + " ".join(text.split()) + " "


@dataclass(frozen=True)
class GoldNode:
    """One gold call: function name, exact arguments, and the nodes whose outputs it needs."""

    name: str
    arguments: Mapping[str, Any]
    depends_on: tuple[int, ...]
    key: CallKey = field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class Gold:
    """Gold call graph (nodes in a valid order), answer facts and the oracle's final answer."""

    nodes: tuple[GoldNode, ...]
    facts: tuple[str, ...]
    answer: str
    mentions: tuple[str, ...]
    index: Mapping[CallKey, int] = field(init=False, repr=False)
    names: frozenset[str] = field(init=False, repr=False)
    dep_masks: tuple[int, ...] = field(init=False, repr=False)
    fact_keys: tuple[str, ...] = field(init=False, repr=False)
    calls: tuple[ToolCall, ...] = field(init=False, repr=False)
    finish: ToolCall = field(init=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: derived lookups are set once here
        put(self, "index", {n.key: i for i, n in enumerate(self.nodes)})
        put(self, "names", frozenset(n.name for n in self.nodes))
        put(self, "dep_masks", tuple(sum(1 << d for d in n.depends_on) for n in self.nodes))
        put(self, "fact_keys", tuple(norm_answer(f) for f in self.facts))
        put(self, "calls", tuple(ToolCall(n.name, dict(n.arguments), f"I will call {n.name}.") for n in self.nodes))
        put(self, "finish", ToolCall(FINISH, {"return_type": "give_answer", "final_answer": self.answer},
                                     "I have everything I need."))

    @property
    def full_mask(self) -> int:
        return (1 << len(self.nodes)) - 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for records and analysis)."""
        return {"nodes": [{"name": n.name, "arguments": dict(n.arguments), "depends_on": list(n.depends_on)}
                          for n in self.nodes], "facts": list(self.facts), "answer": self.answer}
