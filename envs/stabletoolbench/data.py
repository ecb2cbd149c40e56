"""Loading StableToolBench's solvable queries and StepTool's per-query evaluation records.

Layout under ``data_dir`` (StableToolBench's repository, ``solvable_queries/``), optionally with StepTool's
``pass_rate_results`` beside it (``<data_dir>/../steptool/pass_rate_results/<model>/<group>.json``):

* ``solvable_queries/test_instruction/<group>.json``: a list of ``{query, query_id, api_list, "relevant APIs"}``;
* ``pass_rate_results/<model>/<group>.json``: ``{query_id: {query, answer_steps, final_step, is_solved, ...}}``
  where ``answer_steps`` holds ``Step k: {'name': .., 'arguments': '<json>', 'response': '<json>'}`` lines in
  Python literal syntax (read with `ast.literal_eval`, size-guarded; never `eval`).

Every problem is reported as `StableToolBenchDataError` naming the file and what is wrong.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steptool_gym.errors import DataError

__all__ = [
    "ALL",
    "GROUPS",
    "MODELS",
    "Record",
    "VERDICTS",
    "StableToolBenchDataError",
    "Step",
    "default_data_dir",
    "load_queries",
    "load_records",
    "majority_verdict",
    "parse_response",
    "parse_steps",
    "records_dir",
    "safe_literal",
]

GROUPS = ("G1_instruction", "G1_category", "G1_tool", "G2_instruction", "G2_category", "G3_instruction")
ALL = "all"
# StepTool's evaluated runs, listed best model first: gold trajectories are taken from the first that solved.
MODELS = ("steptool_cot", "baseline-ppo_cot", "toolllama_sft_cot")
ENV_VAR = "STEPTOOL_STB_DIR"
VERDICTS = ("Solved", "Unsure", "Unsolved")

# A single step of a record is a few kB (responses are cut at 1024 characters); anything far larger is not a
# record and is refused before `ast.literal_eval`, whose cost grows with input size and nesting.
MAX_LITERAL_CHARS = 200_000
_STEP = re.compile(r"(?m)^(?:Step \d+|Final step): ")
_REQUIRED_QUERY_KEYS = ("query", "query_id", "api_list")
_REQUIRED_API_KEYS = ("category_name", "tool_name", "api_name")


class StableToolBenchDataError(DataError):
    """The StableToolBench data folder is missing or malformed (the message names the file and the problem)."""


def default_data_dir() -> Path:
    """``$STEPTOOL_STB_DIR``, else ``<repo>/../shared/data/stabletoolbench``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stabletoolbench"


def records_dir(data_dir: Path) -> Path:
    """Where StepTool's ``pass_rate_results`` sit relative to the StableToolBench folder."""
    return data_dir.parent / "steptool" / "pass_rate_results"


def safe_literal(text: str, where: str) -> Any:
    """`ast.literal_eval` with a size guard; failures become `StableToolBenchDataError`."""
    if len(text) > MAX_LITERAL_CHARS:
        raise StableToolBenchDataError(f"{where}: literal of {len(text)} characters exceeds {MAX_LITERAL_CHARS}")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise StableToolBenchDataError(f"{where}: not a Python literal ({type(exc).__name__})") from None


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise StableToolBenchDataError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StableToolBenchDataError(f"{path}: not valid JSON ({exc})") from None


def load_queries(data_dir: Path, group: str) -> list[dict[str, Any]]:
    """The solvable queries of `group`, checked for the fields the suite needs."""
    path = data_dir / "solvable_queries" / "test_instruction" / f"{group}.json"
    items = _read_json(path)
    if not isinstance(items, list):
        raise StableToolBenchDataError(f"{path}: expected a JSON list of queries, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise StableToolBenchDataError(f"{path}: item {i} is not an object")
        missing = [k for k in _REQUIRED_QUERY_KEYS if k not in item]
        if missing:
            raise StableToolBenchDataError(f"{path}: item {i} lacks {', '.join(missing)}")
        if not isinstance(item["api_list"], list) or not item["api_list"]:
            raise StableToolBenchDataError(f"{path}: item {i} (query_id {item['query_id']}) has an empty api_list")
        for j, api in enumerate(item["api_list"]):
            if not isinstance(api, dict) or any(k not in api for k in _REQUIRED_API_KEYS):
                raise StableToolBenchDataError(
                    f"{path}: item {i} api_list[{j}] needs {', '.join(_REQUIRED_API_KEYS)}")
    return items


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded step: function name, raw argument text, parsed arguments (None if not a JSON object),
    the tool's ``error`` and ``response`` as recorded, whether the recorded text was cut (``...``), and the
    recorded observation `text` itself (what a replay shows, byte for byte)."""

    name: str
    raw_arguments: str
    arguments: dict[str, Any] | None
    error: str
    response: Any
    truncated: bool
    text: str = ""


@dataclass(frozen=True)
class Record:
    """One model's run on one query: its steps (Finish included), final answer and the GPT-4 verdicts."""

    model: str
    group: str
    query_id: str
    query: str
    steps: tuple[Step, ...]
    return_type: str
    final_answer: str
    verdicts: tuple[str, ...]

    @property
    def tool_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.name != "Finish")

    @property
    def majority(self) -> str:
        return majority_verdict(self.verdicts)


