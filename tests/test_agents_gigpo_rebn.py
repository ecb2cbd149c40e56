"""GiGPO and REINFORCE-ReBN: estimators against hand-computed values, state keys in rollouts, CLI runs + resume."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from steptool_agents.algorithms.base import OnPolicyAlgorithm, build_algorithm  # noqa: E402
from steptool_agents.algorithms.returns import (  # noqa: E402
    broadcast_steps,
    discounted_returns,
    gigpo_advantages,
    gigpo_step_advantages,
    rebn_advantages,
)
from steptool_agents.cli import train_main  # noqa: E402
from steptool_agents.config import TrainConfig, load_config  # noqa: E402
from steptool_agents.evaluate import load_run_policy  # noqa: E402
from steptool_agents.policy.models import Policy, build_tiny_model, load_policy, train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.prompts import ReActFormat  # noqa: E402
from steptool_agents.policy.tokenization import encode  # noqa: E402
from steptool_agents.rollout.collect import Generated, collect_episodes, make_vector_env  # noqa: E402
from steptool_agents.rollout.envs import env_factory  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402
from steptool_agents.warmstart import build_base_model  # noqa: E402
from steptool_envs.toy import _gold, register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
EPS = 1e-4


# ----------------------------------------------------------------------------------------------- estimators
def test_discounted_returns() -> None:
    assert discounted_returns([1.0, 0.0, 2.0], 0.5) == pytest.approx([1.0 + 0.5 * 0.5 * 2.0, 1.0, 2.0])
    assert discounted_returns([1.0, 1.0], 1.0) == pytest.approx([2.0, 1.0])
    assert discounted_returns([], 0.9) == []


def test_gigpo_step_groups_share_state_keys_across_and_within_episodes() -> None:
    returns = [[1.0, 2.0], [3.0, 0.5], [2.0, 4.0, 0.0]]
    keys = [["a", "b"], ["a", "c"], ["a", "b", "b"]]  # episode 2 revisits b; c is a singleton
    # a: {1, 3, 2} mean 2, std 1;  b: {2, 4, 0} mean 2, std 2;  c: alone → 0
    centred = gigpo_step_advantages(returns, keys, scale_by_std=False)
    assert centred == [pytest.approx([-1.0, 0.0]), pytest.approx([1.0, 0.0]), pytest.approx([0.0, 2.0, -2.0])]
    scaled = gigpo_step_advantages(returns, keys)
    assert scaled == [pytest.approx([-1 / (1 + EPS), 0.0]), pytest.approx([1 / (1 + EPS), 0.0]),
                      pytest.approx([0.0, 2 / (2 + EPS), -2 / (2 + EPS)])]


def test_gigpo_steps_without_keys_and_equal_returns_get_zero() -> None:
    assert gigpo_step_advantages([[1.0, 5.0], [3.0]], [[None, "x"], [None]]) == [[0.0, 0.0], [0.0]]
    assert gigpo_step_advantages([[2.0], [2.0]], [["s"], ["s"]]) == [[0.0], [0.0]]
    with pytest.raises(ValueError, match="state keys"):
        gigpo_step_advantages([[1.0, 2.0]], [["s"]])


def test_gigpo_combines_episode_and_discounted_step_advantages_per_group() -> None:
    rewards = [[0.5, 1.0], [0.0, 0.5, 0.0],  # group 0
               [1.0], [1.0]]  # group 1 reuses key "s0": groups must not mix
    keys = [["s0", "s1"], ["s0", "sX", "s1"], ["s0"], ["s0"]]
    adv = gigpo_advantages(rewards, keys, group_size=2, step_weight=0.5, gamma=0.5, scale_by_std=False)
    # group 0: R = 1.5, 0.5 → A^E = ±0.5. G = [1.0, 1.0] and [0.25, 0.5, 0.0];
    # s0: {1.0, 0.25} → ±0.375; s1: {1.0, 0.0} → ±0.5; sX alone → 0.
    assert adv[0] == pytest.approx([0.5 + 0.5 * 0.375, 0.5 + 0.5 * 0.5])
    assert adv[1] == pytest.approx([-0.5 - 0.5 * 0.375, -0.5, -0.5 - 0.5 * 0.5])
    assert adv[2] == adv[3] == [0.0]  # equal returns, and group 0's s0 values stay out of group 1
    scaled = gigpo_advantages(rewards[:2], keys[:2], group_size=2, step_weight=0.0, gamma=0.5)
    a_e = 0.5 / (math.sqrt(0.5) + EPS)  # unbiased std of {1.5, 0.5}
    assert scaled == [pytest.approx([a_e, a_e], rel=1e-5), pytest.approx([-a_e] * 3, rel=1e-5)]
    with pytest.raises(ValueError, match="groups of 2"):
        gigpo_advantages(rewards[:3], keys[:3], group_size=2)


def test_rebn_normalises_discounted_returns_over_the_whole_batch() -> None:
    rewards = [[1.0, 0.0], [0.0, 0.0, 1.0]]
    # γ = 1: G = [1, 0] and [1, 1, 1]; mean 0.8, unbiased std sqrt(0.2)
    std = math.sqrt(0.2) + EPS
    assert rebn_advantages(rewards, 1.0) == [pytest.approx([0.2 / std, -0.8 / std]), pytest.approx([0.2 / std] * 3)]
    # γ = 0.5: G = [1, 0] and [0.25, 0.5, 1]
    g = torch.tensor([1.0, 0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    expected = ((g - g.mean()) / (g.std() + EPS)).tolist()
    assert rebn_advantages(rewards, 0.5) == [pytest.approx(expected[:2]), pytest.approx(expected[2:])]
    assert rebn_advantages([[3.0]], 0.9) == [[0.0]]
    assert rebn_advantages([[], []], 0.9) == [[], []]


def test_broadcast_steps_fills_each_steps_action_tokens() -> None:
    amask = torch.tensor([0, 1, 1, 0, 0, 1, 0, 1, 1], dtype=torch.float32)
    sidx = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    out = broadcast_steps([0.5, -1.0, 2.0], amask, sidx)
    assert out.tolist() == pytest.approx([0, 0.5, 0.5, 0, 0, -1.0, 0, 2.0, 2.0])
    # left truncation keeps the later steps' positions; padding (-1) and prompt positions stay 0
    assert broadcast_steps([0.5, -1.0, 2.0], amask[5:], sidx[5:]).tolist() == pytest.approx([-1.0, 0, 2.0, 2.0])
    pad = broadcast_steps([3.0], torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0, 0, -1]))
    assert pad.tolist() == [0.0, 3.0, 0.0]


# ----------------------------------------------------------------------------------------------- rollouts
@pytest.fixture(scope="module")
def tok():
    return train_bpe_tokenizer(episode_texts(oracle_episodes(ENV_ID, 10, 0), "</s>"), 600)


class DetourScript:
    """The gold calls, after a first call to a function that does not exist (no progress) for the rows of the
    first batch listed in `detour_rows` (None: every row)."""

    DETOUR = "Action: nowhere\nAction Input: {}"

    def __init__(self, tok, detour_rows: set[int] | None = None) -> None:
        self.tok = tok
        self.detour_rows = detour_rows

    def __call__(self, contexts, greedy=False):
        out = []
        for row, ctx in enumerate(contexts):
            text = self.tok.decode(ctx)
            city = re.findall(r"temperature in (\w+)", text)[-1]
            turns = text.count("\nFunction:")
            if turns == 0 and (self.detour_rows is None or row in self.detour_rows):
                action = self.DETOUR
            else:
                action = _gold(city)[turns - ("nowhere" in text)].to_react()
            out.append(Generated(encode(self.tok, action) + [self.tok.eos_token_id], True))
        return out


def test_rollouts_record_the_state_key_before_each_action(tok) -> None:
    envs = make_vector_env(ENV_ID, 2, split="train", max_steps=6)
    trajs = collect_episodes(envs, DetourScript(tok), ReActFormat(tok.eos_token), tok, episodes=5, seeds=[1, 2],
                             max_context_tokens=4096, max_new_tokens=64)
    envs.close()
    assert len(trajs) == 5  # three episodes began on an autoreset step, whose info carries the first key
    for t in trajs:
        assert t.is_solved == 1.0 and t.num_steps == 4
        # the toy suite's key is task:gold-progress; the failed detour leaves the state (and key) unchanged
        assert t.state_keys == [f"{t.task_id}:{k}" for k in (0, 0, 1, 2)]


def _trainer(tok, algo: str, detour_rows: set[int]) -> OnPolicyAlgorithm:
    cfg = TrainConfig.from_dict({**_config(algo, 1), "max_steps": 6,
                                 "rollout": {"num_envs": 2, "episodes_per_update": 2, "max_new_tokens": 64},
                                 "gigpo": {"group_size": 2, "gamma": 0.5, "scale_by_std": False},
                                 "model": {**_config(algo, 1)["model"], "max_context_tokens": 2048,
                                           "max_prompt_tokens": 0}})
    policy = Policy(build_tiny_model(cfg.model, tok), tok, cfg.model)
    return build_algorithm(cfg, policy, env_factory(cfg, "train"), fmt=ReActFormat(tok.eos_token),
                           generator=DetourScript(tok, detour_rows))


def _step_advantages(batch, row: int) -> list[float]:
    """The advantage on each step's action tokens of one row (asserting it is the same on all of them)."""
    amask, adv = batch.action_mask[row].bool(), batch.advantages[row]
    steps, current, prev = [], [], False
    for on, a in zip(amask.tolist(), adv.tolist(), strict=True):
        if on:
            current.append(a)
        elif prev:
            steps.append(current)
            current = []
        prev = on
    if current:
        steps.append(current)
    assert all(max(s) - min(s) < 1e-6 for s in steps)
    return [s[0] for s in steps]


