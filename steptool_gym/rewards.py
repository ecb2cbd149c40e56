"""Step-shaped rewards (StepTool, Yu et al. 2024, §3.2).

Each intermediate tool call is judged on two components:

* ``SC`` ∈ {0, 1} — the call succeeded;
* ``Con`` ∈ [0, 5] — how much the call contributes to the final answer;

and the final step (``Finish``) on ``IsSolved`` ∈ {1 (Solved), 0.5 (Unsure), 0 (Unsolved)}.

The paper's intermediate reward is ``α·SC + Con``; its normalised form scales both terms to [0, 1] and
averages them: ``r = (α·SC + Con/5) / (α + 1)``, which is ``(SC + Con/5)/2`` at the default ``α = 1``.

Reward modes (``reward_mode=`` on every env; ``progress`` is the default):

=============  ===========================================  ==========================
mode           intermediate step                            final step
=============  ===========================================  ==========================
``progress``   ``γ·Φ(s') − Φ(s) − c``                       ``IsSolved − Φ(s) − c``
``step``       ``(α·SC + Con/5)/(α+1)``                     ``IsSolved``
``final``      0                                            ``IsSolved``
``step_only``  ``(α·SC + Con/5)/(α+1)``                     0
``sc_only``    ``SC``                                       ``IsSolved``
``con_only``   ``Con/5``                                    ``IsSolved``
=============  ===========================================  ==========================

``progress`` is exact potential-based shaping (Ng, Harada & Russell 1999): Φ(s) ∈ [0, 1] is the share of the
task's gold call graph satisfied so far (the judge's ``progress`` hook, see `steptool_gym.suite.Judge`), Φ of the
state an episode ends in is 0 (after ``Finish`` and after truncation: the step counter is part of the state)
and ``c = step_cost ≥ 0`` (default 0). ``gamma`` (default 0.99) must equal the learner's
discount for the policy-invariance guarantee (``steptool_agents`` passes its own). Since Φ never decreases within
an episode, a repeated, distractor or failed call earns ``−(1−γ)·Φ(s) − c ≤ 0``: no policy can farm it, and
the undiscounted return of every episode is ``IsSolved − (1−γ)·Σ_t Φ(s_t) − c·T``: the dense signal never
changes which behaviour pays best.

``step`` is the paper's formula, kept bit-exact. It can be farmed online: every successful call pays at least
α/(α+1), so repeating a satisfied gold call until truncation out-earns solving the task (measured on synthetic
G1 at the 12-step limit, 50 tasks: 6.92 per episode for the repeat policy vs 2.98 for the oracle; 9.96 vs 2.89 on
StableToolBench; see ``benchmarks/results/reward_farming.json``).

A custom ``reward_fn(components) -> float`` replaces the table entirely (``phi``/``phi_next`` are in the
components).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["DEFAULT_REWARD_MODE", "REWARD_MODES", "RewardComponents", "RewardConfig", "SOLVED", "UNSOLVED", "UNSURE"]

SOLVED, UNSURE, UNSOLVED = 1.0, 0.5, 0.0
REWARD_MODES = ("progress", "step", "final", "step_only", "sc_only", "con_only")
DEFAULT_REWARD_MODE = "progress"
CON_MAX = 5.0


class RewardComponents(NamedTuple):
    """What the judge said about one step. `solved` is None for intermediate steps; `phi` and `phi_next` are the
    potential Φ before and after the step (`phi_next` is 0 after a terminal step)."""

    sc: float
    con: float
    solved: float | None = None
    phi: float = 0.0
    phi_next: float = 0.0

    @property
    def is_final(self) -> bool:
        return self.solved is not None

    def as_dict(self) -> dict[str, float | None]:
        return {"SC": self.sc, "Con": self.con, "IsSolved": self.solved}


RewardFn = Callable[[RewardComponents], float]


@dataclass(frozen=True)
class RewardConfig:
    """How judged components become a scalar reward (see the module docstring)."""

    mode: str = DEFAULT_REWARD_MODE
    alpha: float = 1.0
    reward_fn: RewardFn | None = None
    gamma: float = 0.99
    step_cost: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {', '.join(REWARD_MODES)}; got {self.mode!r}")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0; got {self.alpha!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1]; got {self.gamma!r}")
        if not self.step_cost >= 0:
            raise ValueError(f"step_cost must be >= 0; got {self.step_cost!r}")

    def __call__(self, c: RewardComponents) -> float:
        if self.reward_fn is not None:
            return float(self.reward_fn(c))
        mode = self.mode
        if mode == "progress":
            shaping = self.gamma * c.phi_next - c.phi - self.step_cost
            return shaping + (float(c.solved) if c.solved is not None else 0.0)
        if c.solved is not None:
            return 0.0 if mode == "step_only" else float(c.solved)
        if mode == "final":
            return 0.0
        if mode == "sc_only":
            return float(c.sc)
        if mode == "con_only":
            return c.con / CON_MAX
        return (self.alpha * c.sc + c.con / CON_MAX) / (self.alpha + 1.0)
