"""Offline StepTool data: step-grained CSV and ToolLLaMA SFT JSON become trajectories (literals only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from steptool_agents.models import train_bpe_tokenizer
from steptool_agents.offline import load_sft_json, load_step_grained_csv, parse_literal_list
from steptool_agents.prompts import ReActFormat
from steptool_agents.tokenization import encode

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "steptool" / "train_examples"


@pytest.fixture(scope="module")
def tok():
    return train_bpe_tokenizer(["System: Assistant: Thought: Action: Action Input: Function: {} 0.5 [] 'x'"] * 4, 300)


def test_parse_literal_list_never_evaluates_code() -> None:
    assert parse_literal_list("[1, 0.5]", float) == [1.0, 0.5]
    assert parse_literal_list("['a', 'b']", str) == ["a", "b"]
    with pytest.raises(ValueError):
        parse_literal_list("__import__('os').getcwd()", str)
    with pytest.raises(ValueError):
        parse_literal_list("['a', 1]", str)


def test_step_grained_csv_rows_become_trajectories(tmp_path: Path, tok) -> None:
    path = tmp_path / "steps.csv"
    prompts = ["System: S\nUser: Q\nAssistant:\n", "Function: {}\nAssistant:\n"]
    responses = ["Thought: a\nAction: f\nAction Input: {}</s>", "Action: Finish\nAction Input: {}</s>"]
    path.write_text("prompt\tresponse\treward\n" + f"{prompts!r}\t{responses!r}\t[0.8, 1]\n")
    (t,) = load_step_grained_csv(path, tok)
    assert t.rewards == [0.8, 1.0] and t.finals == [False, True] and t.is_solved == 1.0
    assert t.tokens[0] == tok.bos_token_id
    actions = [i for i, m in zip(t.tokens, t.action_mask, strict=True) if m]
    assert actions == encode(tok, responses[0]) + encode(tok, responses[1])
    assert t.step_index[-1] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt\tresponse\treward\n['a']\t['b', 'c']\t[1]\n")
    with pytest.raises(ValueError):
        load_step_grained_csv(bad, tok)


def test_sft_json_conversations(tmp_path: Path, tok) -> None:
    conv = [{"from": "system", "value": "S"}, {"from": "user", "value": "Q\nBegin!\n"},
            {"from": "assistant", "value": "Thought: a\nAction: f\nAction Input: {}"},
            {"from": "function", "value": '{"error": "", "response": "r"}'},
            {"from": "assistant", "value": "Action: Finish\nAction Input: {}"}]
    path = tmp_path / "sft.json"
    path.write_text(json.dumps({"1": {"cnt": 1, "instances": [{"id": "x", "conversations": conv}]}}))
    (t,) = load_sft_json(path, ReActFormat(tok.eos_token), tok)
    assert t.num_steps == 2 and t.finals == [False, True]
    assert tok.decode(t.tokens, skip_special_tokens=False).count("Function:") == 1
    assert sum(1 for i, m in zip(t.tokens, t.action_mask, strict=True) if m and i == tok.eos_token_id) == 2


@pytest.mark.skipif(not SHARED.exists(), reason="shared StepTool examples not present")
def test_shipped_examples_load(tok) -> None:
    for csv_path in sorted(SHARED.glob("*/step_grained_for_ppo_example.csv")):
        trajs = load_step_grained_csv(csv_path, tok)
        assert trajs and all(t.num_steps >= 1 and len(t.rewards) == t.num_steps for t in trajs)
    for json_path in sorted(SHARED.glob("*/gpt4_dfs_G123_for_sft_example.json")):
        assert load_sft_json(json_path, ReActFormat(tok.eos_token), tok)
