"""Evaluation pairs methods on the same tasks: a fixed, seeded list of task ids, each played once (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.evaluate import eval_task_ids, evaluate_policy  # noqa: E402
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()


def _cfg(num_envs: int, max_new_tokens: int) -> TrainConfig:
    return TrainConfig.from_dict({
        "env_id": ENV_ID, "max_steps": 3, "threads": 1,
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "max_context_tokens": 256, "max_prompt_tokens": 40, "lora_r": 4},
        "rollout": {"num_envs": num_envs, "max_new_tokens": max_new_tokens},
    })


def test_task_list_is_seeded_without_replacement() -> None:
    cfg = _cfg(2, 8)
    ids = eval_task_ids(cfg, "train", 5, seed=7)
    assert ids == eval_task_ids(cfg, "train", 5, seed=7) and len(set(ids)) == 5
    assert ids != eval_task_ids(cfg, "train", 5, seed=8)


def test_methods_with_different_episode_lengths_play_the_same_tasks(tmp_path: Path) -> None:
    cfg = _cfg(3, 6)
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 4, 0), "</s>")), cfg.model.vocab_size)
    save_base_model(build_tiny_model(cfg.model, tok, seed=0), tok, tmp_path / "m", {"source": "tiny"})
    policy = load_policy(tmp_path / "m", cfg.model)
    n = 7
    # Two "methods": sampled vs greedy, different widths and action lengths, so episodes end at different times.
    a = evaluate_policy(policy, cfg, "train", n, seed=11, greedy=False)
    b = evaluate_policy(policy, _cfg(2, 16), "train", n, seed=11, greedy=True)
    expected = sorted(eval_task_ids(cfg, "train", n, seed=11))
    assert [t for t, _ in a["per_task"]] == expected == [t for t, _ in b["per_task"]]


def test_a_fresh_adapter_is_switched_off_in_evaluation_with_the_same_episodes(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from steptool_agents.policy.models import Policy

    cfg = _cfg(2, 8)
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 4, 0), "</s>")), cfg.model.vocab_size)
    save_base_model(build_tiny_model(cfg.model, tok, seed=0), tok, tmp_path / "m", {"source": "tiny"})
    policy = load_policy(tmp_path / "m", cfg.model)
    assert policy.adapter_is_identity()
    skipped = evaluate_policy(policy, cfg, "train", 5, seed=3)
    monkeypatch.setattr(Policy, "adapter_is_identity", lambda self: False)
    with_adapter = evaluate_policy(policy, cfg, "train", 5, seed=3)
    assert skipped == with_adapter
    monkeypatch.undo()
    with torch.no_grad():
        next(p for name, p in policy.model.named_parameters() if "lora_B" in name).fill_(0.05)
    assert not policy.adapter_is_identity()  # a trained adapter is kept on


def test_evaluation_can_keep_each_episodes_action_texts(tmp_path: Path) -> None:
    cfg = _cfg(2, 8)
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 4, 0), "</s>")), cfg.model.vocab_size)
    save_base_model(build_tiny_model(cfg.model, tok, seed=0), tok, tmp_path / "m", {"source": "tiny"})
    policy = load_policy(tmp_path / "m", cfg.model)
    plain = evaluate_policy(policy, cfg, "train", 3, seed=3)
    kept = evaluate_policy(policy, cfg, "train", 3, seed=3, keep_actions=True)
    assert "actions" not in plain and {k: v for k, v in kept.items() if k != "actions"} == plain
    assert [task for task, _ in kept["actions"]] == [task for task, _ in plain["per_task"]]
    steps = [len(actions) for _, actions in kept["actions"]]
    assert all(isinstance(a, str) for _, actions in kept["actions"] for a in actions)
    assert sum(steps) / len(steps) == pytest.approx(plain["avg_steps"])
