"""Token-in/token-out trajectories: masks, step indices, BOS placement, truncation, padding, prompt formats."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from steptool_agents.policy.models import train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.prompts import (  # noqa: E402
    ChatTemplateFormat,
    CompactReActFormat,
    ReActFormat,
    after_action_text,
    make_format,
)
from steptool_agents.policy.tokenization import Trajectory, bos_prefix, collate, encode, prompt_ids  # noqa: E402
from steptool_agents.rollout.collect import StopCondition, json_object_closed  # noqa: E402

CORPUS = ["System: you can call tools\nUser: weather in Paris?\nBegin!\nAssistant:\n"
          'Thought: look up\nAction: city_search_for_geo\nAction Input: {"name": "Paris"}</s>\nFunction: '
          '{"error": "", "response": {"city_id": "c101"}}\nAssistant:\n'] * 20


@pytest.fixture(scope="module")
def tok():
    return train_bpe_tokenizer(CORPUS, 400)


def _traj() -> Trajectory:
    t = Trajectory()
    t.add_prompt([1, 10, 11])
    t.add_action([20, 21], 0.5, "a0")
    t.add_prompt([12, 13])
    t.add_action([22], 1.0, "a1", final=True)
    return t


def test_trajectory_masks_and_step_index() -> None:
    t = _traj()
    assert t.tokens == [1, 10, 11, 20, 21, 12, 13, 22]
    assert t.action_mask == [0, 0, 0, 1, 1, 0, 0, 1]
    assert t.step_index == [0, 0, 0, 0, 0, 1, 1, 1]
    assert t.rewards == [0.5, 1.0] and t.finals == [False, True]
    with pytest.raises(ValueError):
        t.add_action([], 0.0)


def test_truncate_left_keeps_suffix_and_results() -> None:
    t = _traj().truncate_left(4)
    assert t.tokens == [21, 12, 13, 22]
    assert t.action_mask == [1, 0, 0, 1]
    assert t.step_index == [0, 1, 1, 1]
    assert t.rewards == [0.5, 1.0]
    assert _traj().context(3) == [12, 13, 22]


@pytest.mark.parametrize("side", ["left", "right"])
def test_collate_masks_under_padding(side: str) -> None:
    short = Trajectory()
    short.add_prompt([5])
    short.add_action([6, 7], 1.0)
    batch = collate([_traj(), short], pad_id=0, padding_side=side)
    assert batch.input_ids.shape == (2, 8)
    row = batch.attention_mask[1].tolist()
    assert row == ([1, 1, 1, 0, 0, 0, 0, 0] if side == "right" else [0, 0, 0, 0, 0, 1, 1, 1])
    # padding never counts as action; real tokens get positions 0..n-1 wherever they sit
    assert int(batch.action_mask[1].sum()) == 2
    real = batch.attention_mask[1].bool()
    assert batch.position_ids[1][real].tolist() == [0, 1, 2]
    assert batch.input_ids[1][real].tolist() == [5, 6, 7]
    assert batch.step_index[1][~real].tolist() == [-1] * 5
    # prediction-aligned masks describe token p+1
    assert batch.pred_action_mask[0].tolist() == [0, 0, 1, 1, 0, 0, 1]


def test_collate_left_truncates_to_max_tokens() -> None:
    batch = collate([_traj()], pad_id=0, max_tokens=5)
    assert batch.input_ids[0].tolist() == [20, 21, 12, 13, 22]


def test_encode_adds_no_special_tokens_and_bos_only_first(tok) -> None:
    ids = encode(tok, "Assistant:\n")
    assert tok.bos_token_id not in ids and tok.eos_token_id not in ids
    assert bos_prefix(tok) == [tok.bos_token_id]
    assert encode(tok, "</s>") == [tok.eos_token_id]  # template EOS text maps to the EOS token


def test_prompt_ids_cut_from_the_left_keeping_bos(tok) -> None:
    text = "System: you can call tools\nUser: weather in Paris?\nBegin!\nAssistant:\n"
    full = prompt_ids(tok, text)
    assert full[0] == tok.bos_token_id and full[1:] == encode(tok, text)
    cut = prompt_ids(tok, text, max_tokens=6)
    assert len(cut) == 6 and cut[0] == tok.bos_token_id and cut[1:] == full[-5:]  # the query end survives
    assert prompt_ids(tok, text, max_tokens=len(full)) == full


def test_react_format_segments(tok) -> None:
    fmt = ReActFormat(tok.eos_token)
    assert fmt.initial("OBS\n", [], []) == "System: OBS\nAssistant:\n"
    assert after_action_text(fmt, tok.eos_token, True, '{"x": 1}', "f") == '\nFunction: {"x": 1}\nAssistant:\n'
    # when the model stopped without EOS, the template supplies it
    assert after_action_text(fmt, tok.eos_token, False, "o", "f").startswith("</s>\nFunction:")


def test_compact_react_format_lists_signatures_then_the_query(tok) -> None:
    tools = [{"name": "city_search_for_geo", "parameters": {"type": "object", "properties": {
        "name": {"type": "string"}, "page": {"type": "integer"}}, "required": ["name"]}},
        {"name": "Finish", "parameters": {"properties": {"return_type": {}, "final_answer": {}},
                                          "required": ["return_type"]}}]
    msgs = [{"role": "system", "content": "long AutoGPT prompt"}, {"role": "user", "content": "weather in Paris?"}]
    fmt = make_format("react_compact", tok)
    assert isinstance(fmt, CompactReActFormat)
    assert fmt.initial("ignored", msgs, tools) == (
        "System: Functions:\ncity_search_for_geo(name, page?)\nFinish(return_type, final_answer?)\n"
        "User: weather in Paris?\nBegin!\nAssistant:\n")
    # tool turns are ReAct's
    assert fmt.tool_turn("o", "f") == ReActFormat(tok.eos_token).tool_turn("o", "f")
    with pytest.raises(ValueError, match="react_compact"):
        make_format("compact", tok)


def test_terse_format_drops_the_thought_and_the_env_reads_it_alike(tok) -> None:
    from steptool_agents.policy.prompts import TerseReActFormat
    from steptool_gym.actions import ToolCall, parse_react

    call = ToolCall("city_search_for_geo", {"name": "Paris"}, "I will call city_search_for_geo.")
    fmt = make_format("react_terse", tok)
    assert isinstance(fmt, TerseReActFormat) and isinstance(fmt, CompactReActFormat)
    assert fmt.render_action(call) == 'Action: city_search_for_geo\nAction Input: {"name": "Paris"}'
    assert make_format("react_compact", tok).render_action(call) == call.to_react()
    parsed = parse_react(fmt.render_action(call))
    assert (parsed.name, parsed.arguments) == (call.name, call.arguments)


def test_terse_demos_train_on_the_terse_text_and_keep_the_rewards() -> None:
    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.rollout.oracle import demo_trajectories, oracle_episodes

    episodes = oracle_episodes("StepTool-ToolBench-v0", 3, 0, split="train", group="G1")
    tok = train_bpe_tokenizer(CORPUS, 400)
    terse, full = (demo_trajectories(episodes, make_format(f, tok), tok) for f in ("react_terse", "react_compact"))
    for t, f in zip(terse, full, strict=True):
        assert t.rewards == f.rewards and t.is_solved == f.is_solved == 1.0
        assert all(a.startswith("Action: ") for a in t.actions_text)
        assert sum(t.action_mask) < sum(f.action_mask)  # fewer tokens to generate and train on


def test_recovery_demos_show_a_rejected_call_in_the_context_and_train_on_the_fix() -> None:
    import steptool_gym  # noqa: F401 - registers the envs
    from steptool_agents.rollout.oracle import demo_trajectories, oracle_episodes
    from steptool_gym.actions import parse_react

    kwargs = {"split": "train", "group": "G1", "max_steps": 6}
    plain = oracle_episodes("StepTool-ToolBench-v0", 12, 0, **kwargs)
    mixed = oracle_episodes("StepTool-ToolBench-v0", 12, 0, recovery_share=1.0, **kwargs)
    tok = train_bpe_tokenizer(CORPUS, 400)
    fmt = make_format("react_terse", tok)
    with_mistake = 0
    for p, m, tp, tm in zip(plain, mixed, demo_trajectories(plain, fmt, tok), demo_trajectories(mixed, fmt, tok),
                            strict=True):
        assert m.solved == p.solved == 1.0
        gold_turns = [turn for k, turn in enumerate(m.turns) if k not in m.mistakes]
        assert [turn[0] for turn in gold_turns] == [turn[0] for turn in p.turns]  # the same gold calls, in order
        # The policy is trained on exactly the plain demo's actions, never on the mistake.
        assert tm.actions_text == tp.actions_text and tm.rewards == tp.rewards
        if not m.mistakes:
            continue
        with_mistake += 1
        (k,) = m.mistakes
        text, obs, name, _, final = m.turns[k]
        fixed = parse_react(m.turns[k + 1][0])
        assert not final and name != fixed.name and parse_react(text).arguments == fixed.arguments
        assert "Unexpected parameter" in obs and name.rsplit("_for_", 1)[1] == fixed.name.rsplit("_for_", 1)[1]
        # ... and it sits in the context, as prompt tokens, right before the fix.
        mistake_ids = encode(tok, fmt.render_action(parse_react(text))) + [tok.eos_token_id]
        assert len(tm.tokens) > len(tp.tokens) and sum(tm.action_mask) == sum(tp.action_mask)
        assert any(tm.tokens[i:i + len(mistake_ids)] == mistake_ids and not any(tm.action_mask[i:i + len(mistake_ids)])
                   for i in range(len(tm.tokens)))
    assert with_mistake >= 10  # every demo whose calls take arguments and fit the step limit
    with pytest.raises(ValueError, match="recovery_share"):
        from steptool_agents.config import SFTConfig

        SFTConfig(recovery_share=1.5)


def test_chat_template_format_with_tools(tok) -> None:
    tok = train_bpe_tokenizer(CORPUS, 400)
    tok.chat_template = (
        "{% if tools %}<tools>{{ tools | length }}</tools>{% endif %}"
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}</s>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    fmt = ChatTemplateFormat(tok)
    assert fmt.close_text == "</s>\n"
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    expected = "<tools>1</tools><|system|>S</s>\n<|user|>Q</s>\n<|assistant|>"
    assert fmt.initial("ignored", msgs, [{"name": "f"}]) == expected
    assert fmt.tool_turn("OBS", "f") == "<|tool|>OBS</s>\n<|assistant|>"
    assert after_action_text(fmt, "</s>", True, "OBS", "f") == "\n<|tool|>OBS</s>\n<|assistant|>"


def test_json_object_closed() -> None:
    assert not json_object_closed("Thought: x\nAction: f\nAction Input: {")
    assert not json_object_closed('Action Input: {"a": "}"')  # brace inside a string
    assert json_object_closed('Action Input: {"a": "}", "b": {"c": 1}}')
    assert json_object_closed('Action Input: {"q": "say \\"hi\\" }"} trailing')
    assert not json_object_closed("Action: f")


def test_stop_condition_cut_keeps_exact_prefix(tok) -> None:
    stop = StopCondition(tok, ["\nFunction:"], json_close=True)
    ids = encode(tok, 'Action: f\nAction Input: {"a": 1}') + encode(tok, " more text")
    cut = stop.cut(ids)
    assert not cut.emitted_eos
    assert cut.ids == ids[:len(cut.ids)]
    assert tok.decode(cut.ids).endswith("}")
    with_eos = encode(tok, "Thought: x") + [tok.eos_token_id, 5, 6]
    assert stop.cut(with_eos)[:2] == (with_eos[:len(with_eos) - 2], True)
    no_stop = encode(tok, "Thought: x")
    assert stop.cut(no_stop)[:2] == (no_stop, False)
