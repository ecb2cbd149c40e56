"""Generate benchmarks/REPORT.md from the JSON results under benchmarks/results/.

    python benchmarks/report.py [--results DIR] [--out FILE]

Sections: machine and versions, env throughput, vector scaling, action parsing, fuzzing, judge agreement, SB3
learning, trainer throughput vs TRL, OpenEnv server throughput, and the LLM learning benchmark beside the StepTool
paper's numbers, with the PNG figures embedded. A result file that is missing gives a "not yet run" line naming
the command.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import machine_info, package_versions

HERE = Path(__file__).resolve().parent

# The StepTool paper's main table as the authors publish it (README of github.com/yuyq18/StepTool, commit 79c15b9,
# "Main Experimental Results in the Paper", re-evaluated in February 2025 with gpt-4-turbo-2024-04-09):
# ToolLLaMA-2-7b-v2 on StableToolBench's solvable queries, pass rate in % (mean ± std over evaluator runs).
PAPER_SOURCE = ("StepTool (Yu et al., arXiv 2410.07745), main table as published in the authors' repository "
                "README (github.com/yuyq18/StepTool @ 79c15b9, re-evaluated Feb 2025 with gpt-4-turbo-2024-04-09); "
                "an earlier arXiv version reports different numbers")
# Paper column → our cell: I1 Ins., I1 Cat., I1 Tool, I2 Cat., I2 Ins., I3 Ins.
PAPER_CELLS = ("G1/test_instruction", "G1/test_category", "G1/test_tool", "G2/test_category", "G2/test_instruction",
               "G3/test_instruction")
PAPER_LABELS = {"sft": "SFT", "rft": "RFT", "ppo": "PPO (Final Reward)", "eto": "ETO (DPO)", "archer": "ArCHer",
                "steptool": "StepTool"}
PAPER = {  # strategy → our method name → (mean, std) per PAPER_CELLS, then the average
    "CoT": {
        "sft": ((56.4, 1.8), (49.0, 1.2), (46.3, 1.8), (48.4, 0.0), (45.6, 1.7), (40.4, 0.8), (47.7, 1.2)),
        "rft": ((53.2, 2.1), (49.7, 0.7), (47.5, 0.8), (46.0, 1.7), (45.8, 2.0), (38.5, 1.2), (46.8, 1.4)),
        "ppo": ((55.8, 2.1), (50.4, 0.6), (46.4, 0.4), (48.4, 2.6), (44.5, 1.2), (40.2, 0.0), (47.6, 1.2)),
        "eto": ((51.4, 0.1), (50.6, 0.8), (48.9, 1.7), (43.8, 0.4), (48.4, 0.2), (38.8, 1.0), (47.0, 0.7)),
        "archer": ((57.3, 1.0), (49.5, 1.0), (48.3, 0.4), (43.8, 0.4), (46.5, 0.6), (35.5, 2.8), (47.6, 1.1)),
        "steptool": ((62.8, 0.1), (58.8, 0.9), (61.6, 1.2), (56.9, 2.2), (56.3, 2.7), (42.6, 0.7), (56.5, 1.3)),
    },
    "DFSDT": {
        "sft": ((62.8, 1.8), (55.2, 0.5), (57.8, 0.7), (56.0, 0.3), (52.0, 1.2), (54.1, 1.3), (56.3, 1.0)),
        "rft": ((58.3, 2.9), (51.3, 0.5), (55.1, 1.3), (48.7, 0.8), (50.5, 0.8), (58.5, 2.4), (53.7, 1.5)),
        "ppo": ((62.8, 1.4), (58.4, 0.3), (57.4, 1.7), (53.6, 2.0), (54.4, 1.1), (39.9, 0.8), (54.4, 1.2)),
        "eto": ((60.1, 0.8), (54.8, 1.5), (56.1, 1.4), (54.4, 3.0), (54.6, 1.0), (44.0, 2.8), (54.0, 1.8)),
        "archer": ((63.5, 1.0), (59.5, 1.5), (59.2, 1.6), (55.4, 0.5), (54.7, 0.7), (53.3, 2.0), (57.6, 1.2)),
        "steptool": ((64.1, 0.8), (58.7, 1.0), (62.9, 0.9), (57.8, 1.2), (56.0, 0.8), (66.1, 2.7), (60.9, 1.3)),
    },
}

DIFFERENCES = """Why our numbers differ from the paper's:

