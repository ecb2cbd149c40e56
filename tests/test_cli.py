"""The `steptool` command line: envs, play, bench env, eval."""

from __future__ import annotations

import json

import pytest

from steptool_gym.cli import main


def test_envs_lists_every_registered_id(capsys):
    assert main(["envs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = {r["id"] for r in rows}
    assert {"StepTool-ToolBench-v0", "StepTool-ToolBench-G1-v0", "StepTool-StableToolBench-v0"} <= ids
    assert all(r["description"] for r in rows)


@pytest.mark.parametrize(("agent", "expected"), [("oracle", 1.0), ("random", 0.0)])
def test_play_json_has_the_documented_fields(capsys, agent, expected):
    assert main(["play", "StepTool-ToolBench-G2-v0", "--agent", agent, "--episodes", "30", "--json",
                 "--env-kwarg", "split=test_tool"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"env", "episodes", "pass_rate", "avg_steps", "tool_call_precision", "tool_call_recall", "tool_call_f1",
            "mean_return"} <= set(out)
    assert out["episodes"] == 30 and out["pass_rate"] == pytest.approx(expected, abs=0.05)
    if agent == "oracle":
        assert out["tool_call_recall"] == 1.0 and out["tool_call_precision"] > 0.8 and out["avg_steps"] > 2


def test_bench_env_json(capsys):
    assert main(["bench", "env", "StepTool-ToolBench-G1-v0", "--tasks", "20", "--seconds", "0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps_per_s"] > 0 and out["resets_per_s"] > 0 and out["peak_rss_mb"] > 0


def test_eval_dfsdt_with_records(capsys, tmp_path):
    records = tmp_path / "records.json"
    assert main(["eval", "--env", "StepTool-ToolBench-G1-v0", "--agent", "oracle", "--strategy", "dfsdt",
                 "--split", "test_category", "--episodes", "5", "--records", str(records), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pass_rate"] == 1.0 and out["strategy"] == "dfsdt"
    assert len(json.loads(records.read_text())) == 5


def test_bad_input_gives_one_line_errors(capsys):
    with pytest.raises(SystemExit, match="unknown env"):
        main(["play", "StepTool-Nope-v0"])
    with pytest.raises(SystemExit, match="cannot make .*split must be one of"):
        main(["play", "StepTool-ToolBench-v0", "--env-kwarg", "split=nope", "--episodes", "1"])
    with pytest.raises(SystemExit, match="key=value"):
        main(["play", "StepTool-ToolBench-v0", "--env-kwarg", "split"])
