"""Typed configs: validation, file formats, shipped presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steptool_agents.config import ModelConfig, PPOConfig, TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_valid_and_round_trip() -> None:
    cfg = TrainConfig()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(("section", "bad"), [
    ("ppo", {"mode": "bogus"}), ("ppo", {"kl_estimator": "k2"}), ("ppo", {"gamma": 1.5}),
    ("ppo", {"clip_range": 0}), ("model", {"hidden_size": 30, "num_heads": 4}), ("model", {"vocab_size": 10}),
    ("rollout", {"temperature": 0}), ("sft", {"epochs": 0}), ("grpo", {"group_size": 1}),
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
