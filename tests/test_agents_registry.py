"""The algorithm registry: traits the loop, configs and CLI read; adding RLOO is one file + one registry line."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from steptool_agents import registry
from steptool_agents.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_registry_imports_no_torch() -> None:
    code = "import sys, steptool_agents.registry, steptool_agents.config; print('torch' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_algorithm_loads_and_names_real_config_keys() -> None:
    pytest.importorskip("torch")
    from steptool_agents.algorithms.base import Algorithm

    cfg = TrainConfig()
    for spec in registry.ALGORITHMS.values():
        section, key = spec.rounds
        assert isinstance(getattr(getattr(cfg, section), key), int), spec.name
        if spec.group_section is not None:
            assert getattr(cfg, spec.group_section).group_size >= 2, spec.name
        if spec.target is not None:
            assert issubclass(spec.load(), Algorithm), spec.name
    assert registry.get("ppo").offline_data and not registry.get("grpo").offline_data
    with pytest.raises(ValueError, match="algo must be one of"):
        registry.get("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get("grpo"))


def test_config_checks_read_the_registry() -> None:
    with pytest.raises(ValueError, match="offline_csv works with algo 'steptool' or 'ppo'"):
        TrainConfig.from_dict({"algo": "grpo", "offline_csv": "x.csv"})
    with pytest.raises(ValueError, match=r"multiple of gigpo\.group_size"):
        TrainConfig.from_dict({"algo": "gigpo", "gigpo": {"group_size": 3}, "rollout": {"episodes_per_update": 8}})


def test_algorithm_names_appear_only_in_the_registry_algorithms_and_cli() -> None:
    """No `cfg.algo == "..."` dispatch left: the loop, warm start and config ask the registry for traits."""
    allowed = {ROOT / "agents" / "registry.py", ROOT / "agents" / "cli.py"}
    for path in sorted((ROOT / "agents").rglob("*.py")):
        if path in allowed or path.parent.name == "algorithms":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(c, ast.Attribute) and c.attr == "algo"
                                                      for c in [node.left, *node.comparators]):
                names = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                assert not names, f"{path.name}:{node.lineno} dispatches on algo names {names}"


def _load_rloo():
    spec = importlib.util.spec_from_file_location("rloo_example", ROOT / "examples" / "rloo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rloo_example"] = module
    spec.loader.exec_module(module)
    return module


def test_rloo_example_is_one_class_plus_one_registry_line(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from steptool_agents.policy.tokenization import Trajectory
    from steptool_agents.runtime.metrics import read_csv
    from steptool_agents.trainer import run_training
    from steptool_envs.toy import register_toy_env

    try:
        rloo = _load_rloo()
        assert registry.get("rloo").critic_free
        # the estimator: return minus the mean return of the rest of the group
        algo = rloo.RLOO.__new__(rloo.RLOO)
        algo.group_size = 2
        trajs = []
        for rewards in ([1.0, 1.0], [0.0], [0.5], [0.5, 0.5]):
            t = Trajectory()
            t.rewards = list(rewards)
            trajs.append(t)
        assert algo.step_advantages(trajs) == [[2.0, 2.0], [-2.0], [-0.5], [0.5, 0.5]]
        # and the run loop trains it, config checks included
        cfg = TrainConfig.from_dict({
            "algo": "rloo", "env_id": register_toy_env(), "max_steps": 3, "warm_start_sft": False, "threads": 1,
            "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                      "tokenizer_episodes": 8, "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
            "rollout": {"num_envs": 2, "episodes_per_update": 4, "max_new_tokens": 24},
            "grpo": {"group_size": 2}, "ppo": {"updates": 1, "minibatch_size": 2}})
        summary = run_training(cfg, tmp_path, evaluate=False)
        assert summary["algo"] == "rloo" and (tmp_path / "final" / "adapter_model.safetensors").exists()
        rows = read_csv(tmp_path / "metrics.csv")
        assert len(rows) == 1 and float(rows[0]["value_loss"]) == 0.0
    finally:
        registry.ALGORITHMS.pop("rloo", None)
        sys.modules.pop("rloo_example", None)