- **Model scale.** The paper fine-tunes ToolLLaMA-2-7b-v2 (7B parameters, already SFT-trained on ToolBench);
  the CPU preset trains a tiny Llama from scratch, the GPU preset SmolLM2-135M. A model that small must first
  learn to copy entity names from the query into its calls, which the 7B model already does.
- **Suite.** The paper evaluates on StableToolBench's real APIs (cached/simulated) judged by GPT-4; ours is the
  synthetic ToolBench-shaped world with an exact judge. Same groups and split kinds, different tasks, so only
  the *ordering* of methods is comparable, not the levels.
- **Budget.** Each preset's budget is stated above it (minutes of CPU per method); the paper trains on its
  full step-grained dataset on GPUs. Our ± is a 95% confidence interval over training seeds; the paper's is
  the standard deviation over repeated evaluator runs of one trained model.
- **Decoding.** Our table is greedy single chains (CoT-style, batched); the paper reports CoT and DFSDT.
  `steptool eval --model RUN --strategy dfsdt` evaluates a trained run with DFSDT.
- **Ablations.** The paper's ablation numbers (without step rewards / without step-grained optimisation) are
  not listed here: we did not find them in the authors' published results, and do not quote them from memory.
"""


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, bool) or v is None:
            return "-" if v is None else str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _load(results: Path, name: str) -> Any:
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def _not_run(command: str) -> str:
    return f"_Not yet run: `{command}`._\n"


def _machine_line(machine: dict[str, Any] | None) -> str:
    if not machine:
        return ""
    parts = [str(machine.get("cpu") or machine.get("processor") or "")]
    if machine.get("cores"):
        parts.append(f"{machine['cores']} cores")
    if machine.get("ram_gb"):
        parts.append(f"{machine['ram_gb']} GB RAM")
    if machine.get("gpu"):
        parts.append(str(machine["gpu"]))
    line = ", ".join(p for p in parts if p)
    if machine.get("note"):
        line += f"; {machine['note']}"
    return f"Measured on: {line}.\n\n" if line else ""


def _measured(data: dict[str, Any], section: str) -> str:
    """The machine line of one section of env_throughput.json (sections may come from different runs)."""
    return _machine_line(data.get("measured_on", {}).get(section, data.get("machine")))


def section_machine(results: Path) -> str:
    try:
        import torch  # noqa: F401 - lets machine_info report a GPU
    except ImportError:
        pass
    machine = machine_info()
    versions = package_versions()
    lines = [f"- CPU: {machine['cpu']} ({machine['cores']} logical cores), RAM {machine['ram_gb']} GB",
             f"- GPU: {machine['gpu'] or 'none visible to torch'}",
             f"- OS: {machine['os']}; Python {machine['python']}",
             "- Packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in versions.items())]
    return ("This machine (the one that generated the report; each section names the machine its figures "
            "were measured on when the result file records it):\n\n" + "\n".join(lines) + "\n")


def section_env(results: Path) -> str:
    data = _load(results, "env_throughput.json")
    if not data or not data.get("results"):
        return _not_run("python benchmarks/env_throughput.py")
    if "steps_per_cpu_s" not in data["results"][0]:  # a file written before the floors were measured
        rows = [(r["env"], r["steps_per_s"], r["resets_per_s"], r["mean_episode_steps"], r["peak_rss_mb"])
                for r in data["results"]]
        return (_measured(data, "single") + "Oracle-action replay with rewards, one unwrapped env, one process.\n\n"
                + md_table(("env", "steps/s", "resets/s", "steps/episode", "peak RSS MB"), rows))
    rows = [(r["env"], r["steps_per_cpu_s"], r["steps_per_s"], r.get("floor_steps_per_cpu_s"),
             f"{r['floor_ratio_cpu']:.2f}" if r.get("floor_ratio_cpu") else None, r["resets_per_s"],
             f"{100 * r['state_key_share']:.0f}%", r["snapshot_ms"], r["restore_ms"], r["mean_episode_steps"],
             r["peak_rss_mb"]) for r in data["results"]]
    repeats = data["results"][0].get("repeats", 1)
    return (_measured(data, "single") + "The oracle's actions as ReAct text with seeded resets, rewards and default "
            "infos, one unwrapped env per suite, one process. The floor is the suite's tool functions called "
            "directly on the same actions (each action parsed, the tool run, its response rendered as JSON; no "
            "engine, judge or state key), timed in the same rounds; ratio = env / floor in CPU time. Medians of "
            f"{repeats} rounds; \"key\" is the default `state_key` info's share of a step.\n\n"
            + md_table(("env", "steps/CPU-s", "steps/wall-s", "floor steps/CPU-s", "ratio", "resets/s", "key",
                        "snapshot ms", "restore ms", "steps/episode", "peak RSS MB"), rows))


def section_vector(results: Path) -> str:
    data = _load(results, "env_throughput.json")
    if not data or not data.get("vector_scaling"):
        return _not_run("python benchmarks/env_throughput.py --sections vector")
    rows = [(r["env"], r["vectorizer"], r["num_envs"], r["steps_per_s"], r.get("steps_per_cpu_s"),
             f"{r['vs_single']:.2f} ({r.get('vs_single_clock', 'cpu')})" if r.get("vs_single") else None,
             r["startup_s"], r["main_rss_mb"], r["workers_peak_rss_mb"]) for r in data["vector_scaling"]]
    repeats = data["vector_scaling"][0].get("repeats", 1)
    skipped = "".join(f"- skipped {k}: {v}\n" for k, v in data.get("skipped", {}).items())
    text = (_measured(data, "vector")
            + "Oracle actions sent as ReAct text, autoresets included; steps count sub-env transitions. `single`: one "
              "env in a plain loop with the same next-step autoreset (the baseline); `sync`: Gymnasium's "
              "`SyncVectorEnv`; `make_vec`: `ToolSyncVectorEnv`, what `gym.make_vec(ID, N)` builds; `async`: "
              "`AsyncVectorEnv` (`shared_memory=False`). \"vs single\": steps per CPU-second over the single env's in "
              f"the same round (wall-clock for async, whose workers' CPU is not counted). Medians of {repeats} "
              "interleaved rounds.\n\n"
            + md_table(("env", "vector", "N", "steps/s", "steps/CPU-s", "vs single", "start-up s", "main RSS MB",
                        "workers peak MB"), rows) + ("\n" + skipped if skipped else ""))
    latency = data.get("latency_crossover")
    if latency:
        rows = [(r["env"], r["latency_ms"], r["vectorizer"], r["num_envs"], r["steps_per_s"],
                 f"{r['async_over_sync']:.2f}x") for r in latency]
        text += ("\n" + _measured(data, "latency") + "Sync vs async with a simulated per-step tool latency (a sleep in "
                 "every sub-env step): wall-clock sub-env steps/s, medians of interleaved rounds.\n\n"
                 + md_table(("env", "latency ms", "vector", "N", "steps/s", "async / sync"), rows))
    return text


def section_parse(results: Path) -> str:
    data = _load(results, "env_throughput.json")
    if not data or not data.get("action_parsing"):
        return _not_run("python benchmarks/env_throughput.py --sections parse")
    rows = [(r["env"], r["actions"], r["mean_react_chars"], r["react_text_us"], r["json_text_us"], r["dict_us"],
             r["openai_message_us"]) for r in data["action_parsing"]]
    return (_measured(data, "parse") + "Microseconds per `parse_action` call on the oracle's calls in each accepted "
            "form.\n\n"
            + md_table(("env", "actions", "ReAct chars", "ReAct µs", "JSON text µs", "dict µs", "OpenAI msg µs"),
                       rows))


def section_fuzz(results: Path) -> str:
    data = _load(results, "fuzz.json")
    if not data:
        return _not_run("python benchmarks/fuzz.py")
    rows = [(r["env"], r["actions"], r["exceptions"], r["actions_per_s"]) for r in data["results"]]
    return (f"{data['total_actions']:,} adversarial actions, {data['total_exceptions']} exceptions.\n\n"
            + md_table(("env", "actions", "exceptions", "actions/s"), rows))


def section_judge(results: Path) -> str:
    data = _load(results, "judge_agreement.json")
    if not data:
        return _not_run("python benchmarks/judge_agreement.py")
    keys = ("runs", "exact_agreement", "binary_agreement", "cohen_kappa", "majority_class_baseline",
            "single_gpt4_run_vs_majority")
    groups = {"held out by model": data.get("held_out_by_model"), "held out by query group":
              data.get("held_out_by_group"), "all runs (in-sample)": data["overall"], **data.get("per_group", {})}
    rows = [(name, *(g.get(k) for k in keys[:2]),
             "[{:.3f}, {:.3f}]".format(*g["exact_ci95"]) if "exact_ci95" in g else "", *(g.get(k) for k in keys[2:]))
            for name, g in groups.items() if g]
    return (f"{data['judge']} vs {data['reference']}. The judge's markers are learned from these labels: "
            "\"held out\" rows score each model (query group) with markers learned on the others only; the other "
            "rows use the shipped markers, learned on all runs. 95% interval: bootstrap over queries.\n\n"
            + md_table(("runs of", "runs", "exact", "exact 95% CI", "binary", "kappa", "majority baseline",
                        "one GPT-4 run"), rows))


def section_sb3(results: Path) -> str:
    data = _load(results, "sb3_learning.json")
    if not data:
        return _not_run("python benchmarks/sb3_learning.py")
    seeds = sorted({r["seed"] for r in data.get("runs", [])})
    rows = [(t["algo"], t["reward_mode"], t["seeds"], t["timesteps"], t["train_pass_rate"],
             f"{t['held_out_pass_rate']:.3f} ± {t['held_out_std']:.3f}",
             "[{:.3f}, {:.3f}]".format(*t["held_out_ci95"]) if "held_out_ci95" in t else "",
             "[{:.3f}, {:.3f}]".format(*t["held_out_episodes_ci95"]) if "held_out_episodes_ci95" in t else "",
             t["train_wall_s"]) for t in data["table"]]
    return (f"StepTool-ToolBench-G1-v0, greedy pass rate (held-out: `test_instruction`), seeds {seeds}; ± is the "
            "std over seeds, CI a 95% t-interval over seeds. `random` (uniform over the candidates the action "
            "mask allows), `first_untried`, `kitchen_sink` and `exhaust` (`steptool_gym.test.adversaries`) play "
            "the same held-out tasks. The episodes' CI is a 95% Wilson interval over every held-out episode "
            "(tasks, not seeds; conservative for a pass rate that counts Unsure as 0.5).\n\n"
            + _machine_line(data.get("machine"))
            + md_table(("policy", "reward", "seeds", "env steps", "train", "held-out", "95% CI (seeds)",
                        "95% CI (episodes)", "train s"), rows))


def section_trainer(results: Path) -> str:
    data = _load(results, "trainer_throughput.json")
    if not data or not data.get("runs"):
        return _not_run("pip install 'steptool-gym[bench]' && python benchmarks/trainer_throughput.py")
    out = []
    for name, run in data["runs"].items():
        s = run["setup"]
        rows = [(r["trainer"], r["step_s"], r["tokens_per_s"], r["peak_rss_mb"], r["step_extra_mb"])
                for r in run["results"]]
        out.append(f"**{name}** ({s['parameters'] / 1e6:.1f}M parameters, LoRA r={s['lora_r']}), batch of "
                   f"{s['batch']} episodes = {s['tokens']:,} tokens ({s['action_tokens']:,} action tokens), "
                   f"{run['threads']} torch thread(s). " + _machine_line(run.get("machine"))
                   + md_table(("trainer", "step s (median)", "tokens/s", "peak RSS MB", "step working MB"), rows)
                   + f"\nStepTool / TRL tokens/s: **{run['ratio_tokens_per_s']:.2f}x**. Method: {run['method']}. "
                   f"Remaining differences: {'; '.join(run['differences'])}. {run['trl_ppo']}.\n")
    return "\n".join(out)


def section_serve(results: Path) -> str:
    data = _load(results, "serve_throughput.json")
    if not data or not data.get("rows"):
        return _not_run("pip install 'steptool-gym[openenv]' && python benchmarks/serve_throughput.py")
    anchor = data["stb_server_anchor_calls_per_s"]
    rows = [(r["mode"], r["sessions"], r["steps_per_s"], r["p50_ms"], r["p99_ms"], r["cpu_ms_per_step"],
             r["vs_in_process"], r.get("vs_stb_anchor", "")) for r in data["rows"]]
    return (_machine_line(data.get("machine")) + f"`steptool serve {data['env']}` (openenv-core's server, its own "
            "process, 127.0.0.1) driven by OpenEnv's `EnvClient` sessions replaying oracle episodes, vs the same "
            f"replay in-process; medians of {data['repeats']} runs of {data['seconds']} s. Anchor: StableToolBench's "
            f"API server, ~{anchor:.0f} calls/s sequential (the issue's figure, not measured here).\n\n"
            + md_table(("mode", "sessions", "steps/s", "p50 ms", "p99 ms", "CPU-ms/step (server+client)",
                        "vs in-process", "vs STB server"), rows))


def _fmt(mean: float, ci: float | None) -> str:
    return f"{100 * mean:.1f} ± {100 * ci:.1f}" if ci is not None else f"{100 * mean:.1f}"


def _figure(path: str, results: Path, report_dir: Path) -> str:
    target = results.parent / path
    rel = os.path.relpath(target, report_dir)
    return f"![{Path(path).stem}]({rel})\n" if target.exists() else ""


def section_learning(results: Path, report_dir: Path) -> str:
    files = sorted(results.glob("learning_*.json"))
    if not files:
        return _not_run("python benchmarks/learning.py --preset cpu") + "\n" + _paper_table(None) + "\n" + DIFFERENCES
    out = []
    for path in files:
        data = json.loads(path.read_text())
        cells = list(dict.fromkeys(r["cell"] for r in data["table"]))
        by_method: dict[str, dict[str, dict[str, Any]]] = {}
        for r in data["table"]:
            by_method.setdefault(r["method"], {})[r["cell"]] = r
        rows = [(m, *(_fmt(v[c]["mean"], v[c]["ci95"]) if c in v else None for c in cells), v[cells[0]]["n"])
                for m, v in by_method.items()]
        named = data["bench"]["target_pass_rate"]
        target = data.get("target_pass_rate", named)
        target_text = str(target)
        if isinstance(named, str):  # a method's final train pass rate
            target_text = f"{named}'s final train pass rate, " + (f"{target:.3f}" if target is not None else "not run")
        eff = [(m, e["mean_env_steps"], f"{e['reached']}/{e['seeds']}") for m, e in data["steps_to_target"].items()]
        skipped = "".join(f"- not run: {k} ({v})\n" for k, v in data.get("skipped", {}).items())
        secondary = _secondary_table(data.get("secondary", {}))
        cfg = data["config"]
        model = cfg.get("model", {}).get("name", "tiny")
        paired = {str(seed) for seed in data["seeds"]}
        steps = [r["env_steps"] for by_seed in data["runs"].values() for seed, r in by_seed.items()
                 if r["env_steps"] and seed in paired]
        partial = data.get("partial_seeds") or []
        partial_text = (f"Seed(s) {partial} ran for some methods only: left out of these tables (methods are "
                        "paired by seed); their finished runs are in the results file, which `--reuse` continues "
                        "from. ") if partial else ""
        budget = (f"PPO/GRPO budget per run: {cfg.get('ppo', {}).get('updates', '?')} updates × "
                  f"{cfg.get('rollout', {}).get('episodes_per_update', '?')} episodes"
                  + (f"; ≈{sum(steps) / len(steps):,.0f} env steps per trained run" if steps else "") + ". ")
        out.append(f"### Preset `{data['preset']}` (model {model})\n\n" + _machine_line(data.get("machine"))
                   + budget
                   + f"Greedy held-out pass rate in %, mean ± 95% CI (Student t) over seeds {data['seeds']}, "
                     f"{data['eval_episodes']} episodes per cell. " + partial_text + "\n\n"
                   + md_table(("method", *cells, "seeds"), rows)
                   + secondary
                   + f"\nEnv steps until the train pass rate (running mean over {data['bench']['target_window']} "
                     f"update(s)) reaches {target_text}:\n\n"
                   + md_table(("method", "env steps (mean over seeds that reached it)", "seeds reaching"), eff)
                   + ("\n" + skipped if skipped else "") + "\n"
                   + "".join(_figure(f, results, report_dir) for f in data.get("figures", [])))
    return "\n".join(out) + "\n" + _paper_table(files) + "\n" + DIFFERENCES


def _secondary_table(secondary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Tool-call precision/recall/F1 (older results: accuracy), mean return and steps per method (mean over
    cells, ± 95% CI over seeds)."""
    if not secondary:
        return ""

    def cell(v: dict[str, Any]) -> str:
        return f"{v['mean']:.3f}" + (f" ± {v['ci95']:.3f}" if v["ci95"] is not None else "")

    first = next(iter(secondary.values()))
    keys = [k for k in _SECONDARY_COLUMNS if k in first]
    rows = [(m, *(cell(v[k]) for k in keys)) for m, v in secondary.items()]
    note = ("tool-call precision: distinct gold calls matched / calls made; recall: gold calls matched / gold calls"
            if "tool_call_f1" in keys else
            "tool-call accuracy (results from before issue 14): share of tool calls that match a gold call, "
            "repeats included")
    return (f"\nAveraged over the cells ({note}; mean return: the sum of the step rewards):\n\n"
            + md_table(("method", *(_SECONDARY_COLUMNS[k] for k in keys)), rows))


