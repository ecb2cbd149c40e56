"""StableToolBench (Guo et al. 2024) as a StepTool-Gym suite: real queries, cached/simulated APIs, StepTool judges."""

from steptool_envs.stabletoolbench.backends import LLMSimulator, ResponseCache, VirtualServerClient, build_chain
from steptool_envs.stabletoolbench.data import GROUPS, StableToolBenchDataError
from steptool_envs.stabletoolbench.judges import LLMJudge, RuleJudge, rule_is_solved
from steptool_envs.stabletoolbench.suite import StableToolBenchSuite, load_suite

__all__ = [
    "GROUPS",
    "LLMJudge",
    "LLMSimulator",
    "ResponseCache",
    "RuleJudge",
    "StableToolBenchDataError",
    "StableToolBenchSuite",
    "VirtualServerClient",
    "build_chain",
    "load_suite",
    "rule_is_solved",
]
