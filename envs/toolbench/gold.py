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
# Where `_canonical_number` would change an ASCII text (a superset): a thousands group, a fraction ending in 0,
# a number with a leading zero. Non-ASCII text always takes the regex pass (`int` reads every Unicode digit).
_NON_CANONICAL = re.compile(r"\d,\d|\.\d*0(?!\d)|(?<!\d)0\d")
# `_PUNCT` on ASCII: every character but [A-Za-z0-9_.-] becomes a space.
_ASCII_PUNCT = bytes(c if chr(c).isalnum() or chr(c) in "_.-" else 32 for c in range(256))


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
    text = text.lower()
    if not text.isascii():
        text = _LONE_DOT.sub(" ", _PUNCT.sub(" ", _NUMBER.sub(_canonical_number, text)))
        return " " + " ".join(text.split()) + " "
    # The same steps for ASCII text without a regex pass per step (the judge runs on every final answer): numbers
    # are rewritten only when one is not canonical, punctuation goes by a table (runs of spaces collapse below),
    # and a dot stays only between two digits.
    if ("," in text or "0" in text) and _NON_CANONICAL.search(text):
        text = _NUMBER.sub(_canonical_number, text)
    text = text.encode("ascii").translate(_ASCII_PUNCT).decode("ascii")
    if "." in text:
        parts = text.split(".")
        out = [parts[0]]
        for before, after in zip(parts, parts[1:]):
            out.append("." if before[-1:].isdigit() and after[:1].isdigit() else " ")
            out.append(after)
        text = "".join(out)
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