_SECONDARY_COLUMNS = {"tool_call_precision": "call precision", "tool_call_recall": "call recall",
                      "tool_call_f1": "call F1", "tool_call_accuracy": "tool-call accuracy",
                      "mean_return": "mean return", "avg_steps": "avg steps"}


def _paper_table(files: Sequence[Path] | None) -> str:
    """The paper's rows with ours beside them on the matching cells (our average only over the same six cells)."""
    headers = ("method", "source", "I1 Ins.", "I1 Cat.", "I1 Tool", "I2 Cat.", "I2 Ins.", "I3 Ins.", "average")
    ours: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    same_cells: dict[str, bool] = {}
    for path in files or []:
        data = json.loads(path.read_text())
        for r in data["table"]:
            ours.setdefault(data["preset"], {}).setdefault(r["method"], {})[r["cell"]] = r
        same_cells[data["preset"]] = set(data["bench"]["eval_cells"]) == set(PAPER_CELLS)
    rows = []
    for method, label in PAPER_LABELS.items():
        for strategy, table in PAPER.items():
            paper = (f"{mean:.1f} ± {std:.1f}" for mean, std in table[method])
            rows.append((label, f"paper, ToolLLaMA-2-7b-v2, {strategy}", *paper))
        for preset, methods in ours.items():
            if method in methods:
                got = methods[method]
                cells = [_fmt(got[c]["mean"], got[c]["ci95"]) if c in got else None for c in PAPER_CELLS]
                avg = _fmt(got["average"]["mean"], got["average"]["ci95"]) if same_cells[preset] else None
                rows.append((label, f"ours, preset {preset}, greedy", *cells, avg))
    return f"Paper vs ours (pass rate %). Paper: {PAPER_SOURCE}.\n\n" + md_table(headers, rows)


