"""ArCHer: TD targets, advantages, Polyak and token placement by hand; step features; actor direction; CLI + resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from steptool_agents.algorithms.archer import (  # noqa: E402
    ArCHer,
    ReplayBuffer,
    Transitions,
    UtteranceCritic,
    critic_loss,
    polyak_update,
    td_targets,
    token_advantages,
    utterance_advantages,
)
from steptool_agents.cli import train_main  # noqa: E402
from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.prompts import make_format  # noqa: E402
from steptool_agents.policy.tokenization import Trajectory  # noqa: E402
from steptool_agents.rollout.collect import make_vector_env  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
TIMING_KEYS = {"rollout_s", "critic_s", "train_s"}


def _cfg(**top) -> TrainConfig:
    data = {
        "algo": "archer", "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 2, "max_steps": 3,
        "checkpoint_every": 1, "warm_start_sft": False, "threads": 1,
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "rollout": {"num_envs": 2, "episodes_per_update": 2, "max_new_tokens": 24},
        "archer": {"updates": 3, "critic_batch_size": 8, "critic_updates": 3, "minibatch_size": 1,
                   "warmup_updates": 1, "actor_lr": 1e-2},
    }
    for key, value in top.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return TrainConfig.from_dict(data)


def test_td_targets_and_advantages_match_hand_computation() -> None:
    y1, y2 = td_targets(torch.tensor([1.0, 0.5, 0.0]), torch.tensor([0.0, 1.0, 0.0]),
                        torch.tensor([2.0, 9.0, -1.0]), torch.tensor([1.0, 9.0, 3.0]), gamma=0.9)
    assert y1.tolist() == pytest.approx([1.0 + 0.9 * 2.0, 0.5, -0.9])  # done: no bootstrap
    assert y2.tolist() == pytest.approx([1.0 + 0.9 * 1.0, 0.5, 0.9 * 3.0])
    adv = utterance_advantages(torch.tensor([1.0, 2.0]), torch.tensor([0.5, 3.0]), torch.tensor([0.2, 1.0]),
                               torch.tensor([0.4, 0.5]))
    assert adv.tolist() == pytest.approx([0.5 - 0.2, 2.0 - 0.5])  # min(Q1, Q2) − min(V1, V2)


def test_polyak_update_moves_target_by_tau() -> None:
    source, target = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(1.0)
        for p in target.parameters():
            p.fill_(0.0)
    polyak_update(target, source, 0.1)
    assert target.weight.item() == pytest.approx(0.1)
    polyak_update(target, source, 0.1)
    assert target.weight.item() == pytest.approx(0.19) and target.bias.item() == pytest.approx(0.19)


def test_critic_loss_regresses_q_on_td_target_and_v_on_target_q_of_policy_actions() -> None:
    torch.manual_seed(0)
    critic, target = UtteranceCritic(4), UtteranceCritic(4)
    batch = Transitions(torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4), torch.rand(5),
                        torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))
    on_policy = Transitions(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4), torch.rand(3), torch.zeros(3))
    loss, info = critic_loss(critic, target, batch, on_policy, gamma=0.8)
    with torch.no_grad():
        q1, q2, _, _ = critic(batch.state, batch.state_action)
        v1, v2 = critic.values(on_policy.state)
        tq1, tq2, _, _ = target(on_policy.state, on_policy.state_action)
        nv1, nv2 = target.values(batch.next_state)
    keep = 0.8 * (1 - batch.done)
    expected_q = ((q1 - batch.reward - keep * nv1) ** 2).mean() + ((q2 - batch.reward - keep * nv2) ** 2).mean()
    expected_v = ((v1 - tq1) ** 2).mean() + ((v2 - tq2) ** 2).mean()
    assert info["q_loss"] == pytest.approx(expected_q.item(), rel=1e-5)
    assert info["v_loss"] == pytest.approx(expected_v.item(), rel=1e-5)
    assert loss.item() == pytest.approx((expected_q + expected_v).item(), rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in target.parameters())  # targets are constants


def test_token_advantages_spread_each_step_over_its_action_tokens() -> None:
    amask = torch.tensor([[0, 1, 1, 0, 0, 1, 0, 1, 1]])
    sidx = torch.tensor([[0, 0, 0, 1, 1, 1, 2, 2, 2]])
    out = token_advantages([{0: 0.5, 1: -1.0, 2: 2.0}], amask, sidx)
    assert out.tolist() == [[0.0, 0.5, 0.5, 0.0, 0.0, -1.0, 0.0, 2.0, 2.0]]


def test_replay_buffer_is_fifo_and_round_trips() -> None:
    buf = ReplayBuffer(3)

    def batch(*rewards: float) -> Transitions:
        n = len(rewards)
        return Transitions(torch.zeros(n, 2), torch.zeros(n, 2), torch.zeros(n, 2), torch.tensor(rewards),
                           torch.zeros(n))

    buf.add(batch(1.0, 2.0))
    buf.add(batch(3.0, 4.0))
    assert len(buf) == 3 and buf.data.reward.tolist() == [2.0, 3.0, 4.0]
    other = ReplayBuffer(3)
    other.load_state_dict(buf.state_dict())
    assert other.data.reward.tolist() == [2.0, 3.0, 4.0]
    sample = buf.sample(5, torch.Generator().manual_seed(0))
    assert sample.reward.shape == (5,) and set(sample.reward.tolist()) <= {2.0, 3.0, 4.0}


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    cfg = _cfg(archer={"actor_epochs": 1, "actor_lr": 1e-3})  # one small step: the first-order direction
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 4, 0), "</s>")), cfg.model.vocab_size)
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_base_model(build_tiny_model(cfg.model, tok, seed=0), tok, path, {"source": "tiny"})
    policy = load_policy(path, cfg.model)
    t = ArCHer(cfg, policy, lambda n: make_vector_env(ENV_ID, n, max_steps=3), fmt=make_format("react", tok))
    yield t
    t.close()


def _two_step_trajectory() -> Trajectory:
    t = Trajectory()
    t.add_prompt([1, 20, 21])
    t.add_action([30, 31], 0.5)
    t.add_prompt([22, 23])
    t.add_action([32, 33, 34], 1.0)
    return t


def test_step_features_read_the_frozen_model_at_each_utterance(trainer) -> None:
    t = _two_step_trajectory()
    fresh, index, _ = trainer.transitions(trainer._chunks([t]))
    assert index == [(0, 0), (0, 1)]
    assert fresh.reward.tolist() == [0.5, 1.0] and fresh.done.tolist() == [0.0, 1.0]
    policy = trainer.policy

    def last_hidden(n_tokens: int) -> torch.Tensor:  # causal: the prefix's last state equals the full pass's
        ids = torch.tensor([t.tokens[:n_tokens]])
        with torch.no_grad(), policy.reference():
            return policy(ids, torch.ones_like(ids))[0][0, -1]

    assert torch.allclose(fresh.state[0], last_hidden(3), atol=1e-5)  # s_0: the token before action 0
    assert torch.allclose(fresh.state_action[0], last_hidden(5), atol=1e-5)  # (s_0, a_0): action 0's last token
    assert torch.allclose(fresh.state[1], last_hidden(7), atol=1e-5)  # s_1: after the observation
    assert torch.equal(fresh.next_state[0], fresh.state[1]) and not fresh.next_state[1].any()


def test_actor_step_follows_the_advantage_sign(trainer) -> None:
    t = _two_step_trajectory()
    chunks = trainer._chunks([t])
    batch = chunks[0][1]

    def step_logps() -> list[float]:
        with torch.no_grad():
            logp, _, _ = trainer.policy.token_logprobs(
                batch.input_ids, batch.attention_mask, batch.position_ids, batch.pred_action_mask)
        return [float(logp[0][batch.pred_step_index[0] == s].sum()) for s in (0, 1)]

    before = step_logps()
    _, _, refs = trainer.transitions(chunks)
    stats = trainer.train_actor(chunks, [{0: 1.0, 1: -1.0}], refs)
    after = step_logps()
    # the REINFORCE objective Σ_t A_t log π(a_t | s_t) rises: step 0's log-prob gains on step 1's
    assert after[0] - after[1] > before[0] - before[1]
    assert stats["kl_ref"] >= 0.0


def _rows(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in read_csv(out / "metrics.csv")]


def test_cli_train_and_resume_equal_uninterrupted(tmp_path: Path) -> None:
    cfg_path = tmp_path / "archer.json"
    cfg_path.write_text(json.dumps(_cfg().to_dict()))
    common = ["--algo", "archer", "--env", ENV_ID, "--model", "tiny", "--config", str(cfg_path), "--no-eval"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert train_main([*common, "--out", str(full)]) == 0
    assert train_main([*common, "--out", str(part), "--rounds", "2"]) == 0
    assert train_main([*common, "--out", str(part), "--resume"]) == 0
    rows = _rows(full)
    assert [int(r["update"]) for r in rows] == [1, 2, 3] and _rows(part) == rows
    assert [float(r["actor_updated"]) for r in rows] == [0.0, 1.0, 1.0]  # one warm-up iteration
    assert [float(r["buffer_steps"]) for r in rows] == sorted(float(r["buffer_steps"]) for r in rows)
    ckpt = full / "checkpoints" / "update_000003"
    for stem in ("adapter_model", "critic", "target_critic", "replay_buffer"):
        a = load_file(str(ckpt / f"{stem}.safetensors"))
        b = load_file(str(part / "checkpoints" / "update_000003" / f"{stem}.safetensors"))
        assert a and all(torch.equal(a[k], b[k]) for k in a), stem
    critic, target = load_file(str(ckpt / "critic.safetensors")), load_file(str(ckpt / "target_critic.safetensors"))
    assert any(not torch.equal(critic[k], target[k]) for k in critic)  # Polyak: the target lags
    assert any(float(v.abs().sum()) > 0 for k, v in load_file(str(full / "final" / "adapter_model.safetensors")).items()
               if "lora_B" in k)
    assert (full / "learning_curve.png").exists() and list((full / "tb").iterdir())


@pytest.mark.slow
def test_archer_learns_the_rewarded_tool_that_sft_cannot_tell_apart(tmp_path: Path) -> None:
    # SFT on the choice task's demos leaves a coin flip between a rewarded and an unrewarded tool (sampled pass
    # rate ~0.4, return ~1.1 of 2.0); the critic must tell the two utterances apart and the actor follow it.
    from choice_suite import choice_config, sampled_eval

    from steptool_agents.evaluate import load_run_policy
    from steptool_agents.trainer import run_training

    cfg = choice_config("archer", archer={"updates": 30, "critic_updates": 50, "actor_lr": 2e-4, "actor_epochs": 3,
                                          "warmup_updates": 2, "minibatch_size": 8})
    run_training(cfg, tmp_path, evaluate=False)
    before = sampled_eval(load_policy(tmp_path / "model", cfg.model), cfg)
    after = sampled_eval(load_run_policy(tmp_path, cfg), cfg)
    assert after["mean_return"] >= before["mean_return"] + 0.3, (before, after)
    assert after["pass_rate"] >= before["pass_rate"] + 0.2, (before, after)
