"""ETO: DPO loss and pair construction against hand-computed values, action-token scoring, CLI run + resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from steptool_agents.algorithms.eto import action_logprob_sums, build_pairs, dpo_loss  # noqa: E402
from steptool_agents.cli import train_main  # noqa: E402
from steptool_agents.config import ModelConfig, TrainConfig  # noqa: E402
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.tokenization import Trajectory  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
TIMING_KEYS = {"rollout_s", "pair_s", "train_s", "train_action_tokens_per_s"}


def _traj(task: str, solved: float) -> Trajectory:
    return Trajectory(task_id=task, is_solved=solved)


def test_dpo_loss_matches_hand_computation() -> None:
    pc = torch.tensor([-1.0, -4.0], requires_grad=True)
    loss, chosen, rejected = dpo_loss(pc, torch.tensor([-3.0, -2.0]), torch.tensor([-2.0, -3.0]),
                                      torch.tensor([-2.0, -2.0]), beta=0.5)
    # pair 0: β(−1+2) − β(−3+2) = 1 → log(1+e^−1); pair 1: β(−4+3) − β(−2+2) = −0.5 → log(1+e^0.5)
    assert loss.item() == pytest.approx((math.log1p(math.exp(-1.0)) + math.log1p(math.exp(0.5))) / 2, abs=1e-6)
    assert chosen.tolist() == pytest.approx([0.5, -0.5]) and rejected.tolist() == pytest.approx([-0.5, 0.0])
    loss.backward()
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # ∂L/∂log π(y_w) = −β σ(−logit) / P
    assert pc.grad.tolist() == pytest.approx([-0.5 * sig(-1.0) / 2, -0.5 * sig(0.5) / 2], abs=1e-6)


def test_pairs_failures_against_expert_and_own_successes() -> None:
    a_fail, a_win, a_half = _traj("A", 0.0), _traj("A", 1.0), _traj("A", 0.5)
    b_fail, c_fail, d_fail = _traj("B", 0.0), _traj("C", 0.0), _traj("D", 0.0)
    experts = {"A": _traj("A", 1.0), "B": _traj("B", 1.0), "D": _traj("D", 0.0)}  # D's expert is no better
    pairs = build_pairs([a_fail, a_win, a_half, b_fail, c_fail, d_fail], experts)
    got = [(p.chosen, p.rejected, p.source) for p in pairs]
    assert got == [(experts["A"], a_fail, "expert"), (a_win, a_fail, "agent"), (experts["A"], a_half, "expert"),
                   (a_win, a_half, "agent"), (experts["B"], b_fail, "expert")]
    # several successes of a task are used round-robin over its failures
    wins, fails = [_traj("E", 1.0), _traj("E", 1.0)], [_traj("E", 0.0) for _ in range(3)]
    pairs = build_pairs(wins + fails, {})
    assert [(p.chosen, p.rejected) for p in pairs] == [(wins[0], fails[0]), (wins[1], fails[1]),
                                                       (wins[0], fails[2])]
    assert build_pairs([a_win], experts) == []  # solved episodes are never losers


def test_sequence_logprob_counts_action_tokens_only(tmp_path: Path) -> None:
    cfg = ModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=300, lora_r=4)
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 2, 0), "</s>")), cfg.vocab_size)
    save_base_model(build_tiny_model(cfg, tok, seed=0), tok, tmp_path, {"source": "tiny"})
    policy = load_policy(tmp_path, cfg)
    t = Trajectory()
    t.add_prompt([1, 20, 21])
    t.add_action([30, 31], 0.5)
    t.add_prompt([22])
    t.add_action([32], 1.0)
    short = Trajectory()
    short.add_prompt([1, 23])
    short.add_action([33], 0.0)
    with torch.no_grad():
        sums, counts = action_logprob_sums(policy, [t, short], int(tok.pad_token_id), 64)
        logits = policy.model(input_ids=torch.tensor([t.tokens])).logits[0]
    logp = torch.log_softmax(logits, -1)
    # action tokens 30, 31 (positions 3, 4) and 32 (position 6), each predicted from the position before it
    expected = logp[2, 30] + logp[3, 31] + logp[5, 32]
    assert sums[0].item() == pytest.approx(expected.item(), abs=1e-5)
    assert counts.tolist() == [3.0, 1.0]


def _cfg(**top) -> TrainConfig:
    data = {
        "algo": "eto", "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 2, "max_steps": 3,
        "checkpoint_every": 1, "warm_start_sft": False, "threads": 1, "env_kwargs": {"reward_mode": "step"},
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "rollout": {"num_envs": 2, "max_new_tokens": 24},
        "eto": {"rounds": 2, "episodes": 2, "epochs": 2, "batch_size": 2, "learning_rate": 1e-2,
                "explore_temperature": 1.0, "sft_weight": 0.5},
    }
    for key, value in top.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return TrainConfig.from_dict(data)


def _rows(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in read_csv(out / "metrics.csv")]


def test_cli_train_and_resume_equal_uninterrupted(tmp_path: Path) -> None:
    cfg_path = tmp_path / "eto.json"
    cfg_path.write_text(json.dumps(_cfg().to_dict()))
    common = ["--algo", "eto", "--env", ENV_ID, "--model", "tiny", "--config", str(cfg_path), "--no-eval"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert train_main([*common, "--out", str(full)]) == 0
    assert train_main([*common, "--out", str(part), "--updates", "1"]) == 0
    assert train_main([*common, "--out", str(part), "--resume"]) == 0
    rows = _rows(full)
    assert [int(r["update"]) for r in rows] == [1, 2] and _rows(part) == rows
    assert all(float(r["pairs"]) == float(r["expert_pairs"]) + float(r["agent_pairs"]) for r in rows)
    assert float(rows[0]["pairs"]) > 0 and float(rows[0]["dpo_loss"]) > 0
    assert float(rows[1]["reward_accuracy"]) > 0  # the first round's DPO separated some pairs
    a = load_file(str(full / "final" / "adapter_model.safetensors"))
    b = load_file(str(part / "final" / "adapter_model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(float(v.abs().sum()) > 0 for k, v in a.items() if "lora_B" in k)
    assert (full / "learning_curve.png").exists() and list((full / "tb").iterdir())
    assert (full / "checkpoints" / "latest").read_text().strip() == "update_000002"


@pytest.mark.slow
def test_eto_fixes_the_task_its_sft_warm_start_fails(tmp_path: Path) -> None:
    # Two tasks; the short SFT warm start solves one greedily and fails the other (pass 0.5). Three rounds of
    # greedy exploration + DPO against the failed task's expert demo must solve both.
    from two_city_suite import register_two_city_env

    from steptool_agents.evaluate import evaluate_policy, load_run_policy
    from steptool_agents.trainer import run_training

    cfg = TrainConfig.from_dict({
        "algo": "eto", "env_id": register_two_city_env(), "eval_split": "train", "max_steps": 4, "seed": 0,
        "checkpoint_every": 100, "warm_start_sft": True, "threads": 1,
        "model": {"vocab_size": 512, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                  "tokenizer_episodes": 20, "max_context_tokens": 512, "max_prompt_tokens": 64, "lora_r": 8},
        "sft": {"episodes": 16, "epochs": 20, "batch_size": 4, "learning_rate": 1e-2},
        "rollout": {"num_envs": 4, "max_new_tokens": 64},
        "eto": {"rounds": 3, "episodes": 8, "epochs": 3, "batch_size": 4, "learning_rate": 1e-4, "beta": 0.1},
    })
    run_training(cfg, tmp_path, evaluate=False)
    before = evaluate_policy(load_policy(tmp_path / "model", cfg.model), cfg, "train", 32, seed=777)
    after = evaluate_policy(load_run_policy(tmp_path, cfg), cfg, "train", 32, seed=777)
    assert before["pass_rate"] <= 0.6, before  # the warm start really fails a task
    assert after["pass_rate"] >= before["pass_rate"] + 0.3, (before, after)
    assert after["mean_return"] >= before["mean_return"] + 0.5, (before, after)