def section_farming(results: Path) -> str:
    data = _load(results, "reward_farming.json")
    if not data:
        return _not_run("python benchmarks/reward_farming.py")
    out = ["Mean undiscounted return per reward mode × scripted policy, on tasks the oracle solves (count per "
           f"table; `gym.make(ID)` defaults; default mode `{data['default_mode']}`; 2-core CPU, shared). "
           "A mode can be farmed where an adversary's column beats the oracle's; `≥ oracle` is the share of "
           "tasks where some adversary earns at least the oracle's return (tasks an instant empty Finish solves, "
           "and an adversary's episode that replays the oracle's own step for step, are left out of it).\n"]
    for s in data["suites"]:
        policies = list(next(iter(s["mean_return"].values())))
        rows = [(mode, *(f"{row[p]:.3f}" for p in policies),
                 f"{max(s['adversary_ge_oracle'][mode].values()):.2f}") for mode, row in s["mean_return"].items()]
        replays = "".join(f"; `{p}` replays the oracle on task{'s' * (len(t) > 1)} {', '.join(map(str, t))}"
                          for p, t in s.get("replays_oracle", {}).items())
        out.append(f"\n**{s['env_id']}** ({s['tasks']} tasks, {len(s['trivial_tasks'])} solved by an instant "
                   f"Finish{replays})\n\n" + md_table(("mode", *policies, "≥ oracle"), rows))
    if data.get("heuristics"):
        policies = ("first_untried", "kitchen_sink", "exhaust", "random", "oracle_finish")
        rows = [(h["group"], h["split"], h["draws"], *(f"{h[p]['solve_rate']:.3f} / {h[p]['pass_rate']:.3f}"
                                                        for p in policies)) for h in data["heuristics"]]
        out.append("\nThe discrete candidate list (`DiscreteToolCalls`) on seeded random draws of held-out tasks, "
                   "solve rate (IsSolved = 1) / pass rate (mean IsSolved, Unsure = 0.5): no-learning heuristics, "
                   "random valid actions, and the oracle's calls answered through the Finish candidate (the "
                   "space's ceiling):\n\n"
                   + md_table(("group", "split", "draws", "first untried", "kitchen-sink answer",
                               "exhaust, then Finish", "random (masked)", "oracle calls + Finish"), rows))
    return "".join(out)


