"""Generation that keeps each row's KV cache between turns, so a turn prefills only what is new.

An agent's context at turn t + 1 is its context at turn t, the action it sampled and the observation that came
back. ``model.generate`` re-encodes all of it every turn: on SmolLM2 that prefill, not decoding, is most of an
episode's generation time. `PrefixKVGenerator` remembers the keys and values of every sequence it has encoded
(context + the action ids it fed back) and, for a new context, encodes only the part after the longest prefix it
holds; the rows are then decoded together in one left-padded batch, exactly as `HFGenerator` does.

What is sampled is unchanged: the same `Sampler` (softmax(logits / T) over the full vocabulary, argmax when
greedy), the same stop rules, positions counted over the context as the scorer counts them. Only the arithmetic
differs (a prefix encoded once, then extended), within float rounding of a full re-encode.

The cache holds keys and values computed with the weights of the moment: `reset()` drops it, and every collection
starts with a reset (`collect_episodes`), so a policy update never meets stale entries.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from steptool_agents.policy.models import model_device
from steptool_agents.policy.sampling import Sampler, scale_logits
from steptool_agents.rollout.collect import Generated, StopCondition

__all__ = ["PrefixKVGenerator"]

_KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [heads, length, head_dim]


class _BufferedLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views into buffers with room for the tokens still to come.

    `DynamicLayer.update` concatenates, copying the whole batch cache once per generated token and layer: on
    SmolLM2 (16 rows, ~900 cached tokens) that copy was ~45 % of a decoding step. Here a step writes one slot.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        super().__init__()
        self.lazy_initialization(keys, values)
        self._keys, self._values, self._length = keys, values, length
        self.keys, self.values = keys[..., :length, :], values[..., :length, :]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        end = self._length + key_states.shape[-2]
        if end > self._keys.shape[-2]:  # out of room (not reached by the decode loop): grow like DynamicLayer
            self._keys = torch.cat([self.keys, key_states], dim=-2)
            self._values = torch.cat([self.values, value_states], dim=-2)
        else:
            self._keys[..., self._length:end, :] = key_states
            self._values[..., self._length:end, :] = value_states
        self._length = end
        self.keys, self.values = self._keys[..., :end, :], self._values[..., :end, :]
        return self.keys, self.values


def _common_prefix(a: tuple[int, ...], b: list[int]) -> int:
    n = min(len(a), len(b))
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


class PrefixKVGenerator:
    """`HFGenerator`'s interface and sampling, with per-sequence KV caches reused across calls.

    `max_entries` bounds the sequences kept (least recently used dropped first); an entry extended by a later call
    is replaced by its extension, so one agent's episode holds one entry.
    """

    def __init__(self, model: Any, tokenizer: Any, stop: StopCondition, max_new_tokens: int, sampler: Sampler,
                 return_logprobs: bool = False, max_entries: int = 64) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stop = stop
        self.max_new_tokens = max_new_tokens
        self.sampler = sampler
        self.return_logprobs = return_logprobs
        self.max_entries = max_entries
        self._store: OrderedDict[tuple[int, ...], _KV] = OrderedDict()
        self.encoded_tokens = 0  # prefill work done (tokens through the model), for benchmarks
        self.reused_tokens = 0  # context tokens taken from the cache instead

    def reset(self) -> None:
        """Forget every cached sequence (the weights changed, or a new collection starts)."""
        self._store.clear()

    def _lookup(self, context: list[int]) -> tuple[tuple[int, ...] | None, int]:
        best, best_len = None, 0
        for key in self._store:
            if key and key[0] == context[0]:
                k = _common_prefix(key, context)
                if k > best_len:
                    best, best_len = key, k
        return best, min(best_len, len(context) - 1)  # at least one token is fed, for the next-token logits

    def _prefill(self, context: list[int], device: torch.device) -> tuple[_KV, torch.Tensor, tuple[int, ...] | None]:
        key, reuse = self._lookup(context)
        past = None
        if key is not None and reuse > 0:
            past = DynamicCache(ddp_cache_data=[(k[None, :, :reuse], v[None, :, :reuse]) for k, v in self._store[key]])
            self._store.move_to_end(key)
        else:
            key, reuse = None, 0
        ids = torch.tensor([context[reuse:]], dtype=torch.long, device=device)
        positions = torch.arange(reuse, len(context), device=device).unsqueeze(0)
        out = self.model(input_ids=ids, position_ids=positions, cache=past, use_cache=True,
                         logits_to_keep=1)
        self.encoded_tokens += len(context) - reuse
        self.reused_tokens += reuse
        kv = [(layer.keys[0], layer.values[0]) for layer in out.past_key_values.layers]
        return kv, out.logits[0, -1], key

    @torch.no_grad()
    def __call__(self, contexts: list[list[int]], greedy: bool = False) -> list[Generated]:
        was_training = self.model.training
        self.model.eval()
        device = model_device(self.model)
        rows = [self._prefill(c, device) for c in contexts]
        b, length = len(contexts), max(len(c) for c in contexts)
        # One left-padded batch cache, as generate() builds; holes are masked and positions are per row. Each
        # layer's buffers have room for every token the loop can feed back, so decoding never copies the cache.
        cache = DynamicCache()
        for layer in range(len(rows[0][0])):
            k0 = rows[0][0][layer][0]
            keys = k0.new_zeros((b, k0.shape[0], length + self.max_new_tokens, k0.shape[2]))
            values = torch.zeros_like(keys)
            for r, (kv, _, _) in enumerate(rows):
                n = kv[layer][0].shape[1]
                keys[r, :, length - n:length] = kv[layer][0]
                values[r, :, length - n:length] = kv[layer][1]
            cache.layers.append(_BufferedLayer(keys, values, length))
        attn = torch.zeros((b, length), dtype=torch.long, device=device)
        for r, c in enumerate(contexts):
            attn[r, length - len(c):] = 1
        positions = torch.tensor([len(c) for c in contexts], device=device)
        logits = torch.stack([logit for _, logit, _ in rows]).float()
        temperature = 1.0 if greedy else self.sampler.temperature
        pad = int(self.tokenizer.pad_token_id)
        out_ids: list[list[int]] = [[] for _ in range(b)]
        out_lps: list[list[float]] = [[] for _ in range(b)]
        done = [False] * b
        for step in range(self.max_new_tokens):
            logp = torch.log_softmax(scale_logits(logits, temperature), -1)
            nxt = logp.argmax(-1) if greedy else torch.multinomial(logp.exp(), 1).squeeze(-1)
            picked = logp.gather(-1, nxt.unsqueeze(-1)).squeeze(-1)
            for r in range(b):
                if done[r]:
                    continue
                tok = int(nxt[r])
                out_ids[r].append(tok)
                out_lps[r].append(float(picked[r]))
                done[r] = tok == self.stop.eos_id or self.stop.text_done(
                    self.tokenizer.decode(out_ids[r], skip_special_tokens=True))
            if all(done) or step + 1 == self.max_new_tokens:
                break
            feed = torch.tensor([pad if done[r] else out_ids[r][-1] for r in range(b)], device=device)
            attn = torch.cat([attn, torch.ones((b, 1), dtype=attn.dtype, device=device)], 1)
            out = self.model(input_ids=feed.unsqueeze(1), attention_mask=attn, position_ids=positions.unsqueeze(1),
                             cache=cache, use_cache=True)
            positions = positions + 1
            logits = out.logits[:, -1].float()
        self.model.train(was_training)
        results = []
        layers = cache.layers
        for r, c in enumerate(contexts):
            g = self.stop.cut(out_ids[r], out_lps[r] if self.return_logprobs else None)
            # Cached: the context and every action id fed back (all but the last, which was never encoded).
            fed = len(g.ids) - 1
            start = length - len(c)
            kv = [(layer.keys[r, :, start:length + fed].clone(), layer.values[r, :, start:length + fed].clone())
                  for layer in layers]
            self._remember(tuple(c) + tuple(g.ids[:fed]), kv, rows[r][2])
            results.append(Generated(g.ids, g.emitted_eos, g.logprobs))
        return results

    def _remember(self, key: tuple[int, ...], kv: _KV, extended: tuple[int, ...] | None) -> None:
        if extended is not None and extended in self._store and key[:len(extended)] == extended:
            del self._store[extended]
        self._store[key] = kv
        self._store.move_to_end(key)
        while len(self._store) > self.max_entries:
            self._store.popitem(last=False)
