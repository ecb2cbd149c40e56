"""Benchmark helpers (not timings): vector/parse measurements run, CI and sample-efficiency maths, the report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym.bench import action_parse_cost, vector_throughput

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from learning import (
    METHODS,
    aggregate,
    curve_rows,
    final_pass_rate,
    load_preset,
    mean_ci95,
    merge,
    paired_seeds,
    resolve_target,
    reuse_runs,
    secondary_metrics,
    steps_to_target,
)
from report import PAPER_CELLS, build_report


@pytest.mark.parametrize("vectorizer", ["single", "sync", "make_vec", "async"])
def test_vector_throughput_reports_steps_and_memory(vectorizer: str) -> None:
    n = 1 if vectorizer == "single" else 2
    r = vector_throughput("StepTool-ToolBench-G1-v0", n, vectorizer, min_seconds=0.05, split="test_instruction")
    assert r["steps"] > 0 and r["steps_per_s"] > 0 and r["num_envs"] == n
    assert (r["workers_peak_rss_mb"] is None) == (vectorizer != "async")
    with pytest.raises(ValueError):
        vector_throughput("StepTool-ToolBench-G1-v0", 1, "threads")
    with pytest.raises(ValueError):
        vector_throughput("StepTool-ToolBench-G1-v0", 2, "single")


def test_action_parse_cost_covers_every_form() -> None:
    r = action_parse_cost("StepTool-ToolBench-G1-v0", tasks=5, min_seconds=0.02)
    assert r["actions"] > 0
    assert all(r[f"{form}_us"] > 0 for form in ("react_text", "json_text", "dict", "openai_message"))


def test_mean_ci95_uses_student_t() -> None:
    mean, half = mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 / math.sqrt(3))
    assert mean_ci95([0.5]) == (0.5, None)
    assert mean_ci95([0.0, 1.0] * 20)[1] == pytest.approx(1.96 * math.sqrt(40 / 39 * 0.25) / math.sqrt(40))


def test_steps_to_target_uses_cumulative_steps_and_running_mean() -> None:
    rows = [{"env_steps": "10", "pass_rate": "0.1"}, {"env_steps": "10", "pass_rate": "0.5"},
            {"env_steps": "12", "pass_rate": "0.6"}]
    assert steps_to_target(rows, 0.5) == 20
    assert steps_to_target(rows, 0.5, window=2) == 32
    assert steps_to_target(rows, 0.9) is None
    assert steps_to_target([{"pass_rate": "1.0"}], 0.5) is None  # no env-step count logged


def test_target_named_by_method_is_its_final_train_pass_rate_over_seeds() -> None:
    # the paper's "env steps to reach PPO-final's final pass rate": mean over PPO's seeds of its last update(s)
    def run(*rates: float) -> dict[str, Any]:
        return {"curve": {"env_steps": [10.0] * len(rates), "pass_rate": list(rates),
                          "mean_step_reward": [0.0] * len(rates)}}

    runs = {"ppo": {0: run(0.1, 0.2, 0.4), 1: run(0.0, 0.3, 0.2)}, "sft": {0: {"curve": None}}}
    assert final_pass_rate([{"pass_rate": "0.1"}, {"pass_rate": "0.4"}, {"pass_rate": "0.2"}], 2) == \
        pytest.approx(0.3)
    assert final_pass_rate([], 1) is None
    assert curve_rows(runs["ppo"][0])[2] == {"env_steps": 10.0, "pass_rate": 0.4, "mean_step_reward": 0.0}
    assert curve_rows(runs["sft"][0]) == []
    assert resolve_target("ppo", runs, 1) == pytest.approx(0.3)
    assert resolve_target("ppo", runs, 2) == pytest.approx((0.3 + 0.25) / 2)
    assert resolve_target("grpo", runs, 1) is None  # GRPO not run
    assert resolve_target(0.25, runs, 1) == 0.25
    scored = {"ppo": {seed: {**r, "cells": {"c": {"pass_rate": 0.5}}} for seed, r in runs["ppo"].items()}}
    table, efficiency = aggregate(scored, ["c"], 0.3, 1)
    assert efficiency["ppo"]["per_seed"] == {0: 30.0, 1: 20.0} and table[0]["mean"] == 0.5


def test_tables_pair_methods_on_the_seeds_all_of_them_finished() -> None:
    runs = {"sft": {0: {}, 1: {}, 2: {}}, "ppo": {0: {}, 2: {}}}
    assert paired_seeds(runs, [0, 1, 2, 3]) == ([0, 2], [1])
    assert paired_seeds({"sft": {}}, [0]) == ([], [])


def test_reuse_writes_finished_runs_of_a_matching_results_file(tmp_path: Path) -> None:
    base, cells = {"algo": "steptool", "seed": 0}, ["G1/test_tool"]
    done = {"cells": {}, "curve": None}
    results = tmp_path / "learning_x.json"
    made = {"config": base, "bench": {"eval_cells": cells}, "eval_episodes": 8}
    results.write_text(json.dumps({**made, "runs": {"sft": {"0": done, "1": done}}}))
    out = tmp_path / "runs"
    (out / "seed1" / "sft").mkdir(parents=True)
    (out / "seed1" / "sft" / "eval.json").write_text("{}")  # a local result wins
    assert reuse_runs(results, base, cells, 8, out, [(0, "sft"), (1, "sft"), (2, "sft"), (0, "ppo")]) == 1
    assert json.loads((out / "seed0" / "sft" / "eval.json").read_text()) == done
    assert (out / "seed1" / "sft" / "eval.json").read_text() == "{}"
    with pytest.raises(SystemExit, match="its config differs"):
        reuse_runs(results, {**base, "seed": 1}, cells, 8, out, [(0, "sft")])
    with pytest.raises(SystemExit, match="its eval_episodes differs"):
        reuse_runs(results, base, cells, 16, out, [(0, "sft")])
    with pytest.raises(SystemExit, match="not a learning results file"):
        reuse_runs(tmp_path / "missing.json", base, cells, 8, out, [(0, "sft")])
    results.write_text(json.dumps({**made, "runs": {"ppo": {"0": {"cells": {}}}}}))
    with pytest.raises(SystemExit, match="has no train curve"):
        reuse_runs(results, base, cells, 8, out, [(0, "ppo")])


def test_preset_target_must_be_a_number_or_a_method(tmp_path: Path) -> None:
    bench = '[bench]\nseeds = [0]\neval_cells = ["G1/test_tool"]\neval_episodes = 4\ntarget_window = 1\n'
    (tmp_path / "ok.toml").write_text(bench + 'target_pass_rate = "ppo"\n')
    assert load_preset(tmp_path / "ok.toml")[1]["target_pass_rate"] == "ppo"
    (tmp_path / "bad.toml").write_text(bench + 'target_pass_rate = "ppo-final"\n')
    with pytest.raises(SystemExit, match="a number or a method name, got 'ppo-final'"):
        load_preset(tmp_path / "bad.toml")


def test_merge_replaces_values_and_merges_sections() -> None:
    base = {"algo": "steptool", "ppo": {"credit": "step_gae", "updates": 4}}
    assert merge(base, {"algo": "ppo", "ppo": {"credit": "outcome_step_gae"}}) == {
        "algo": "ppo", "ppo": {"credit": "outcome_step_gae", "updates": 4}}


def test_report_without_results_says_not_yet_run(tmp_path: Path) -> None:
    text = build_report(tmp_path, tmp_path / "REPORT.md")
    assert text.count("Not yet run") == 14  # every section but the machine (the quickstart section: CPU and GPU)
    assert "56.4 ± 1.8" in text  # the paper's SFT CoT I1 Ins. row is always shown


def test_report_puts_ours_beside_the_paper(tmp_path: Path) -> None:
    table = [{"method": m, "cell": c, "n": 2, "mean": 0.25, "ci95": 0.05, "values": [0.2, 0.3]}
             for m in ("sft", "steptool") for c in [*PAPER_CELLS, "average"]]
    learning = {"preset": "cpu", "config": {"model": {"name": "tiny"}, "ppo": {"updates": 3},
                                            "rollout": {"episodes_per_update": 4}},
                "bench": {"eval_cells": list(PAPER_CELLS), "target_pass_rate": 0.3, "target_window": 3},
                "machine": {"cpu": "test cpu", "cores": 2, "note": "shared"}, "seeds": [0, 1], "eval_episodes": 8,
                "table": table,
                "secondary": {"steptool": {"tool_call_accuracy": {"mean": 0.125, "ci95": 0.01, "values": []},
                                           "mean_return": {"mean": 1.5, "ci95": None, "values": []},
                                           "avg_steps": {"mean": 3.25, "ci95": 0.5, "values": []}}},
                "steps_to_target": {"steptool": {"mean_env_steps": 120.0, "reached": 2, "seeds": 2}},
                "runs": {"steptool": {"0": {"env_steps": 100.0}, "1": {"env_steps": 140.0},
                                      "2": {"env_steps": 1000.0}}},  # seed 2: partial
                "partial_seeds": [2], "skipped": {}, "figures": ["results/learning_cpu_bars.png"]}
    results = tmp_path / "results"
    results.mkdir()
    (results / "learning_cpu.json").write_text(json.dumps(learning))
    (results / "learning_cpu_bars.png").write_bytes(b"png")
    text = build_report(results, tmp_path / "REPORT.md")
    assert "| StepTool | ours, preset cpu, greedy | 25.0 ± 5.0 |" in text
    assert "![learning_cpu_bars](results/learning_cpu_bars.png)" in text
    assert "| steptool | 0.125 ± 0.010 | 1.500 | 3.250 ± 0.500 |" in text
    assert "test cpu, 2 cores; shared" in text and "≈120 env steps per trained run" in text
    assert "Seed(s) [2] ran for some methods only" in text


def test_secondary_metrics_average_cells_then_seeds() -> None:
    def run(*values: float) -> dict[str, Any]:
        return {"cells": {c: {"tool_call_f1": v, "mean_return": 2 * v, "avg_steps": 3.0}
                          for c, v in zip(("a", "b"), values, strict=True)}}

    out = secondary_metrics({"m": {0: run(0.0, 0.5), 1: run(0.5, 1.0)}}, ["a", "b"])["m"]
    assert out["tool_call_f1"]["values"] == [0.25, 0.75]
    assert out["mean_return"]["mean"] == pytest.approx(1.0)
    assert out["avg_steps"]["ci95"] == pytest.approx(0.0)


PRESETS = sorted((Path(__file__).resolve().parent.parent / "benchmarks" / "presets").glob("*.toml"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_bench_presets_build_a_valid_config_for_every_method(preset: Path) -> None:
    from steptool_agents.config import ALGOS, TrainConfig

    data, bench = load_preset(preset)
    assert bench["seeds"]
    for name, overrides in METHODS.items():
        if overrides["algo"] in ALGOS:
            assert TrainConfig.from_dict(merge(data, overrides)).algo == overrides["algo"], name


def test_gpu_quickstart_refuses_without_cuda_in_one_line(capsys) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible: the script would run for minutes")
    from gpu_quickstart import main

    assert main(["--out", "unused"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]


def test_gpu_quickstart_preset_is_the_quickstart_recipe_on_cuda() -> None:
    pytest.importorskip("torch")
    from steptool_agents.config import load_config
    from steptool_agents.quickstart import quickstart_config

    gpu, cpu = load_config(Path(__file__).resolve().parent.parent / "configs" / "gpu_quickstart.toml"), \
        quickstart_config()
    assert gpu.model.device == "cuda" and gpu.model.name == cpu.model.name == "smollm2"
    assert (gpu.algo, gpu.env_id, gpu.group, gpu.eval_split, gpu.model.prompt_format) == \
        (cpu.algo, cpu.env_id, cpu.group, cpu.eval_split, cpu.model.prompt_format)
    assert gpu.eval_episodes >= cpu.eval_episodes and gpu.sft.episodes >= cpu.sft.episodes


def test_report_renders_the_quickstart_table_with_wilson_intervals(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from report import section_quickstart

    row = {"pass_rate": 0.25, "episodes": 48, "avg_steps": 3.5, "tool_call_precision": 0.5,
           "tool_call_recall": 0.4, "mean_return": 0.2}
    timings = {"total_s": 600, "sft_s": 120, "eval_untrained_and_sft_s": 240, "ppo_s": 180, "eval_steptool_s": 60}
    (tmp_path / "quickstart_cpu.json").write_text(json.dumps(
        {"command": "make quickstart", "summary": "test", "results": {"untrained": {**row, "pass_rate": 0.0},
                                                                       "SFT": row}, "timings": timings}))
    text = section_quickstart(tmp_path)
    assert "| untrained | 0.000 | [0.00, 0.07] | 48 |" in text and "| SFT | 0.250 | [0.15, 0.39] | 48 |" in text
    assert "Wall time 10.0 min" in text and "Not yet run: `python benchmarks/gpu_quickstart.py`" in text


def test_failure_modes_classify_each_step_from_the_info() -> None:
    from failure_modes import classify_episode, summarise

    from steptool_envs.toolbench.judge import CON_RIGHT_API
    from steptool_gym.bench import record_oracle_actions

    env = gym.make("StepTool-ToolBench-v0", split="test_instruction", group="G1")
    tasks = env.unwrapped.suite.tasks
    oracle = {tasks[i].task_id: [a.to_react() for a in actions]
              for i, actions in record_oracle_actions(env.unwrapped, 20) if len(actions) >= 3}
    task_id, actions = next(iter(oracle.items()))
    gold = env.unwrapped.suite.tasks[[t.task_id for t in tasks].index(task_id)].gold.calls[0]
    assert classify_episode(env, task_id, actions, CON_RIGHT_API) == ["gold call"] * (len(actions) - 1) + ["solved"]
    other_args = dict.fromkeys(gold.arguments, "Nowhere at all")
    give_answer = '{"return_type": "give_answer", "final_answer": "no idea"}'
    mistakes = ["no action here", "Action: not_a_function\nAction Input: {}",
                f"Action: {gold.name}\nAction Input: {{\"unexpected\": 1}}",
                f"Action: {gold.name}\nAction Input: {json.dumps(other_args)}",
                actions[0], actions[0], f"Action: Finish\nAction Input: {give_answer}"]
    kinds: list[str] = []
    steps = classify_episode(env, task_id, mistakes, CON_RIGHT_API, kinds)
    assert steps == ["unparseable action", "unknown function", "invalid arguments", "gold API, other arguments",
                     "gold call", "repeated or failed gold call", "answer before all gold calls"]
    assert kinds == ["unexpected parameter"]
    key = next(iter(gold.arguments))
    for value, kind in ((["a list"], "wrong type (string expected, list given)"), ("  ", "empty required value")):
        wrong = [f"Action: {gold.name}\nAction Input: {json.dumps({**gold.arguments, key: value})}"]
        assert classify_episode(env, task_id, wrong, CON_RIGHT_API, kinds) == ["invalid arguments"]
        assert kinds[-1] == kind
    missing = [f"Action: {gold.name}\nAction Input: {{}}"]
    assert classify_episode(env, task_id, missing, CON_RIGHT_API, kinds) == ["invalid arguments"]
    assert kinds[-1] == "missing required parameter"
    early = classify_episode(env, task_id, [actions[0], f"Action: Finish\nAction Input: {give_answer}"], CON_RIGHT_API)
    assert early == ["gold call", "answer before all gold calls"]
    quit_ = classify_episode(env, task_id, ['Action: Finish\nAction Input: {"return_type": "give_up_and_restart"}'],
                             CON_RIGHT_API)
    assert quit_ == ["gave up"]
    out = summarise([["gold call", "solved"], steps, early], ["unexpected parameter", "other", "other"])
    assert out["first_mistake"] == {"unparseable action": 1, "answer before all gold calls": 1, "no mistake": 1}
    assert out["invalid_arguments"] == {"other": 2, "unexpected parameter": 1}
    assert out["steps"]["gold call"] == 3 and out["episodes"] == 3


def test_report_renders_failure_modes_per_model(tmp_path: Path) -> None:
    data = {"split": "test_instruction", "episodes": 2, "seed": 777, "categories": ["gold call", "other API"],
            "machine": {"cpu": "test cpu", "cores": 2},
            "models": {"sft": {"pass_rate": 0.5, "first_mistake": {"other API": 1, "no mistake": 1},
                               "steps": {"gold call": 3, "other API": 1},
                               "invalid_arguments": {"missing required parameter": 2}},
                       "ppo": {"pass_rate": 0.0, "first_mistake": {"other API": 2}, "steps": {"other API": 4}}}}
    (tmp_path / "failure_modes.json").write_text(json.dumps(data))
    text = build_report(tmp_path, tmp_path / "REPORT.md")
    assert "| other API | 1 | 2 |" in text and "| no mistake | 1 | 0 |" in text and "| gold call | 3 | 0 |" in text
    assert "`sft` 0.500, `ppo` 0.000" in text and "| missing required parameter | 2 | 0 |" in text


def test_report_renders_a_round_replay(tmp_path: Path) -> None:
    data = {"run": "runs/x", "algo": "steptool", "round": 5, "episodes": 16, "logged_curve": [0.125, 0.3125],
            "logged": {"pass_rate": 0.3125}, "replayed": {"pass_rate": 0.3125}, "replay_matches_log": True,
            "resamples": {"checkpoint": {"pass_rates": [0.25]}, "start_model": {"pass_rates": [0.1875]}}}
    (tmp_path / "rollout_replay.json").write_text(json.dumps(data))
    text = build_report(tmp_path, tmp_path / "REPORT.md")
    assert "the replay reproduces the logged" in text and "0.125, 0.312" in text
    assert "| resampled, checkpoint | 0.250 |" in text and "| resampled, start model | 0.188 |" in text


def test_rollout_replay_reproduces_the_logged_round_and_resamples_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from rollout_replay import replay

    from steptool_agents.config import TrainConfig
    from steptool_agents.trainer import run_training
    from steptool_envs.toy import register_toy_env

    cfg = TrainConfig.from_dict({
        "algo": "steptool", "env_id": register_toy_env(), "max_steps": 3, "checkpoint_every": 1,
        "warm_start_sft": True, "threads": 1, "env_kwargs": {"reward_mode": "step"},
        "model": {"vocab_size": 400, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "sft": {"episodes": 16, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2},
        "rollout": {"num_envs": 4, "episodes_per_update": 4, "max_new_tokens": 48},
        "ppo": {"updates": 3, "minibatch_size": 2, "grad_accum_steps": 2, "learning_rate": 1e-4,
                "target_approx_kl": None}})
    run_training(cfg, tmp_path, evaluate=False)
    result = replay(tmp_path, 3, resamples=2)
    assert result["replay_matches_log"] and result["episodes"] == 4
    assert result["logged"]["action_tokens"] == result["replayed"]["action_tokens"]
    assert result["logged"]["mean_step_reward"] == result["replayed"]["mean_step_reward"] != 0.0
    for key in ("checkpoint", "start_model"):  # the same tasks, played again
        assert [s["tasks"] for s in result["samples"][key]] == [result["replayed"]["tasks"]] * 2
    with pytest.raises(SystemExit, match="round 1 has no checkpoint"):
        replay(tmp_path, 1, resamples=0)