def _quickstart_rows(results: dict[str, dict[str, Any]]) -> str:
    from steptool_agents.quickstart import wilson_interval

    rows = []
    for name, r in results.items():
        lo, hi = wilson_interval(r["pass_rate"] * r["episodes"], r["episodes"])
        rows.append((name, f"{r['pass_rate']:.3f}", f"[{lo:.2f}, {hi:.2f}]", r["episodes"], f"{r['avg_steps']:.2f}",
                     f"{r['tool_call_precision']:.3f}", f"{r['tool_call_recall']:.3f}", f"{r['mean_return']:.3f}"))
    return md_table(("model", "pass rate", "95% CI (Wilson)", "tasks", "avg steps", "call precision", "call recall",
                     "mean return"), rows)


def section_quickstart(results: Path) -> str:
    out = []
    cpu = _load(results, "quickstart_cpu.json")
    if cpu:
        t = cpu["timings"]
        out.append(f"**`{cpu['command']}`** ({cpu['summary']}). " + _machine_line(cpu.get("machine"))
                   + _quickstart_rows(cpu["results"])
                   + f"\nWall time {t['total_s'] / 60:.1f} min: SFT {t['sft_s'] / 60:.1f}, untrained + SFT evaluation "
                   f"{t['eval_untrained_and_sft_s'] / 60:.1f}, PPO {t['ppo_s'] / 60:.1f}, StepTool evaluation "
                   f"{t['eval_steptool_s'] / 60:.1f} min.\n")
    else:
        out.append(_not_run("make quickstart"))
    pc = _load(results, "prefix_cache.json")
    if pc:
        out.append(f"**`{pc['command']}`** (greedy, {pc['episodes']} held-out episodes, medians of {pc['repeats']}; "
                   + _machine_line(pc.get("machine")).strip()
                   + f") `rollout.prefix_cache`: {pc['cached']['encoded_per_episode']:.0f} instead of "
                   f"{pc['full']['encoded_per_episode']:.0f} tokens encoded per episode, "
                   f"{pc['speedup_wall']:.2f}× wall, {pc['speedup_cpu']:.2f}× CPU; same episodes: "
                   f"{'yes' if pc['same_episodes'] else 'no'}.\n")
    gpu = _load(results, "gpu_quickstart.json")
    if gpu:
        q = gpu["quickstart"]
        out.append("**`python benchmarks/gpu_quickstart.py`**. " + _machine_line(gpu.get("machine"))
                   + f"Generation {gpu['generation']['tokens_per_s']:,.0f} tok/s, training "
                   f"{gpu['training']['tokens_per_s']:,.0f} tok/s; quickstart {q['wall_s'] / 60:.1f} min.\n\n"
                   + _quickstart_rows(q["results"]))
    else:
        out.append("GPU: " + _not_run("python benchmarks/gpu_quickstart.py"))
    return "\n".join(out)


