"""Agreement of StepTool's rule judge with the GPT-4 verdicts on StepTool's stored evaluation runs.

    python benchmarks/judge_agreement.py [--data-dir DIR] [--json]

For every stored run (three ToolLLaMA-2 models × six StableToolBench groups, 2,295 runs) the rule judge's
IsSolved (`steptool_envs.stabletoolbench.judges.rule_is_solved`) is compared with the majority of the three
GPT-4-turbo verdicts (ties go to the less favourable verdict). Reported: exact 3-class agreement
(Solved/Unsure/Unsolved), binary agreement (Solved vs not), Cohen's kappa, the confusion matrix, a
majority-class baseline, as a ceiling how often a single GPT-4 run agrees with the majority, and each run's
mean recall of the query's relevant APIs (share called successfully). Writes
benchmarks/results/judge_agreement.json. Needs the shared data folder (`STEPTOOL_STB_DIR` or
``../shared/data/stabletoolbench``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from steptool_envs.stabletoolbench.data import (
    GROUPS,
    MODELS,
    VERDICTS,
    Record,
    StableToolBenchDataError,
    default_data_dir,
    load_queries,
    load_records,
    records_dir,
)
from steptool_envs.stabletoolbench.judges import rule_is_solved, succeeded
from steptool_gym.catalog import function_name

RESULTS = Path(__file__).parent / "results" / "judge_agreement.json"
_LABEL = {1.0: "Solved", 0.5: "Unsure", 0.0: "Unsolved"}


def rule_verdict(record: Record) -> str:
    any_success = any(succeeded(s.error, s.response) for s in record.tool_steps)
    return _LABEL[rule_is_solved(record.return_type, record.final_answer, any_success, record.query)]


def relevant_recall(record: Record, relevant: frozenset[str]) -> float:
    """Share of the query's relevant APIs the run called successfully (rule SC)."""
    called = {s.name for s in record.tool_steps if succeeded(s.error, s.response)}
    return len(relevant & called) / len(relevant) if relevant else 1.0


def kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa of (predicted, reference) label pairs."""
    n = len(pairs)
    observed = sum(p == r for p, r in pairs) / n
    pred, ref = Counter(p for p, _ in pairs), Counter(r for _, r in pairs)
    expected = sum(pred[c] * ref[c] for c in VERDICTS) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def summary(records: Iterable[Record], relevant: dict[tuple[str, str], frozenset[str]]) -> dict[str, object]:
    records = list(records)
    rows = [(rule_verdict(r), r.majority, r.verdicts) for r in records]
    recall = [relevant_recall(r, relevant.get((r.group, r.query_id), frozenset())) for r in records]
    pairs = [(p, m) for p, m, _ in rows]
    n = len(rows)
    labels = Counter(m for _, m, _ in rows)
    single = [v == m for _, m, vs in rows for v in vs]
    return {
        "runs": n,
        "exact_agreement": round(sum(p == m for p, m in pairs) / n, 4),
        "binary_agreement": round(sum((p == "Solved") == (m == "Solved") for p, m in pairs) / n, 4),
        "cohen_kappa": round(kappa(pairs), 4),
        "majority_class_baseline": round(max(labels.values()) / n, 4),
        "single_gpt4_run_vs_majority": round(sum(single) / len(single), 4),
        "mean_relevant_api_recall": round(sum(recall) / n, 4),
        "gpt4_majority": {c: labels[c] for c in VERDICTS},
        "rule": {c: sum(p == c for p, _ in pairs) for c in VERDICTS},
        "confusion_rule_by_gpt4": {p: {m: sum(1 for a, b in pairs if a == p and b == m) for m in VERDICTS}
                                   for p in VERDICTS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="StableToolBench folder (default: shared data)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    root = args.data_dir or default_data_dir()
    directory = records_dir(root)
    if not directory.is_dir():
        print(f"judge_agreement: StepTool's pass_rate_results not found at {directory}", file=sys.stderr)
        return 2
    try:
        records = [r for m in MODELS for g in GROUPS for r in load_records(directory, m, g)]
        relevant = {(g, str(item["query_id"])): frozenset(function_name(str(p[1]), str(p[0]))
                                                          for p in item.get("relevant APIs") or ())
                    for g in GROUPS for item in load_queries(root, g)}
    except StableToolBenchDataError as exc:
        print(f"judge_agreement: {exc}", file=sys.stderr)
        return 2
    report = {
        "judge": "rule (steptool_envs.stabletoolbench.judges.rule_is_solved)",
        "reference": "majority of three GPT-4-turbo verdicts per run (StepTool pass_rate_results)",
        "overall": summary(records, relevant),
        "per_group": {g: summary((r for r in records if r.group == g), relevant) for g in GROUPS},
        "per_model": {m: summary((r for r in records if r.model == m), relevant) for m in MODELS},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, row in [("overall", report["overall"]), *report["per_group"].items(), *report["per_model"].items()]:
            print(f"{name:>20}: n={row['runs']:4d} exact={row['exact_agreement']:.3f} "
                  f"binary={row['binary_agreement']:.3f} kappa={row['cohen_kappa']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