def test_trainer_gives_gigpo_and_rebn_advantages_to_every_token_of_a_step(tok) -> None:
    # One group of two episodes of one task: A plays gold (rewards 1, 1, 1; keys k0 k1 k2), B first calls a
    # missing function (rewards 0, 1, 1, 1; keys k0 k0 k1 k2). Equal returns: A^E = 0. With γ = 0.5,
    # G_A = [1.75, 1.5, 1], G_B = [0.875, 1.75, 1.5, 1]; anchor k0 = {1.75, 0.875, 1.75}, mean 1.4583.
    trainer = _trainer(tok, "gigpo", detour_rows={1})
    trajs = trainer.collect_rollouts()
    by_steps = sorted(range(2), key=lambda i: trajs[i].num_steps)
    assert [trajs[i].rewards for i in by_steps] == [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]]
    batch, _ = trainer.compute_advantages(trajs)
    mean_k0 = (1.75 + 0.875 + 1.75) / 3
    assert _step_advantages(batch, by_steps[0]) == pytest.approx([1.75 - mean_k0, 0.0, 0.0], abs=1e-5)
    assert _step_advantages(batch, by_steps[1]) == pytest.approx([0.875 - mean_k0, 1.75 - mean_k0, 0.0, 0.0],
                                                                 abs=1e-5)
    trainer.envs.close()

    trainer = _trainer(tok, "reinforce-rebn", detour_rows={1})
    trajs = trainer.collect_rollouts()
    batch, _ = trainer.compute_advantages(trajs)
    returns = {3: discounted_returns([1.0] * 3, 0.9), 4: discounted_returns([0.0, 1.0, 1.0, 1.0], 0.9)}
    g = torch.tensor(returns[3] + returns[4], dtype=torch.float64)
    norm = ((g - g.mean()) / (g.std() + EPS)).tolist()
    for row, t in enumerate(trajs):
        expected = norm[:3] if t.num_steps == 3 else norm[3:]
        assert _step_advantages(batch, row) == pytest.approx(expected, abs=1e-5)
    trainer.envs.close()


