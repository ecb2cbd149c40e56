"""End-to-end training on the toy suite: PPO moves parameters and rewards, resume == uninterrupted, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from steptool_agents.cli import eval_main, train_main  # noqa: E402
from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
TIMING_KEYS = {"rollout_s", "score_s", "train_s", "train_tokens_per_s"}


def _cfg(**top) -> TrainConfig:
    data = {
        "algo": "steptool", "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 4, "max_steps": 3,
        "checkpoint_every": 1, "warm_start_sft": False, "threads": 1, "env_kwargs": {"reward_mode": "step"},
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "sft": {"episodes": 8, "epochs": 1, "batch_size": 8},
        "rollout": {"num_envs": 2, "episodes_per_update": 2, "max_new_tokens": 24},
        "ppo": {"updates": 2, "minibatch_size": 2, "grad_accum_steps": 2, "learning_rate": 1e-2,
                "target_approx_kl": None},
    }
    for key, value in top.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return TrainConfig.from_dict(data)


def _rows(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in read_csv(out / "metrics.csv")]


def test_steptool_ppo_moves_parameters_and_rewards(tmp_path: Path) -> None:
    # A scripted warm start: SFT on oracle demos makes some rewards non-zero, so learning has signal.
    cfg = _cfg(warm_start_sft=True, sft={"episodes": 16, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2},
               model={"hidden_size": 64, "intermediate_size": 128},
               rollout={"num_envs": 4, "episodes_per_update": 4, "max_new_tokens": 48}, ppo={"updates": 3})
    summary = run_training(cfg, tmp_path, evaluate=True)
    rows = read_csv(tmp_path / "metrics.csv")
    assert [int(r["update"]) for r in rows] == [1, 2, 3]
    for key in ("approx_kl", "clip_frac", "explained_variance", "kl_ref", "entropy", "mean_step_reward",
                "pass_rate", "tool_call_f1", "policy_loss", "value_loss"):
        assert key in rows[0]
    rewards = [float(r["mean_step_reward"]) for r in rows]
    assert max(rewards) > 0.0 and len(set(rewards)) > 1  # reward is non-trivial and moves across updates
    first = load_file(str(tmp_path / "checkpoints" / "update_000001" / "adapter_model.safetensors"))
    last = load_file(str(tmp_path / "final" / "adapter_model.safetensors"))
    assert any(not torch.equal(first[k], last[k]) for k in first)
    assert any(float(v.abs().sum()) > 0 for k, v in last.items() if "lora_B" in k)  # LoRA left zero-init
    assert float(rows[-1]["kl_ref"]) > 0.0
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    assert list((tmp_path / "tb").iterdir())
    assert set(summary["eval"]) >= {"env", "episodes", "pass_rate", "avg_steps", "tool_call_precision",
                                     "tool_call_recall", "tool_call_f1", "mean_return"}
    assert json.loads((tmp_path / "eval.json").read_text()) == summary["eval"]


@pytest.mark.parametrize("algo", ["steptool", "grpo"])
def test_a_round_reports_rollout_scoring_and_training_progress(tmp_path: Path, monkeypatch, algo: str) -> None:
    """A SmolLM2 round takes minutes: the bar's text moves within it (a log line at most every `every` s)."""
    import functools
    import io

    from rich.console import Console

    from steptool_agents import progress, trainer

    monkeypatch.setattr(trainer, "progress", functools.partial(progress.progress, every=0.0))
    log = io.StringIO()
    run_training(_cfg(algo=algo, ppo={"updates": 1}, grpo={"group_size": 2}), tmp_path, evaluate=False,
                 console=Console(file=log, force_terminal=False, width=200))
    text = log.getvalue()
    assert "round 1: rollout" in text and "round 1: scoring" in text
    assert "round 1: train epoch 1/2, minibatch 1/1" in text