def majority_verdict(verdicts: tuple[str, ...]) -> str:
    """The most common verdict; ties go to the less favourable one (Unsolved before Unsure before Solved)."""
    counts = {v: verdicts.count(v) for v in VERDICTS}
    return max(reversed(VERDICTS), key=lambda v: counts[v])


_RESPONSE_HEAD = re.compile(r'^\{"error": "((?:[^"\\]|\\.)*)", "response": ')


def parse_response(text: str) -> tuple[str, Any, bool]:
    """``(error, response, truncated)`` from a recorded response text.

    Records cut observations at 1024 characters plus ``...``, which leaves invalid JSON; the error field and
    the readable head of the response are recovered from the cut text.
    """
    if not text:
        return "", "", False
    try:
        value = json.loads(text)
    except ValueError:
        head = _RESPONSE_HEAD.match(text)
        if head is None:
            return "", text, True
        error = _json_string(head.group(1))
        body = text[head.end():]
        body = body[:-3] if body.endswith("...") else body
        if body.startswith('"'):
            body = _json_string(body[1:])
        return error, body, True
    if not isinstance(value, dict):
        return "", value, False
    return str(value.get("error") or ""), value.get("response", ""), False


def _json_string(body: str) -> str:
    """Decode a JSON string body that may have been cut mid-escape."""
    for cut in range(0, 7):
        candidate = body[: len(body) - cut] if cut else body
        try:
            return json.loads(f'"{candidate}"')
        except ValueError:
            continue
    return body


def _parse_arguments(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return None
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_steps(text: str, where: str) -> list[Step]:
    """Split a record's ``answer_steps`` (or ``final_step``) text into `Step`s."""
    starts = [m.end() for m in _STEP.finditer(text)]
    ends = [m.start() for m in _STEP.finditer(text)][1:] + [len(text)]
    steps = []
    for k, (a, b) in enumerate(zip(starts, ends), 1):
        value = safe_literal(text[a:b].strip(), f"{where} step {k}")
        if not isinstance(value, dict) or "name" not in value:
            raise StableToolBenchDataError(f"{where} step {k}: expected a dict with a 'name'")
        raw_args = value.get("arguments", "")
        recorded = str(value.get("response") or "")
        error, response, truncated = parse_response(recorded)
        steps.append(Step(str(value["name"]), raw_args if isinstance(raw_args, str) else json.dumps(raw_args),
                          _parse_arguments(raw_args), error, response, truncated, recorded))
    return steps


def _verdicts(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, Mapping):
        raise StableToolBenchDataError(f"{where}: 'is_solved' must be an object of verdicts")
    out = []
    for key in sorted(raw, key=str):
        name = str(raw[key]).rsplit(".", 1)[-1]
        if name not in VERDICTS:
            raise StableToolBenchDataError(f"{where}: unknown verdict {raw[key]!r}")
        out.append(name)
    return tuple(out)


def load_records(directory: Path, model: str, group: str) -> Iterator[Record]:
    """StepTool's records of `model` on `group` (nothing when the file is absent)."""
    path = directory / model / f"{group}.json"
    if not path.is_file():
        return
    data = _read_json(path)
    if not isinstance(data, dict):
        raise StableToolBenchDataError(f"{path}: expected an object keyed by query_id")
    for qid, rec in data.items():
        where = f"{path} query {qid}"
        if not isinstance(rec, dict) or not isinstance(rec.get("answer_steps", ""), str):
            raise StableToolBenchDataError(f"{where}: expected an object with text 'answer_steps'")
        steps = parse_steps(rec.get("answer_steps", ""), where)
        final = parse_steps(str(rec.get("final_step", "")), where + " final_step")
        return_type, answer = "", ""
        if final and final[-1].name == "Finish" and final[-1].arguments is not None:
            return_type = str(final[-1].arguments.get("return_type", ""))
            answer = final[-1].arguments.get("final_answer", "")
            answer = answer if isinstance(answer, str) else json.dumps(answer)
        elif final and final[-1].name == "Finish":
            # A cut Finish argument text: recover what ToolBench's own lenient Finish parser would.
            raw = final[-1].raw_arguments
            return_type = "give_answer" if '"give_answer"' in raw else "give_up_and_restart" if "give_up" in raw else ""
            marker = '"final_answer": "'
            answer = raw[raw.find(marker) + len(marker):] if marker in raw else ""
        yield Record(model, group, str(qid), str(rec.get("query", "")), tuple(steps), return_type, answer,
                     _verdicts(rec.get("is_solved"), where))