def section_failure_modes(results: Path) -> str:
    data = _load(results, "failure_modes.json")
    if not data:
        return _not_run("python benchmarks/failure_modes.py --model runs/quickstart/model --model runs/quickstart")
    models = data["models"]
    order = [*data["categories"], "no mistake"]

    def table(key: str) -> str:
        used = [c for c in order if any(c in m[key] for m in models.values())]
        rows = [(c, *(m[key].get(c, 0) for m in models.values())) for c in used]
        return md_table(("category", *models), rows)

    passes = ", ".join(f"`{name}` {m['pass_rate']:.3f}" for name, m in models.items())
    return (_machine_line(data.get("machine"))
            + f"Greedy episodes on {data['episodes']} tasks of `{data['split']}` (seed {data['seed']}, the same list "
              f"for every model; pass rate {passes}), each step classified from the env's `info`. First mistake per "
              "episode (the first step that is neither a new gold call nor a solving Finish):\n\n"
            + table("first_mistake") + "\nAll steps:\n\n" + table("steps") + _invalid_kinds(models))


def _invalid_kinds(models: dict[str, dict[str, Any]]) -> str:
    """The ``invalid arguments`` steps by kind, per model (results from before the split have none)."""
    if not any(m.get("invalid_arguments") for m in models.values()):
        return ""
    kinds = list(dict.fromkeys(k for m in models.values() for k in m.get("invalid_arguments", {})))
    rows = [(k, *(m.get("invalid_arguments", {}).get(k, 0) for m in models.values())) for k in kinds]
    return "\nInvalid-argument steps by what the argument check reported:\n\n" + md_table(("kind", *models), rows)


