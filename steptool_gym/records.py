"""Evaluation records and summaries.

`to_pass_rate_records` writes per-query records in the layout of StableToolBench's/StepTool's
``pass_rate_results`` files (``{query_id: {query, tool_names, answer_steps, final_step, is_solved, length}}``,
each value a string as they store it), so existing ToolEval scripts and the StepTool analysis read them.
`summary_table` renders metrics per group and split as Markdown or CSV; `win_rate` compares two result sets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from steptool_gym.search import SearchResult
from steptool_gym.status import Status

__all__ = ["metrics", "summary_table", "to_pass_rate_records", "tool_call_scores", "win_rate"]

_STATUS_NAME = {1.0: "AnswerStatus.Solved", 0.5: "AnswerStatus.Unsure", 0.0: "AnswerStatus.Unsolved"}


def _step_text(rec: Any) -> str:
    if rec.call is None:
        entry = {"name": "", "arguments": rec.raw, "response": rec.observation}
    else:
        entry = {"name": rec.call.name, "arguments": json.dumps(dict(rec.call.arguments), indent=2),
                 "response": rec.observation}
    return repr(entry)


def to_pass_rate_records(results: Iterable[SearchResult], judge_runs: Sequence[Sequence[float]] | None = None
                         ) -> dict[str, dict[str, str]]:
    """Per-query records in ``pass_rate_results`` layout; `judge_runs[i]` are repeated verdicts of result i."""
    out: dict[str, dict[str, str]] = {}
    for i, r in enumerate(results):
        steps = [rec for rec in r.path if not (rec.call is not None and rec.call.is_finish)]
        final = [rec for rec in r.path if rec.call is not None and rec.call.is_finish]
        runs = judge_runs[i] if judge_runs is not None else [r.is_solved]
        out[r.task_id] = {
            "query": r.query,
            "tool_names": repr(list(r.tool_names)),
            "answer_steps": "\n".join(f"Step {k}: {_step_text(rec)}" for k, rec in enumerate(steps, 1)),
            "final_step": f"Final step: {_step_text(final[-1])}" if final else "",
            "is_solved": repr({str(k): _STATUS_NAME.get(float(v), "AnswerStatus.Unsure") for k, v in enumerate(runs)}),
            "length": str(len(r.path)),
        }
    return out


def metrics(results: Sequence[SearchResult], judge_runs: Sequence[Sequence[float]] | None = None) -> dict[str, Any]:
    """Pass rate (mean ± std over judge runs), tool-call precision/recall/F1, step success, mean steps and calls.

    Each gold call counts at most once (the judge's ``progress`` hook: gold calls matched by the episode's end),
    so repeating a satisfied gold call lowers precision instead of raising it: precision = gold calls matched /
    calls made, recall = gold calls matched / gold calls, both pooled over the results; F1 their harmonic mean.
    """
    if not results:
        raise ValueError("No results to summarise")
    runs = np.array([list(judge_runs[i]) for i in range(len(results))]) if judge_runs is not None else \
        np.array([[r.is_solved] for r in results])
    per_run = runs.mean(axis=0)  # pass rate of each judge run
    # Tool calls are every action but Finish (unparseable actions count: they are failed calls).
    calls = [rec for r in results for rec in r.path if rec.call is None or not rec.call.is_finish]
    return {
        "queries": len(results),
        "pass_rate": float(per_run.mean()),
        "pass_rate_std": float(per_run.std()),
        **tool_call_scores(r.path for r in results),
        "step_success_rate": float(np.mean([rec.status == Status.OK for rec in calls])) if calls else 0.0,
        "avg_steps": float(np.mean([len(r.path) for r in results])),
        "avg_model_calls": float(np.mean([r.model_calls for r in results])),
        "mean_return": float(np.mean([r.episode_return for r in results])),
    }


def tool_call_scores(paths: Iterable[Sequence[Any]]) -> dict[str, float]:
    """Tool-call precision, recall and F1 over episodes' step records (see `metrics`)."""
    matched = total = made = 0.0
    for path in paths:
        made += sum(1 for rec in path if rec.call is None or not rec.call.is_finish)
        if path:
            matched += path[-1].gold_matched
            total += path[-1].gold_total
    precision = matched / made if made else 0.0
    recall = matched / total if total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tool_call_precision": precision, "tool_call_recall": recall, "tool_call_f1": f1}


def win_rate(a: Mapping[str, SearchResult], b: Mapping[str, SearchResult]) -> float:
    """Share of common queries where `a` beats `b`: higher IsSolved wins, then fewer steps; exact ties count ½."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("The two result sets share no query")
    score = 0.0
    for q in common:
        ka, kb = (a[q].is_solved, -len(a[q].path)), (b[q].is_solved, -len(b[q].path))
        score += 1.0 if ka > kb else 0.5 if ka == kb else 0.0
    return score / len(common)


def summary_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "markdown") -> str:
    """Rows of metrics (e.g. one per group × split) as a Markdown or CSV table."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    if fmt != "markdown":
        raise ValueError(f"fmt must be markdown or csv; got {fmt!r}")

    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
