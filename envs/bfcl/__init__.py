"""BFCL v4 multi-turn (``StepTool-BFCL-MultiTurn-v0``): stateful API simulators from ``bfcl-eval``.

Needs ``pip install 'steptool-gym[bfcl]'`` plus ``pip install --no-deps bfcl-eval``; importing this package
does not, making an env does.
"""

from steptool_envs.bfcl.env import BFCLMultiTurnEnv
from steptool_envs.bfcl.suite import CATEGORIES, BFCLSuite, load_bfcl

__all__ = ["CATEGORIES", "BFCLMultiTurnEnv", "BFCLSuite", "load_bfcl"]
