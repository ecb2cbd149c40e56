"""Offline StepTool data: step-grained CSV and ToolLLaMA SFT JSON become trajectories (literals only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from steptool_agents.policy.models import train_bpe_tokenizer
from steptool_agents.policy.prompts import ReActFormat
from steptool_agents.policy.tokenization import encode
from steptool_agents.rollout.offline import OfflineDataError, load_sft_json, load_step_grained_csv, parse_literal_list
from steptool_gym.errors import DataError

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


# ------------------------------------------------------------------ malformed input
_HEADER = "prompt\tresponse\treward\n"
_GOOD_ROW = "['System: S\\nAssistant:\\n']\t['Action: Finish\\nAction Input: {}</s>']\t[1.0]\n"
_PAYLOAD = "__import__('os').system('touch {marker}')"


@pytest.mark.parametrize(("body", "record", "problem"), [
    ("prompt\tresponse\n" + _GOOD_ROW, "line 1", "missing column(s) reward"),
    ("prompt,response,reward\n['a'],['b'],[1]\n", "line 1", "missing column(s) prompt, response, reward"),
    ("", "bad.csv:", "empty file"),
    (_HEADER + _GOOD_ROW + "['a'\t['b']\t[1]\n", "row 2 (line 3) column 'prompt'", "syntax error"),
    (_HEADER + _GOOD_ROW + "['a']\t['b']\t['x']\n", "row 2 (line 3) column 'reward'", "item 0 is str, expected float"),
    (_HEADER + "[1]\t['b']\t[1]\n", "row 1 (line 2) column 'prompt'", "item 0 is int, expected str"),
    (_HEADER + "'a'\t['b']\t[1]\n", "row 1 (line 2) column 'prompt'", "expected a list of str, got str"),
    (_HEADER + "['a']\t['b']\t[1e999]\n", "row 1 (line 2) column 'reward'", "finite"),
    (_HEADER + "['a']\t['b']\t[True]\n", "row 1 (line 2) column 'reward'", "item 0 is bool"),
    (_HEADER + "['a', 'c']\t['b']\t[1]\n", "row 1 (line 2)", "equal length; got 2/1/1"),
    (_HEADER + "['a']\t['']\t[1]\n", "row 1 (line 2)", "response 0 is empty"),
    (_HEADER + _GOOD_ROW + "['a']\t['b", "row 2 (line 3)", "only 2 of 3 cells (a truncated file?)"),
    (_HEADER + "['a']\t['b']\t[1]\t[2]\n", "row 1 (line 2)", "more cells than the header's 3 columns"),
])
def test_step_grained_csv_rejects_malformed_rows(tmp_path: Path, tok, body: str, record: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(OfflineDataError) as info:
        load_step_grained_csv(path, tok)
    message = str(info.value)
    assert str(path) in message and record in message and problem in message, message
    assert "\n" not in message and isinstance(info.value, DataError) and isinstance(info.value, ValueError)


def test_csv_and_json_payloads_are_data_never_code(tmp_path: Path, tok) -> None:
    marker = tmp_path / "pwned"
    payload = _PAYLOAD.format(marker=marker)
    csv_path = tmp_path / "payload.csv"
    csv_path.write_text(_HEADER + f"{payload}\t['b']\t[1]\n")
    with pytest.raises(OfflineDataError, match=r"payload.csv row 1 \(line 2\) column 'prompt': not a Python list"):
        load_step_grained_csv(csv_path, tok)
    json_path = tmp_path / "payload.json"
    json_path.write_text(payload)
    with pytest.raises(OfflineDataError, match=r"payload.json line 1 column 1: not valid JSON"):
        load_sft_json(json_path, ReActFormat(tok.eos_token), tok)
    # Inside valid containers the payload is just text: a prompt string, a turn's value.
    csv_path.write_text(_HEADER + f"[{payload!r}]\t['Action: Finish']\t[1]\n")
    assert load_step_grained_csv(csv_path, tok)[0].num_steps == 1
    conv = [{"from": "user", "value": payload}, {"from": "assistant", "value": payload}]
    json_path.write_text(json.dumps([{"conversations": conv}]))
    assert load_sft_json(json_path, ReActFormat(tok.eos_token), tok)[0].num_steps == 1
    assert not marker.exists()


def test_loaders_name_the_line_of_non_utf8_bytes_and_missing_files(tmp_path: Path, tok) -> None:
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes((_HEADER + _GOOD_ROW).encode() + "['caf\xe9']\t['b']\t[1]\n".encode("latin-1"))
    with pytest.raises(OfflineDataError, match=r"latin1.csv line 3: not UTF-8 text \(byte 0xe9"):
        load_step_grained_csv(csv_path, tok)
    json_path = tmp_path / "latin1.json"
    json_path.write_bytes(b'[\n{"conversations": []},\n{"x": "caf\xe9"}]')
    with pytest.raises(OfflineDataError, match=r"latin1.json line 3: not UTF-8"):
        load_sft_json(json_path, ReActFormat(tok.eos_token), tok)
    with pytest.raises(OfflineDataError, match=r"missing.csv: cannot read"):
        load_step_grained_csv(tmp_path / "missing.csv", tok)


_TURN = {"from": "assistant", "value": "Action: Finish"}


@pytest.mark.parametrize(("data", "record", "problem"), [
    ('[{"conversations": [', "line 1 column 21", "not valid JSON"),  # truncated file
    ('{"1": {"instances": [],}}', "line 1 column 24", "not valid JSON"),
    ("42", "sft.json:", "must be an object of {id: {instances: [...]}} or a list of instances, got int"),
    (json.dumps({"7": {"instances": 5}}), "entry '7'", "expected an object with an 'instances' list"),
    (json.dumps({"7": {"instances": [{"id": 1}]}}), "instance 7:0", "a 'conversations' list"),
    (json.dumps([{"conversations": [_TURN, "hi"]}]), "instance 0 turn 1", "expected an object with a text 'value'"),
    (json.dumps([{"conversations": [{"from": "assistant", "value": 3}]}]), "instance 0 turn 0", "text 'value'"),
    (json.dumps([{"conversations": [_TURN]}, {"conversations": [{"from": "gpt", "value": "x"}]}]),
     "instance 1 turn 0", "role 'gpt' is not one of system, user, assistant, function, tool"),
])
def test_sft_json_rejects_malformed_records(tmp_path: Path, tok, data: str, record: str, problem: str) -> None:
    path = tmp_path / "sft.json"
    path.write_text(data)
    with pytest.raises(OfflineDataError) as info:
        load_sft_json(path, ReActFormat(tok.eos_token), tok)
    message = str(info.value)
    assert str(path) in message and record in message and problem in message, message


def test_sft_json_tool_turns_are_observations(tmp_path: Path, tok) -> None:
    # RFT data names the observation role "tool" (ToolLLaMA's SFT data: "function"); both follow an action.
    conv = [{"from": "system", "value": "S"}, {"from": "user", "value": "Q"},
            {"from": "assistant", "value": "Action: f\nAction Input: {}"},
            {"from": "tool", "value": '{"error": "", "response": "r"}'},
            {"from": "assistant", "value": "Action: Finish\nAction Input: {}"}]
    path = tmp_path / "rft.json"
    path.write_text(json.dumps({"1": {"instances": [{"conversations": conv}]}}))
    (t,) = load_sft_json(path, ReActFormat(tok.eos_token), tok)
    assert tok.decode(t.tokens, skip_special_tokens=False).count('"response": "r"') == 1


def test_train_cli_reports_bad_offline_data_in_one_line(tmp_path: Path, capsys) -> None:
    pytest.importorskip("peft")
    from steptool_agents.cli import train_main
    from steptool_envs.toy import register_toy_env

    bad = tmp_path / "steps.csv"
    bad.write_text(_HEADER + _GOOD_ROW + "['a']\t['b']\t['x']\n")
    cfg = {"env_id": register_toy_env(), "warm_start_sft": False, "threads": 1, "offline_csv": str(bad),
           "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                     "tokenizer_episodes": 4, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    assert train_main(["--out", str(tmp_path / "run"), "--config", str(tmp_path / "cfg.json"), "--no-eval"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"steptool train: {bad} row 2 (line 3) column 'reward': item 0 is str, expected float"
    assert not any("Traceback" in line for line in err)