def section_rollout_replay(results: Path) -> str:
    data = _load(results, "rollout_replay.json")
    if not data:
        return _not_run("python benchmarks/rollout_replay.py --run DIR --round N")
    r, n = data["resamples"], data["episodes"]
    rows = [("logged in training", data["logged"]["pass_rate"]),
            ("exact replay (checkpoint, same sampling stream)", data["replayed"]["pass_rate"]),
            *((f"resampled, {key.replace('_', ' ')}", ", ".join(f"{p:.3f}" for p in r[key]["pass_rates"]))
              for key in ("checkpoint", "start_model") if r[key]["pass_rates"])]
    curve = ", ".join(f"{p:.3f}" for p in data.get("logged_curve", []))  # files from before the curve was kept
    return (_machine_line(data.get("machine"))
            + f"Round {data['round']} of `{data['run']}` ({data['algo']}"
              + (f"; logged rollout pass rate per round: {curve}" if curve else "") + ") "
              f"replayed from checkpoint {data['round'] - 1} on the same {n} tasks: the replay "
              f"{'reproduces' if data['replay_matches_log'] else 'does NOT reproduce'} the logged pass rate, step "
              "reward and action-token count. Resamples draw new tokens on the same tasks with that checkpoint and "
              "with the run's start model (adapter off).\n\n" + md_table(("rollout", "pass rate"), rows))


