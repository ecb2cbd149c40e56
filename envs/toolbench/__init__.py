"""Synthetic ToolBench: a seeded world of linked RapidAPI-style tools with exact, LLM-free ground truth."""

from steptool_envs.toolbench.env import ToolBenchEnv
from steptool_envs.toolbench.suite import ToolBenchSuite, load_suite

__all__ = ["ToolBenchEnv", "ToolBenchSuite", "load_suite"]
