"""A trained policy under the search strategies: prompt layout = SFT demos, greedy vs sampled, CoT/DFSDT, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from steptool_agents.cli import eval_main
from steptool_agents.config import TrainConfig
from steptool_agents.policy.models import Policy, build_tiny_model, save_base_model, train_bpe_tokenizer
from steptool_agents.policy.prompts import ReActFormat
from steptool_agents.policy.tokenization import encode
from steptool_agents.rollout.collect import StopCondition
from steptool_agents.rollout.oracle import demo_trajectories, episode_texts, oracle_episodes
from steptool_agents.search_agent import PolicyAgent, conversation_ids, evaluate_search
from steptool_envs.toy import register_toy_env

ENV_ID = register_toy_env()
CFG = TrainConfig.from_dict({
    "env_id": ENV_ID, "max_steps": 3, "threads": 1,
    "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
              "max_context_tokens": 256, "max_prompt_tokens": 40, "lora_r": 4},
    "rollout": {"max_new_tokens": 8, "temperature": 1.0},
})


@pytest.fixture(scope="module")
def policy() -> Policy:
    tok = train_bpe_tokenizer(episode_texts(oracle_episodes(ENV_ID, 8, 0), "</s>"), CFG.model.vocab_size)
    return Policy(build_tiny_model(CFG.model, tok, seed=0), tok, CFG.model)


def _agent(policy: Policy, greedy: bool) -> PolicyAgent:
    stop = StopCondition(policy.tokenizer, CFG.rollout.stop_strings)
    return PolicyAgent(policy, ReActFormat(policy.tokenizer.eos_token), stop, max_new_tokens=8,
                       max_context_tokens=256, greedy=greedy)


def test_prompt_is_the_sft_token_stream(policy: Policy) -> None:
    tok = policy.tokenizer
    fmt = ReActFormat(tok.eos_token)
    demo = demo_trajectories(oracle_episodes(ENV_ID, 1, 3), fmt, tok)[0]
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=3)
    base = env.unwrapped
    for _ in range(2):
        env.step(base.oracle_action().to_react())
    ids = conversation_ids(base, obs, fmt, tok)
    # The conversation so far is the demo's prefix; what remains is the gold Finish the model should write.
    assert ids == demo.tokens[:len(ids)]
    assert demo.tokens[len(ids):] == encode(tok, base.oracle_action().to_react()) + [tok.eos_token_id]


def test_greedy_repeats_and_sampling_varies(policy: Policy) -> None:
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0)
    greedy = _agent(policy, greedy=True)
    assert len({greedy.act(env.unwrapped, obs, info) for _ in range(3)}) == 1
    sampler = _agent(policy, greedy=False)
    sampler.reset(0)
    assert len({sampler.act(env.unwrapped, obs, info) for _ in range(4)}) > 1


@pytest.mark.parametrize("strategy", ["cot", "dfsdt"])
def test_evaluate_search_runs_both_strategies(policy: Policy, strategy: str) -> None:
    summary, results = evaluate_search(policy, CFG, "test", 2, strategy, seed=1, width=2, max_calls=5)
    assert len(results) == 2 and summary["strategy"] == strategy
    assert summary["greedy"] is (strategy == "cot")
    assert set(summary) >= {"pass_rate", "tool_call_f1", "avg_model_calls", "mean_return"}
    if strategy == "dfsdt":
        assert all(r.model_calls <= 5 for r in results)
    else:
        assert all(r.model_calls == len(r.path) for r in results)


def test_cli_eval_with_strategy_and_records(policy: Policy, tmp_path: Path, capsys) -> None:
    model_dir, cfg_path, records = tmp_path / "model", tmp_path / "cfg.json", tmp_path / "records.json"
    save_base_model(policy.model.get_base_model(), policy.tokenizer, model_dir, {"source": "test"})
    cfg_path.write_text(json.dumps(CFG.to_dict()))
    argv = ["--env", ENV_ID, "--model", str(model_dir), "--config", str(cfg_path), "--split", "test",
            "--episodes", "2", "--strategy", "dfsdt", "--max-calls", "4", "--records", str(records), "--json"]
    assert eval_main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["strategy"] == "dfsdt" and result["episodes"] == 2 and result["avg_model_calls"] <= 4
    assert len(json.loads(records.read_text())) == 2
    assert eval_main([*argv[:-5], "--width", "0"]) == 2
