"""Offline data in the official StepTool formats, as `Trajectory` lists.

* Step-grained PPO CSV (``step_grained_for_ppo_example.csv``): tab-separated ``prompt``, ``response``,
  ``reward`` columns whose cells are Python-literal lists: ``prompt[0]`` is the conversation up to the first
  assistant turn, ``prompt[t]`` (t ≥ 1) the tool output and template before assistant turn t, ``response[t]``
  the assistant turn (with its end-of-turn text) and ``reward[t]`` its step reward. Cells are parsed with
  `ast.literal_eval` (literals only, never code).
* ToolLLaMA SFT JSON (``gpt4_dfs_G123_for_sft_example.json``, RFT data alike): ``{id: {"instances": [{
  "conversations": [{"from": system|user|assistant|function, "value": ...}]}]}}`` or a list of such
  instances; rendered with a `PromptFormat` like live episodes. ``function`` and ``tool`` turns are observations.

Offline text has no sampled ids, so responses are tokenised from their text (the only place this happens).
Malformed input raises `OfflineDataError` (a `DataError`) naming the file, the record (row and line, or instance
and turn) and the problem; files are decoded as UTF-8 and cells parsed as literals only.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steptool_agents.policy.prompts import PromptFormat, after_action_text
from steptool_agents.policy.tokenization import Trajectory, encode, prompt_ids
from steptool_gym.errors import DataError, read_text

__all__ = ["OfflineDataError", "load_sft_json", "load_step_grained_csv", "parse_literal_list"]

CSV_COLUMNS = ("prompt", "response", "reward")
SFT_ROLES = ("system", "user", "assistant", "function", "tool")
# A cell holds one conversation's turns (a few kB to a few hundred kB); far larger is not a record, and
# `ast.literal_eval`'s cost grows with the input.
MAX_CELL_CHARS = 16_000_000


class OfflineDataError(DataError):
    """An offline data file is malformed; the message names the file, the record and the problem."""


def parse_literal_list(cell: str, kind: type) -> list[Any]:
    """A CSV cell holding a Python list literal of `kind` items (``ast.literal_eval``: no code runs).

    Raises ValueError saying what is wrong (callers add the file and record).
    """
    if len(cell) > MAX_CELL_CHARS:
        raise ValueError(f"cell of {len(cell)} characters exceeds {MAX_CELL_CHARS}")
    try:
        value = ast.literal_eval(cell)
    except SyntaxError as exc:
        raise ValueError(f"not a Python list literal (syntax error: {exc.msg})") from None
    except (ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError("not a Python list literal (only literals are read; calls, names and operators "
                         "are never evaluated)") from None
    if not isinstance(value, list):
        raise ValueError(f"expected a list of {kind.__name__}, got {type(value).__name__}")
    for i, v in enumerate(value):
        number = kind is float and isinstance(v, int | float) and not isinstance(v, bool)
        if not (number or (kind is not float and isinstance(v, kind))):
            raise ValueError(f"item {i} is {type(v).__name__}, expected {kind.__name__}")
        if number and not math.isfinite(v):
            raise ValueError(f"item {i} is {v}, expected a finite number")
    return [kind(v) for v in value]


def load_step_grained_csv(path: str | Path, tokenizer: Any, max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Trajectories from a step-grained CSV; the last step of each row is the final (IsSolved) step."""
    path = Path(path)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(io.StringIO(read_text(path, OfflineDataError), newline=""), delimiter="\t")
    trajs = []
    try:
        header = reader.fieldnames
        if not header:
            raise OfflineDataError(f"{path}: empty file; expected a tab-separated header {', '.join(CSV_COLUMNS)}")
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise OfflineDataError(f"{path} line 1: missing column(s) {', '.join(missing)}; the tab-separated "
                                   f"header has {header}")
        for n, row in enumerate(reader, 1):
            trajs.append(_csv_trajectory(row, f"{path} row {n} (line {reader.line_num})", f"{path.stem}:{n}",
                                         tokenizer, max_prompt_tokens))
    except csv.Error as exc:
        raise OfflineDataError(f"{path} line {reader.line_num}: {exc}") from None
    return trajs


