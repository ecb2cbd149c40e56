"""The behaviour distribution: one object that both the sampler and the scorer read.

PPO's importance ratio π_new(a|s) / π_old(a|s) is only right when π_old is the distribution the action was drawn
from. `Sampler` owns that distribution: ``softmax(logits / temperature)`` over the whole vocabulary. Generation
builds its ``GenerationConfig`` from it with *every* logits-processor field set (nothing is filled in from the
model's ``generation_config.json``: a repetition penalty or ``min_p`` there would change what is sampled but not what
is scored), and `Policy.token_logprobs` divides the logits by the same temperature.

Truncating samplers (top-k, top-p, min-p, typical) are not supported: the log-prob of a token under a truncated,
renormalised distribution is not differentiable in the way the PPO loss needs, so such settings are refused in one
line rather than silently mis-scored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from transformers import GenerationConfig

__all__ = ["Sampler", "scale_logits"]


@dataclass(frozen=True)
class Sampler:
    """Sampling settings, fully specified: temperature-scaled softmax over the full vocabulary.

    ``top_k = 0`` and ``top_p = 1.0`` are the only values accepted (no truncation); they are fields so a config
    that sets anything else fails with a one-line error instead of being ignored.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"sampler temperature must be > 0; got {self.temperature}")
        if self.top_k != 0 or self.top_p != 1.0:
            raise ValueError(f"only untruncated sampling (top_k = 0, top_p = 1.0) can be scored exactly; "
                             f"got top_k = {self.top_k}, top_p = {self.top_p}")

    def generation_config(self, max_new_tokens: int, pad_token_id: int, eos_token_id: int,
                          greedy: bool = False, output_scores: bool = False) -> GenerationConfig:
        """Every field that shapes the next-token distribution set explicitly (greedy: argmax, same logits)."""
        return GenerationConfig(
            max_new_tokens=max_new_tokens, min_new_tokens=0, do_sample=not greedy, num_beams=1,
            temperature=1.0 if greedy else self.temperature, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0,
            epsilon_cutoff=0.0, eta_cutoff=0.0, repetition_penalty=1.0, encoder_repetition_penalty=1.0,
            no_repeat_ngram_size=0, encoder_no_repeat_ngram_size=0, length_penalty=1.0, diversity_penalty=0.0,
            renormalize_logits=False, remove_invalid_values=False, num_return_sequences=1, use_cache=True,
            pad_token_id=pad_token_id, eos_token_id=eos_token_id, bos_token_id=None,
            output_scores=output_scores, return_dict_in_generate=output_scores,
        )

    @staticmethod
    @contextlib.contextmanager
    def isolated(model: Any) -> Iterator[None]:
        """Hide the model's own generation defaults while generating (transformers fills unset fields from them)."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        saved = base.generation_config
        base.generation_config = GenerationConfig()
        try:
            yield
        finally:
            base.generation_config = saved


def scale_logits(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits of the behaviour distribution (divided by the temperature; unchanged at T = 1)."""
    return logits if temperature == 1.0 else logits / temperature