SECTIONS: tuple[tuple[str, Callable[..., str]], ...] = (
    ("Machine and versions", section_machine),
    ("Environment throughput", section_env),
    ("Vector-env scaling", section_vector),
    ("Action parsing", section_parse),
    ("Fuzzing", section_fuzz),
    ("Judge agreement (StableToolBench)", section_judge),
    ("Reward farming (adversary battery)", section_farming),
    ("SB3 learning", section_sb3),
    ("Quickstart: held-out pass rate of an LLM agent", section_quickstart),
    ("Where the quickstart agent fails", section_failure_modes),
    ("Is a rising rollout pass rate learning? (round replay)", section_rollout_replay),
    ("Trainer throughput vs TRL", section_trainer),
    ("OpenEnv server throughput", section_serve),
)


def build_report(results: Path, out: Path) -> str:
    parts = ["# StepTool-Gym benchmark report\n",
             "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; do not edit by hand.\n"]
    for title, fn in SECTIONS:
        parts.append(f"## {title}\n\n{fn(results)}")
    parts.append(f"## LLM learning benchmark\n\n{section_learning(results, out.parent)}")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--out", default=str(HERE / "REPORT.md"))
    args = parser.parse_args()
    out = Path(args.out)
    out.write_text(build_report(Path(args.results), out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
