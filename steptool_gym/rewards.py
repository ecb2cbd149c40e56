"""Step-shaped rewards (StepTool, Yu et al. 2024, §3.2).

Each intermediate tool call is judged on two components:

* ``SC`` ∈ {0, 1} — the call succeeded;
* ``Con`` ∈ [0, 5] — how much the call contributes to the final answer;

and the final step (``Finish``) on ``IsSolved`` ∈ {1 (Solved), 0.5 (Unsure), 0 (Unsolved)}.

The paper's intermediate reward is ``α·SC + Con``; its normalised form scales both terms to [0, 1] and
averages them: ``r = (α·SC + Con/5) / (α + 1)``, which is ``(SC + Con/5)/2`` at the default ``α = 1``.

Reward modes (``reward_mode=`` on every env):

=============  ===========================================  ==========================
mode           intermediate step                            final step
=============  ===========================================  ==========================
``step``       ``(α·SC + Con/5)/(α+1)``                     ``IsSolved``
``final``      0                                            ``IsSolved``
``step_only``  ``(α·SC + Con/5)/(α+1)``                     0
``sc_only``    ``SC``                                       ``IsSolved``
``con_only``   ``Con/5``                                    ``IsSolved``
=============  ===========================================  ==========================

A custom ``reward_fn(components) -> float`` replaces the table entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["REWARD_MODES", "RewardComponents", "RewardConfig", "SOLVED", "UNSOLVED", "UNSURE"]

SOLVED, UNSURE, UNSOLVED = 1.0, 0.5, 0.0
REWARD_MODES = ("step", "final", "step_only", "sc_only", "con_only")
CON_MAX = 5.0


class RewardComponents(NamedTuple):
    """What the judge said about one step. `solved` is None for intermediate steps."""

    sc: float
    con: float
    solved: float | None = None

    @property
    def is_final(self) -> bool:
        return self.solved is not None

    def as_dict(self) -> dict[str, float | None]:
        return {"SC": self.sc, "Con": self.con, "IsSolved": self.solved}


RewardFn = Callable[[RewardComponents], float]


@dataclass(frozen=True)
class RewardConfig:
    """How judged components become a scalar reward (see the module docstring)."""

    mode: str = "step"
    alpha: float = 1.0
    reward_fn: RewardFn | None = None

    def __post_init__(self) -> None:
        if self.mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {', '.join(REWARD_MODES)}; got {self.mode!r}")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0; got {self.alpha!r}")

    def __call__(self, c: RewardComponents) -> float:
        if self.reward_fn is not None:
            return float(self.reward_fn(c))
        mode = self.mode
        if c.solved is not None:
            return 0.0 if mode == "step_only" else float(c.solved)
        if mode == "final":
            return 0.0
        if mode == "sc_only":
            return float(c.sc)
        if mode == "con_only":
            return c.con / CON_MAX
        return (self.alpha * c.sc + c.con / CON_MAX) / (self.alpha + 1.0)