# ----------------------------------------------------------------------------------------------- training
def _config(algo: str, updates: int) -> dict:
    return {
        "algo": algo, "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 2, "max_steps": 3,
        "checkpoint_every": 1, "warm_start_sft": False, "threads": 1, "env_kwargs": {"reward_mode": "step"},
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "sft": {"episodes": 8, "epochs": 1, "batch_size": 8},
        "rollout": {"num_envs": 2, "episodes_per_update": 4, "max_new_tokens": 24},
        "ppo": {"updates": updates, "minibatch_size": 2, "learning_rate": 1e-2, "target_approx_kl": None,
                "gamma": 0.9},
        "gigpo": {"group_size": 2, "step_weight": 0.5},
    }


def _rows(out: Path) -> list[dict[str, str]]:
    timing = {"rollout_s", "score_s", "train_s", "train_tokens_per_s"}
    return [{k: v for k, v in r.items() if k not in timing} for r in read_csv(out / "metrics.csv")]


def _warm_config(algo: str, updates: int) -> dict:
    """The tiny setup, SFT-warm-started so that some episodes score and advantages are not all zero."""
    cfg = _config(algo, updates)
    cfg.update(warm_start_sft=True, seed=1, sft={"episodes": 16, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2})
    cfg["model"].update(hidden_size=64, intermediate_size=128)
    cfg["rollout"].update(episodes_per_update=8, max_new_tokens=48)
    return cfg