def _csv_trajectory(row: dict[Any, Any], where: str, task_id: str, tokenizer: Any,
                    max_prompt_tokens: int) -> Trajectory:
    if None in row:
        raise OfflineDataError(f"{where}: more cells than the header's {len(row) - 1} columns")
    cells = {c: row[c] for c in CSV_COLUMNS}
    if any(v is None for v in cells.values()):
        raise OfflineDataError(f"{where}: only {sum(v is not None for v in row.values())} of {len(row)} cells "
                               "(a truncated file?)")
    lists: dict[str, list[Any]] = {}
    for column, kind in zip(CSV_COLUMNS, (str, str, float), strict=True):
        try:
            lists[column] = parse_literal_list(cells[column], kind)
        except ValueError as exc:
            raise OfflineDataError(f"{where} column {column!r}: {exc}") from None
    prompts, responses, rewards = lists["prompt"], lists["response"], lists["reward"]
    if not (len(prompts) == len(responses) == len(rewards)) or not prompts:
        raise OfflineDataError(f"{where}: prompt/response/reward lists must be non-empty and of equal length; got "
                               f"{len(prompts)}/{len(responses)}/{len(rewards)}")
    t = Trajectory(task_id=task_id)
    for step, (prompt, response, reward) in enumerate(zip(prompts, responses, rewards, strict=True)):
        if step == 0:
            t.add_prompt(prompt_ids(tokenizer, prompt, max_prompt_tokens))
        else:
            t.add_prompt(encode(tokenizer, prompt))
        ids = encode(tokenizer, response)
        if not ids:
            raise OfflineDataError(f"{where}: response {step} is empty")
        t.add_action(ids, reward, response, final=step == len(prompts) - 1)
    t.is_solved = rewards[-1]
    t.terminated = True
    return t


def _instances(data: Any, path: Path) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, entry in data.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("instances", []), list):
                raise OfflineDataError(f"{path} entry {key!r}: expected an object with an 'instances' list")
            for k, inst in enumerate(entry.get("instances", [])):
                yield f"{key}:{k}", inst
    elif isinstance(data, list):
        for k, inst in enumerate(data):
            yield str(k), inst
    else:
        raise OfflineDataError(f"{path}: SFT JSON must be an object of {{id: {{instances: [...]}}}} or a list of "
                               f"instances, got {type(data).__name__}")


def _conversation(inst: Any, where: str) -> list[dict[str, str]]:
    """The instance's turns, checked: a list of ``{from: role, value: text}``."""
    turns = inst.get("conversations") if isinstance(inst, dict) else None
    if not isinstance(turns, list):
        raise OfflineDataError(f"{where}: expected an object with a 'conversations' list")
    for j, c in enumerate(turns):
        if not isinstance(c, dict) or not isinstance(c.get("value"), str):
            raise OfflineDataError(f"{where} turn {j}: expected an object with a text 'value'")
        if c.get("from") not in SFT_ROLES:
            raise OfflineDataError(f"{where} turn {j}: role {c.get('from')!r} is not one of {', '.join(SFT_ROLES)}")
    return turns


def load_sft_json(path: str | Path, fmt: PromptFormat, tokenizer: Any, max_prompt_tokens: int = 0) -> list[Trajectory]:
    """Behaviour-cloning trajectories from ToolLLaMA conversations (assistant turns are the actions)."""
    path = Path(path)
    try:
        data = json.loads(read_text(path, OfflineDataError))
    except json.JSONDecodeError as exc:
        raise OfflineDataError(f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise OfflineDataError(f"{path}: not valid JSON (nested too deeply)") from None
    eos_id, eos = int(tokenizer.eos_token_id), tokenizer.eos_token
    trajs = []
    for key, inst in _instances(data, path):
        turns = _conversation(inst, f"{path} instance {key}")
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
            elif c["from"] in ("function", "tool") and pending_action:
                t.add_prompt(encode(tokenizer, after_action_text(fmt, eos, True, c["value"], ""), plain=(c["value"],)))
                pending_action = False
        if t.num_steps:
            t.finals[-1] = True
            trajs.append(t)
    return trajs
