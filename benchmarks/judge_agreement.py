"""Agreement of StepTool's rule judge with the GPT-4 verdicts on StepTool's stored evaluation runs.

    python benchmarks/judge_agreement.py [--data-dir DIR] [--json]
    python benchmarks/judge_agreement.py --learn     # print the markers to ship as judges.UNSOLVED_MARKERS

For every stored run (three ToolLLaMA-2 models × six StableToolBench groups, 2,295 runs) the rule judge's
IsSolved (`steptool_envs.stabletoolbench.judges.rule_is_solved`) is compared with the majority of the three
GPT-4-turbo verdicts (ties go to the less favourable verdict).

The judge's `UNSOLVED_MARKERS` are learned from these same labels (`learn_markers`: greedy selection among the
answer's words/word pairs and query-coverage cuts (`judges.answer_features`), each added while it turns at least
`min_gain` more "Unsolved" than "Solved" runs right), so agreement on all runs with the shipped markers is an
in-sample figure. The headline figure is **held out by model**: for each model, markers are learned on the other
two models' runs (with `min_gain` chosen among `GAINS` by leave-one-model-out inside those two) and scored on the
held-out model; the three held-out scores are pooled. The same is reported held out by query group (disjoint
queries: a marker cannot ride on one query's topic answered by several models). Reported per setting: exact
3-class agreement (Solved/Unsure/Unsolved) with a 95% interval (bootstrap over queries), binary agreement (Solved
vs not), Cohen's kappa, the confusion matrix, a majority-class baseline, as a ceiling how often a single GPT-4 run
agrees with the majority, and each run's mean recall of the query's relevant APIs. The text output ends with the
held-out and in-sample confusion matrices. Writes
benchmarks/results/judge_agreement.json. Needs the shared data folder (`STEPTOOL_STB_DIR` or
``../shared/data/stabletoolbench``).
"""

from __future__ import annotations

import argparse
import json
import random
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
from steptool_envs.stabletoolbench.judges import (
    MARKER_MIN_GAIN,
    UNSOLVED_MARKERS,
    addresses_query,
    answer_features,
    rule_is_solved,
    succeeded,
)
from steptool_gym.catalog import function_name

RESULTS = Path(__file__).parent / "results" / "judge_agreement.json"
_LABEL = {1.0: "Solved", 0.5: "Unsure", 0.0: "Unsolved"}
GAINS = (2, 3, 4, 5, 8)  # candidate min_gain values, chosen inside the training models only
MIN_SUPPORT = 5  # a marker must occur in at least this many training answers
MAX_MARKERS = 80
BOOTSTRAP = 2000  # query resamples for the 95% intervals


_FEATURES: dict[int, tuple[Record, bool, set[str] | None]] = {}  # per record: (itself, any success, features)


def _facts(record: Record) -> tuple[bool, set[str] | None]:
    """Whether a call succeeded and the answer's features (None when no call succeeded or the answer does not
    address the query: `rule_is_solved` says Unsolved then, whatever the markers); cached."""
    hit = _FEATURES.get(id(record))
    if hit is None or hit[0] is not record:
        ok = any(succeeded(s.error, s.response) for s in record.tool_steps)
        feats = (answer_features(record.final_answer, record.query)
                 if ok and addresses_query(record.return_type, record.final_answer, record.query) else None)
        hit = _FEATURES[id(record)] = (record, ok, feats)
    return hit[1], hit[2]


def _any_success(record: Record) -> bool:
    return _facts(record)[0]


def rule_verdict(record: Record, markers: frozenset[str] | None = None) -> str:
    """The rule judge's verdict (`rule_is_solved`); with `markers`, the same rule with those markers."""
    if markers is None:
        return _LABEL[rule_is_solved(record.return_type, record.final_answer, _any_success(record), record.query)]
    feats = _facts(record)[1]
    return "Unsolved" if feats is None or feats & markers else "Solved"


def learn_markers(records: Iterable[Record], min_gain: int = MARKER_MIN_GAIN) -> frozenset[str]:
    """Greedy marker selection on `records` (see the module docstring); deterministic (ties: sorted order)."""
    features, values, queries = [], [], []
    for r in records:
        feats = _facts(r)[1]
        if feats is not None:
            features.append(feats)
            values.append((r.majority == "Unsolved") - (r.majority == "Solved"))
            queries.append((r.group, r.query_id))
    holders: dict[str, list[int]] = {}
    for i, feats in enumerate(features):
        for f in feats:
            holders.setdefault(f, []).append(i)
    # Support counts distinct queries, so a word of one query's topic (answered by every model) is no marker.
    gain = {f: sum(values[i] for i in ix) for f, ix in holders.items()
            if len({queries[i] for i in ix}) >= MIN_SUPPORT}
    flagged = [False] * len(features)
    chosen: list[str] = []
    while gain and len(chosen) < MAX_MARKERS:
        best = min(gain, key=lambda f: (-gain[f], f))
        if gain[best] < min_gain:
            break
        chosen.append(best)
        del gain[best]
        for i in holders[best]:
            if not flagged[i]:
                flagged[i] = True
                for f in features[i]:
                    if f in gain:
                        gain[f] -= values[i]
    return frozenset(chosen)