@pytest.fixture(scope="module")
def warm_model(tmp_path_factory) -> Path:
    """``model/`` of a run directory after the SFT warm start, built once and copied into each run."""
    out = tmp_path_factory.mktemp("warm")
    torch.set_num_threads(1)  # as run_training does with the config's threads = 1
    build_base_model(TrainConfig.from_dict(_warm_config("gigpo", 1)), out)
    return out / "model"


@pytest.mark.parametrize("algo", ["gigpo", "reinforce-rebn"])
def test_cli_train_learns_logs_checkpoints_and_resumes_exactly(tmp_path: Path, algo: str, warm_model: Path,
                                                                capsys) -> None:
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(_warm_config("steptool", 2)))  # --algo overrides the file's algo
    args = ["--algo", algo, "--env", ENV_ID, "--model", "tiny", "--config", str(cfg_path), "--no-eval"]
    full, part = tmp_path / "full", tmp_path / "part"
    for run in (full, part):
        shutil.copytree(warm_model, run / "model")
    assert train_main([*args, "--out", str(full)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["algo"] == algo and json.loads((full / "config.json").read_text())["algo"] == algo
    rows = read_csv(full / "metrics.csv")
    assert [int(r["update"]) for r in rows] == [1, 2]
    assert all(float(r["value_loss"]) == 0.0 and float(r["action_tokens"]) > 0 for r in rows)  # critic-free
    assert max(float(r["mean_step_reward"]) for r in rows) > 0
    assert (full / "checkpoints" / "latest").read_text().strip() == "update_000002"
    final = load_file(str(full / "final" / "adapter_model.safetensors"))
    assert any(float(v.abs().sum()) > 0 for k, v in final.items() if "lora_B" in k)  # a non-zero gradient step
    assert train_main([*args, "--out", str(part), "--updates", "1"]) == 0
    assert train_main([*args, "--out", str(part), "--resume"]) == 0
    assert _rows(part) == _rows(full)
    resumed = load_file(str(part / "final" / "adapter_model.safetensors"))
    assert all(torch.equal(final[k], resumed[k]) for k in final)


@pytest.mark.parametrize(("preset", "algo"), [("gigpo.toml", "gigpo"), ("reinforce_rebn.toml", "reinforce-rebn")])
def test_presets_load(preset: str, algo: str) -> None:
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / preset)
    assert cfg.algo == algo and cfg.rollout.episodes_per_update % cfg.gigpo.group_size == 0


def test_gigpo_config_validation() -> None:
    base = _config("gigpo", 1)
    assert TrainConfig.from_dict(base).gigpo.step_weight == 0.5
    for section, bad in (("gigpo", {"group_size": 1}), ("gigpo", {"step_weight": -1.0}), ("gigpo", {"gamma": 1.5}),
                         ("gigpo", {"scale_by_std": "yes"}), ("rollout", {"episodes_per_update": 3})):
        with pytest.raises(ValueError):
            TrainConfig.from_dict({**base, section: {**base[section], **bad}})


# ----------------------------------------------------------------------------------------------- learning
@pytest.mark.slow
@pytest.mark.parametrize("algo", ["gigpo", "reinforce-rebn"])
def test_rl_learns_the_rewarded_tool_that_sft_cannot_tell_apart(tmp_path: Path, algo: str) -> None:
    # SFT on the choice task's demos leaves a coin flip between a rewarded and an unrewarded tool (sampled pass
    # rate ~0.4, return ~1.1 of 2.0); 15 updates must move the sampled policy clearly towards the rewarded tool.
    from choice_suite import choice_config, sampled_eval

    cfg = choice_config(algo, ppo={"updates": 15, "minibatch_size": 8, "learning_rate": 1e-3, "n_epochs": 2,
                                   "kl_coef": 0.02, "target_approx_kl": None, "gamma": 0.9},
                        gigpo={"group_size": 4})
    run_training(cfg, tmp_path, evaluate=False)
    before = sampled_eval(load_policy(tmp_path / "model", cfg.model), cfg)
    after = sampled_eval(load_run_policy(tmp_path, cfg), cfg)
    assert after["mean_return"] >= before["mean_return"] + 0.3, (before, after)
    assert after["pass_rate"] >= before["pass_rate"] + 0.2, (before, after)