@pytest.mark.parametrize("algo", ["steptool", "grpo"])
def test_resume_equals_uninterrupted(tmp_path: Path, algo: str) -> None:
    extra = {"grpo": {"group_size": 2}} if algo == "grpo" else {}
    full, part = tmp_path / "full", tmp_path / "part"
    run_training(_cfg(algo=algo, ppo={"updates": 3}, **extra), full, evaluate=False)
    run_training(_cfg(algo=algo, ppo={"updates": 2}, **extra), part, evaluate=False)
    shutil.rmtree(part / "final")
    run_training(_cfg(algo=algo, ppo={"updates": 3}, **extra), part, resume=True, evaluate=False)
    assert _rows(part) == _rows(full)
    a = load_file(str(full / "final" / "adapter_model.safetensors"))
    b = load_file(str(part / "final" / "adapter_model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_periodic_eval_logs_a_held_out_curve_and_leaves_training_unchanged(tmp_path: Path) -> None:
    from steptool_agents.reporting import tag
    from steptool_agents.trainer import EVAL_CURVE_KEYS

    plain, periodic = tmp_path / "plain", tmp_path / "periodic"
    run_training(_cfg(ppo={"updates": 3}), plain, evaluate=True)
    summary = run_training(_cfg(ppo={"updates": 3}, eval_every=2), periodic, evaluate=True)
    rows = read_csv(periodic / "metrics.csv")
    eval_keys = [f"eval_{k}" for k in EVAL_CURVE_KEYS]
    # Every 2nd update and the last; the CSV leaves the others empty.
    assert [[r[k] != "" for k in eval_keys] for r in rows] == [[False] * 5, [True] * 5, [True] * 5]
    # Evaluating between updates changes nothing the training does (greedy decoding, seeded envs).
    assert [{k: v for k, v in r.items() if k not in eval_keys} for r in _rows(periodic)] == _rows(plain)
    final = json.loads((plain / "eval.json").read_text())
    assert summary["eval"] == final  # the last update's periodic evaluation is the final one, not played twice
    assert json.loads((periodic / "eval.json").read_text()) == final
    assert float(rows[-1]["eval_pass_rate"]) == final["pass_rate"]
    assert tag("eval_pass_rate") == "eval/pass_rate"
    with pytest.raises(ValueError, match="eval_every must be >= 0"):
        _cfg(eval_every=-1)


def test_checkpoints_are_complete_and_pointer_is_latest(tmp_path: Path) -> None:
    run_training(_cfg(ppo={"updates": 2}), tmp_path, evaluate=False)
    ckpts = tmp_path / "checkpoints"
    assert (ckpts / "latest").read_text().strip() == "update_000002"
    for name in ("adapter_model.safetensors", "value_head.safetensors", "optimizer.pt", "torch_rng.pt", "state.json"):
        assert (ckpts / "update_000002" / name).exists()
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no temp leftovers
    torch.load(ckpts / "update_000002" / "optimizer.pt", weights_only=True)


@pytest.mark.parametrize("credit", ["outcome_token_gae", "outcome_token_discount", "outcome_step_gae",
                                    "step_token_gae", "official_tokens"])
def test_every_credit_assignment_runs_an_update(tmp_path: Path, credit: str) -> None:
    run_training(_cfg(ppo={"updates": 1, "credit": credit, "kl_estimator": "k3", "adaptive_kl": True}), tmp_path,
                 evaluate=False)
    row = read_csv(tmp_path / "metrics.csv")[0]
    assert float(row["kl_coef"]) > 0 and float(row["action_tokens"]) > 0


def test_cli_train_and_eval(tmp_path: Path, capsys) -> None:
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(_cfg(ppo={"updates": 1}).to_dict()))
    out = tmp_path / "run"
    assert train_main(["--algo", "steptool", "--env", ENV_ID, "--model", "tiny", "--out", str(out),
                       "--config", str(cfg_path), "--no-eval"]) == 0
    capsys.readouterr()
    assert eval_main(["--env", ENV_ID, "--model", str(out), "--split", "test", "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env"] == ENV_ID and result["episodes"] == 2
    assert set(result) >= {"pass_rate", "avg_steps", "tool_call_precision", "tool_call_recall", "tool_call_f1",
                           "mean_return"}
    assert train_main(["--out", str(out), "--config", str(tmp_path / "missing.toml")]) == 2


def test_sft_and_rft_algos(tmp_path: Path) -> None:
    summary = run_training(_cfg(algo="sft"), tmp_path / "sft", evaluate=False)
    meta = json.loads((tmp_path / "sft" / "model" / "steptool.json").read_text())
    assert meta["sft"]["episodes"] == 8 and summary["algo"] == "sft"
    run_training(_cfg(algo="rft", sft={"rft_rounds": 1, "rft_episodes": 2}), tmp_path / "rft", evaluate=False)
    assert (tmp_path / "rft" / "final" / "adapter_model.safetensors").exists()
    assert read_csv(tmp_path / "rft" / "metrics.csv")[0]["kept"] is not None


def test_offline_step_grained_csv_and_sft_json(tmp_path: Path) -> None:
    prompts = ["System: S\nUser: weather in Paris?\nBegin!\nAssistant:\n", "\nFunction: {}\nAssistant:\n"]
    responses = ['Thought: a\nAction: city_search_for_geo\nAction Input: {"name": "Paris"}</s>',
                 'Action: Finish\nAction Input: {"return_type": "give_answer", "final_answer": "9"}</s>']
    csv_path = tmp_path / "steps.csv"
    csv_path.write_text("prompt\tresponse\treward\n" + f"{prompts!r}\t{responses!r}\t[0.8, 1.0]\n" * 3)
    conv = [{"from": "system", "value": "S"}, {"from": "user", "value": "Q"},
            {"from": "assistant", "value": "Action: Finish\nAction Input: {}"}]
    json_path = tmp_path / "sft.json"
    json_path.write_text(json.dumps([{"conversations": conv}] * 4))
    cfg = _cfg(warm_start_sft=True, sft_json=str(json_path), offline_csv=str(csv_path),
               ppo={"updates": 2, "credit": "official_tokens"})
    run_training(cfg, tmp_path / "run", evaluate=False)
    meta = json.loads((tmp_path / "run" / "model" / "steptool.json").read_text())
    assert meta["sft"]["episodes"] == 4  # the SFT JSON's conversations, not oracle demos
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert [float(r["mean_step_reward"]) for r in rows] == pytest.approx([0.9, 0.9])  # the CSV's rewards
    assert float(rows[0]["pass_rate"]) == 1.0


def test_quickstart_runs_end_to_end_and_writes_table_plot(tmp_path: Path, capsys) -> None:
    """The README's first command on a small config: SFT, PPO, both evaluated, table + plot + JSON."""
    from steptool_agents.quickstart import main

    smoke = json.loads((Path(__file__).resolve().parent.parent / "configs" / "toy_smoke.json").read_text())
    smoke.update(threads=1, eval_episodes=4)
    smoke["sft"].update(episodes=8, epochs=4)
    config = tmp_path / "smoke.json"
    config.write_text(json.dumps(smoke))
    assert main(["--out", str(tmp_path / "run"), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "SFT" in printed and "StepTool" in printed and "pass rate" in printed
    run = tmp_path / "run"
    summary = json.loads((run / "quickstart.json").read_text())
    assert set(summary["results"]) == {"untrained", "SFT", "StepTool"}
    assert summary["results"]["StepTool"]["episodes"] == 4
    assert (run / "comparison.png").stat().st_size > 1000
    assert len(read_csv(run / "metrics.csv")) == 2