def _choose_gain(records: list[Record], split: str = "model") -> int:
    """`min_gain` with the best held-out agreement among `records`' own models (or groups)."""
    parts = sorted({getattr(r, split) for r in records})

    def score(gain: int) -> int:
        total = 0
        for held in parts:
            markers = learn_markers([r for r in records if getattr(r, split) != held], gain)
            total += sum(rule_verdict(r, markers) == r.majority for r in records if getattr(r, split) == held)
        return total

    return max(GAINS, key=lambda g: (score(g), -g))


def held_out(records: list[Record], split: str) -> tuple[list[Record], list[str], dict[str, object]]:
    """Every run judged with markers learned without its `split` value ("model" or "group"): (runs in scoring
    order, rule verdicts, details per held-out value). `min_gain` is chosen inside the training part only."""
    ordered, verdicts, details = [], [], {}
    for held in sorted({getattr(r, split) for r in records}):
        train = [r for r in records if getattr(r, split) != held]
        test = [r for r in records if getattr(r, split) == held]
        gain = _choose_gain(train, split)
        markers = learn_markers(train, gain)
        rows = [rule_verdict(r, markers) for r in test]
        ordered += test
        verdicts += rows
        details[held] = {"min_gain": gain, "markers": len(markers), "runs": len(rows),
                         "exact_agreement": round(sum(p == r.majority for p, r in zip(rows, test)) / len(rows), 4)}
    return ordered, verdicts, details


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


def interval95(records: list[Record], hits: list[bool], resamples: int = BOOTSTRAP) -> tuple[float, float]:
    """95% percentile interval of the agreement, bootstrapping queries (a query's runs by the three models
    are not independent, so resampling single runs would understate the spread); seeded."""
    per_query: dict[tuple[str, str], list[int]] = {}
    for r, hit in zip(records, hits, strict=True):
        cell = per_query.setdefault((r.group, r.query_id), [0, 0])
        cell[0] += hit
        cell[1] += 1
    cells = list(per_query.values())
    rng = random.Random(0)
    rates = []
    for _ in range(resamples):
        sample = rng.choices(cells, k=len(cells))
        rates.append(sum(h for h, _ in sample) / sum(n for _, n in sample))
    rates.sort()
    return round(rates[int(0.025 * resamples)], 4), round(rates[int(0.975 * resamples) - 1], 4)


def summary(records: Iterable[Record], relevant: dict[tuple[str, str], frozenset[str]],
            verdicts: list[str] | None = None) -> dict[str, object]:
    records = list(records)
    predicted = verdicts if verdicts is not None else [rule_verdict(r) for r in records]
    rows = [(p, r.majority, r.verdicts) for p, r in zip(predicted, records, strict=True)]
    recall = [relevant_recall(r, relevant.get((r.group, r.query_id), frozenset())) for r in records]
    pairs = [(p, m) for p, m, _ in rows]
    n = len(rows)
    labels = Counter(m for _, m, _ in rows)
    single = [v == m for _, m, vs in rows for v in vs]
    return {
        "runs": n,
        "exact_agreement": round(sum(p == m for p, m in pairs) / n, 4),
        "exact_ci95": interval95(records, [p == m for p, m in pairs]),
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
    parser.add_argument("--learn", action="store_true", help="print the markers learned on all runs and exit")
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
    if args.learn:
        gain = _choose_gain(records)
        print(f"MARKER_MIN_GAIN = {gain}")
        print(f"UNSOLVED_MARKERS = frozenset({sorted(learn_markers(records, gain))!r})")
        return 0
    by_model = held_out(records, "model")
    by_group = held_out(records, "group")
    report = {
        "judge": "rule (steptool_envs.stabletoolbench.judges.rule_is_solved)",
        "reference": "majority of three GPT-4-turbo verdicts per run (StepTool pass_rate_results)",
        "markers": {"shipped": len(UNSOLVED_MARKERS), "min_gain": MARKER_MIN_GAIN,
                    "shipped_equal_learned_on_all": learn_markers(records, MARKER_MIN_GAIN) == UNSOLVED_MARKERS},
        "held_out_by_model": {**summary(by_model[0], relevant, by_model[1]), "per_held_out": by_model[2]},
        "held_out_by_group": {**summary(by_group[0], relevant, by_group[1]), "per_held_out": by_group[2]},
        "overall": summary(records, relevant),
        "per_group": {g: summary((r for r in records if r.group == g), relevant) for g in GROUPS},
        "per_model": {m: summary((r for r in records if r.model == m), relevant) for m in MODELS},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        rows = [("held out by model", report["held_out_by_model"]), ("held out by group", report["held_out_by_group"]),
                ("overall (in-sample)", report["overall"]),
                *report["per_group"].items(), *report["per_model"].items()]
        for name, row in rows:
            low, high = row["exact_ci95"]
            print(f"{name:>20}: n={row['runs']:4d} exact={row['exact_agreement']:.3f} [{low:.3f}, {high:.3f}] "
                  f"binary={row['binary_agreement']:.3f} kappa={row['cohen_kappa']:.3f}")
        for name, row in rows[:3]:  # rule verdict (rows) by GPT-4 majority (columns)
            print(f"{name}: " + "; ".join(f"rule {p}: " + ", ".join(f"{m} {n}" for m, n in by.items())
                                          for p, by in row["confusion_rule_by_gpt4"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
