"""Typed configs: validation, file formats, shipped presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steptool_agents import config as config_module
from steptool_agents.config import (
    CREDIT_ASSIGNMENTS,
    LEGACY_PPO_MODES,
    ConfigDeprecationWarning,
    ConfigError,
    ModelConfig,
    PPOConfig,
    TrainConfig,
    load_config,
)
from steptool_gym.errors import DataError
from steptool_gym.rewards import REWARD_MODES

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_valid_and_round_trip() -> None:
    cfg = TrainConfig()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.filterwarnings("ignore::steptool_agents.config.ConfigDeprecationWarning")  # ppo.mode = "bogus"
@pytest.mark.parametrize(("section", "bad"), [
    ("ppo", {"credit": "bogus"}), ("ppo", {"mode": "bogus"}), ("ppo", {"kl_estimator": "k2"}), ("ppo", {"gamma": 1.5}),
    ("ppo", {"clip_range": 0}), ("model", {"hidden_size": 30, "num_heads": 4}), ("model", {"vocab_size": 10}),
    ("rollout", {"temperature": 0}), ("sft", {"epochs": 0}), ("grpo", {"group_size": 1}),
    ("eto", {"beta": 0}), ("eto", {"reference": "policy"}), ("eto", {"explore_temperature": -1}),
    ("archer", {"tau": 0}), ("archer", {"gamma": 1.5}), ("archer", {"critic_updates": 0}),
])
def test_invalid_values_are_rejected(section: str, bad: dict) -> None:
    with pytest.raises(ValueError):
        TrainConfig.from_dict({section: bad})


def test_unknown_keys_and_bad_algo_are_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown"):
        TrainConfig.from_dict({"ppo": {"lr": 1e-3}})
    with pytest.raises(ValueError, match="algo"):
        TrainConfig(algo="dpo")
    with pytest.raises(ValueError, match="multiple"):
        TrainConfig.from_dict({"algo": "grpo", "rollout": {"episodes_per_update": 6}, "grpo": {"group_size": 4}})


def test_load_json_toml_yaml(tmp_path: Path) -> None:
    data = {"algo": "grpo", "seed": 3, "ppo": {"updates": 2}, "grpo": {"group_size": 2}}
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.toml").write_text('algo = "grpo"\nseed = 3\n[ppo]\nupdates = 2\n[grpo]\ngroup_size = 2\n')
    (tmp_path / "c.yaml").write_text("algo: grpo\nseed: 3\nppo:\n  updates: 2\ngrpo:\n  group_size: 2\n")
    loaded = [load_config(tmp_path / f"c.{ext}") for ext in ("json", "toml", "yaml")]
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0].ppo == PPOConfig(updates=2) and loaded[0].model == ModelConfig()
    with pytest.raises(ValueError):
        load_config(tmp_path / "c.ini")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.*")), ids=lambda p: p.name)
def test_shipped_presets_load(path: Path) -> None:
    assert isinstance(load_config(path), TrainConfig)


def test_quickstart_preset_matches_code() -> None:
    from steptool_agents.quickstart import quickstart_config

    assert load_config(CONFIGS / "quickstart.toml") == quickstart_config()


@pytest.mark.parametrize(("name", "text", "where", "problem"), [
    ("bad.json", '{"algo": "grpo",\n "seed": }', "line 2 column 10", "not valid JSON"),
    ("cut.json", '{"ppo": {"updates": 2', "line 1 column 22", "not valid JSON"),  # truncated file
    ("bad.toml", 'algo = "grpo"\n[ppo\nupdates = 2\n', "line 2", "not valid TOML"),
    ("cut.toml", "[ppo]\nupdates = ", "at end of document", "not valid TOML"),
    ("bad.yaml", "algo: grpo\nppo: [1, 2\n", "line 3 column 1", "not valid YAML"),
    ("list.json", "[1, 2]", "list.json:", "expected a table of settings at the top level, got list"),
    ("type.json", '{"ppo": {"learning_rate": "fast"}}', "ppo.learning_rate", "expected float, got str 'fast'"),
    ("type.toml", "seed = 1.5\n", "seed", "expected int, got float 1.5"),
    ("type.yaml", "model:\n  lora_target_modules: q_proj\n", "model.lora_target_modules", "expected list[str]"),
    ("bool.json", '{"warm_start_sft": "no"}', "warm_start_sft", "expected bool, got str"),
    ("none.json", '{"ppo": {"target_approx_kl": "off"}}', "ppo.target_approx_kl", "expected float | None"),
    ("inf.toml", "[ppo]\nlearning_rate = inf\n", "ppo.learning_rate", "expected a finite number"),
    ("range.toml", "[ppo]\ngamma = 1.5\n", "range.toml", "ppo.gamma and ppo.lam must be in [0, 1]"),
])
def test_malformed_config_files_name_file_place_and_problem(tmp_path: Path, name: str, text: str, where: str,
                                                            problem: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and where in message and problem in message, message
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)


def test_config_payloads_are_data_never_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    (tmp_path / "expr.json").write_text(json.dumps({"seed": payload}))
    with pytest.raises(ConfigError, match=r"expr.json: seed: expected int, got str"):
        load_config(tmp_path / "expr.json")
    (tmp_path / "expr.toml").write_text(f"seed = {payload}\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "expr.toml")
    (tmp_path / "tag.yaml").write_text(f'seed: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match=r"tag.yaml line 1 column 7: not valid YAML"):
        load_config(tmp_path / "tag.yaml")
    (tmp_path / "name.json").write_text(json.dumps({"algo": payload}))  # a string field: just a (bad) name
    with pytest.raises(ConfigError, match="algo must be one of"):
        load_config(tmp_path / "name.json")
    assert not marker.exists()


def test_config_non_utf8_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes(b'algo = "grpo"\n# caf\xe9\n')
    with pytest.raises(ConfigError, match=r"latin1.toml line 2: not UTF-8 text \(byte 0xe9"):
        load_config(tmp_path / "latin1.toml")
    with pytest.raises(ConfigError, match=r"missing.toml: cannot read"):
        load_config(tmp_path / "missing.toml")


def test_cli_prints_one_line_without_traceback(tmp_path: Path, capsys) -> None:
    from steptool_agents.cli import train_main

    (tmp_path / "bad.json").write_text('{"ppo": {"updates": "many"}}')
    assert train_main(["--out", str(tmp_path / "run"), "--config", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.json: ppo.updates: expected int, got str 'many'" in err
    assert "Traceback" not in err


def test_env_kwargs_reach_gym_make_and_cannot_shadow_top_level_keys() -> None:
    from steptool_agents.rollout.envs import env_kwargs

    cfg = TrainConfig(env_kwargs={"alpha": 0.2, "reward_mode": "final"}, group="G1", max_steps=4)
    assert env_kwargs(cfg, "test_tool") == {"reward_mode": "final", "alpha": 0.2, "split": "test_tool",
                                            "max_steps": 4, "group": "G1", "gamma": cfg.ppo.gamma}
    assert env_kwargs(TrainConfig(), "train")["reward_mode"] == "progress"
    assert env_kwargs(TrainConfig(algo="gigpo"), "train")["gamma"] == TrainConfig().gigpo.gamma
    assert env_kwargs(TrainConfig(algo="grpo"), "train")["gamma"] == 1.0
    with pytest.raises(ValueError, match="must not set \\['split'\\]"):
        TrainConfig(env_kwargs={"split": "train"})
    with pytest.raises(ValueError, match="env_kwargs"):
        TrainConfig.from_dict({"env_kwargs": ["alpha", 0.2]})


@pytest.mark.parametrize(("old", "new"), sorted(LEGACY_PPO_MODES.items()))
def test_former_ppo_mode_key_and_values_load_with_one_warning(tmp_path: Path, monkeypatch, old: str,
                                                              new: str) -> None:
    monkeypatch.setattr(config_module, "_WARNED", set())
    path = tmp_path / "old.toml"
    path.write_text(f'algo = "steptool"\n[ppo]\nmode = "{old}"\nupdates = 3\n')
    with pytest.warns(ConfigDeprecationWarning, match="ppo.mode is deprecated; use ppo.credit") as caught:
        cfg = load_config(path)
        again = load_config(path)  # warned once per process
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert cfg == again == TrainConfig.from_dict({"ppo": {"credit": new, "updates": 3}})
    assert new in CREDIT_ASSIGNMENTS and new not in REWARD_MODES
    with pytest.warns(ConfigDeprecationWarning, match=f"ppo.credit = '{old}' is deprecated; use '{new}'"):
        assert PPOConfig(credit=old).credit == new  # a former value under the new key maps too
    with pytest.warns(ConfigDeprecationWarning, match="PPOConfig.mode is deprecated"):
        assert cfg.ppo.mode == new
    with pytest.raises(ValueError, match="set credit only"):
        TrainConfig.from_dict({"ppo": {"mode": old, "credit": new}})


def test_credit_assignments_clash_with_no_reward_mode() -> None:
    assert set(CREDIT_ASSIGNMENTS) == set(LEGACY_PPO_MODES.values())
    assert not set(CREDIT_ASSIGNMENTS) & set(REWARD_MODES)
