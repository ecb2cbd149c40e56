"""ToolBench's system prompt (the ToolLLaMA/StepTool "AutoGPT" function-calling format).

The wording is ToolBench's so that a model trained on ToolBench data sees the same prompt here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from steptool_gym.catalog import TOOL_DESCRIPTION_MAX, standardize

__all__ = ["render_observation", "system_prompt", "task_description"]

_SYSTEM = """You are AutoGPT, you can use many tools(functions) to do the following task.
First I will give you the task description, and your task start.
At each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step. Your output should follow this format:
Thought:
Action:
Action Input:

After the call, you will get the call result, and you are now in a new state.
Then you will analyze your status now, then decide what to do next...
After many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.
Remember:
1.the state change is irreversible, you can't go back to one of the former state, if you want to restart the task, say "I give up and restart".
2.All the thought is short, at most in 5 sentence.
3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the conditions per try.
Let's Begin!
Task description: {task_description}"""

_TASK = """You should use functions to help handle the real time user querys. Remember:
1.ALWAYS call "Finish" function at the end of the task. And the final answer should contain enough information to show to the user,If you can't handle the task, or you find that function calls always fail(the function is not valid now), use function Finish->give_up_and_restart.
2.Do not use origin tool names, use only subfunctions' names.
You have access of the following tools:
"""


def task_description(tools: Sequence[tuple[str, str]]) -> str:
    """ToolBench's task description listing each tool (standardised name: description, ≤ 512 chars)."""
    lines = [f"{i}.{standardize(name)}: {desc[:TOOL_DESCRIPTION_MAX]}" for i, (name, desc) in enumerate(tools, 1)]
    return _TASK + "\n".join(lines) + "\n"


def system_prompt(tools: Sequence[tuple[str, str]], functions: Sequence[Mapping[str, Any]]) -> str:
    """The full system message: AutoGPT header, task description and the function schemas."""
    text = _SYSTEM.replace("{task_description}", task_description(tools))
    return text + "\nSpecifically, you have access to the following APIs: " + json.dumps(list(functions))


def render_observation(system: str, query: str) -> str:
    """The reset observation: system message, then the user's query."""
    return f"{system}\n\nUser: {query}\nBegin!\n"
