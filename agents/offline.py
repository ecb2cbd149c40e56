"""Offline data in the official StepTool formats, as `Trajectory` lists.

* Step-grained PPO CSV (``step_grained_for_ppo_example.csv``): tab-separated ``prompt``, ``response``,
  ``reward`` columns whose cells are Python-literal lists: ``prompt[0]`` is the conversation up to the first
  assistant turn, ``prompt[t]`` (t ≥ 1) the tool output and template before assistant turn t, ``response[t]``
  the assistant turn (with its end-of-turn text) and ``reward[t]`` its step reward. Cells are parsed with
  `ast.literal_eval` (literals only, never code).
* ToolLLaMA SFT JSON (``gpt4_dfs_G123_for_sft_example.json``, RFT data alike): ``{id: {"instances": [{
  "conversations": [{"from": system|user|assistant|function, "value": ...}]}]}}`` or a list of such
  instances; rendered with a `PromptFormat` like live episodes.

Offline text has no sampled ids, so responses are tokenised from their text (the only place this happens).
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steptool_agents.prompts import PromptFormat, after_action_text
from steptool_agents.tokenization import Trajectory, encode, prompt_ids

__all__ = ["load_sft_json", "load_step_grained_csv", "parse_literal_list"]


def parse_literal_list(cell: str, kind: type) -> list[Any]:
    """A CSV cell holding a Python list literal of `kind` items (``ast.literal_eval``: no code runs)."""
    value = ast.literal_eval(cell)
    if not isinstance(value, list) or not all(isinstance(v, kind) or (kind is float and isinstance(v, int))
                                              for v in value):
        raise ValueError(f"Expected a list of {kind.__name__}, got {type(value).__name__}")
    return [kind(v) for v in value]


def load_step_grained_csv(path: str | Path, tokenizer: Any, max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Trajectories from a step-grained CSV; the last step of each row is the final (IsSolved) step."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    trajs = []
    with Path(path).open(newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t"), 1):
            prompts = parse_literal_list(row["prompt"], str)
            responses = parse_literal_list(row["response"], str)
            rewards = parse_literal_list(row["reward"], float)
            if not (len(prompts) == len(responses) == len(rewards)) or not prompts:
                raise ValueError(f"{path} row {n}: prompt/response/reward lists differ in length")
            t = Trajectory(task_id=f"{Path(path).stem}:{n}")
            for step, (prompt, response, reward) in enumerate(zip(prompts, responses, rewards, strict=True)):
                if step == 0:
                    t.add_prompt(prompt_ids(tokenizer, prompt, max_prompt_tokens))
                else:
                    t.add_prompt(encode(tokenizer, prompt))
                t.add_action(encode(tokenizer, response), reward, response, final=step == len(prompts) - 1)
            t.is_solved = rewards[-1]
            t.terminated = True
            trajs.append(t)
    return trajs


def _instances(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(data, dict):
        for key, entry in data.items():
            for k, inst in enumerate(entry.get("instances", [])):
                yield f"{key}:{k}", inst
    elif isinstance(data, list):
        for k, inst in enumerate(data):
            yield str(k), inst
    else:
        raise ValueError("SFT JSON must be an object of {id: {instances: [...]}} or a list of instances")


def load_sft_json(path: str | Path, fmt: PromptFormat, tokenizer: Any, max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Behaviour-cloning trajectories from ToolLLaMA conversations (assistant turns are the actions)."""
    data = json.loads(Path(path).read_text())
    eos_id, eos = int(tokenizer.eos_token_id), tokenizer.eos_token
    trajs = []
    for key, inst in _instances(data):
        turns = inst["conversations"]
        system = next((c["value"] for c in turns if c["from"] == "system"), "")
        user = next((c["value"] for c in turns if c["from"] == "user"), "")
        query = user.strip().removesuffix("Begin!").strip()
        observation = f"{system}\n\nUser: {query}\nBegin!\n"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        t = Trajectory(task_id=key)
        t.add_prompt(prompt_ids(tokenizer, fmt.initial(observation, messages, []), max_prompt_tokens))
        pending_action = False
        for c in turns:
            if c["from"] == "assistant":
                t.add_action(encode(tokenizer, c["value"]) + [eos_id], 0.0, c["value"])
                pending_action = True
            elif c["from"] == "function" and pending_action:
                t.add_prompt(encode(tokenizer, after_action_text(fmt, eos, True, c["value"], "")))
                pending_action = False
        if t.num_steps:
            t.finals[-1] = True
            trajs.append(t)
    return trajs
