"""Adapters for numeric RL libraries (stable-baselines3, sb3-contrib), as Gymnasium wrappers.

The envs stay text-in/text-out; these wrappers encode around them (MiniGrid's ``wrappers.py`` pattern):

* `EncodeObservation` turns the text observation into a `Dict` of fixed-size arrays: token ids of a
  configurable tokenizer (`HashingTokenizer` and `ByteTokenizer` are built in and need no download), an
  optional hashed bag-of-words vector, the step counter and the previous status;
* `DiscreteToolCalls` maps a ``Discrete(k)`` action to one of the env's ``k`` admissible calls (the task's APIs
  filled with values seen in the query and earlier responses, mixed with decoys — other real entities, other
  tools — in a seeded random order, plus Finish at index 0, which on the synthetic ToolBench answers the fields
  the query asks from the answering calls' responses), adds a per-candidate feature matrix to the observation,
  and exposes ``action_masks()`` for sb3-contrib's ``MaskablePPO`` (what it rules out: `DiscreteToolCalls`).
  On 200 seeded draws of held-out G1/G2 (``test_instruction``, ``test_tool``): the oracle's calls then this
  Finish solve 100%; "first untried candidate, else Finish" and the kitchen-sink answer solve 0% (pass rate
  ≤ 0.3% counting Unsure as 0.5); random valid actions 0–5%; calling untried candidates until the last step
  and then Finish 1–12.5% (`benchmarks/reward_farming.py`);
* `make_sb3_env` stacks both.

The env's ``reward_mode`` passes through unchanged, so step-shaped vs final-only rewards compare the same way
under SB3 as under the LLM trainer (pass the learner's discount as the env's ``gamma`` for ``progress``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from steptool_gym.actions import FINISH, ToolCall
from steptool_gym.env import ToolUseEnv
from steptool_gym.status import Status

__all__ = [
    "ByteTokenizer",
    "DiscreteToolCalls",
    "EncodeObservation",
    "HashingTokenizer",
    "TextTokenizer",
    "make_sb3_env",
]

_WORD = re.compile(r"\w+|[^\w\s]")
_N_STATUS = len(Status)
# Failures a retry of the same call can get past (ToolBench's flaky APIs); any other failure repeats until the
# env's state changes, which only a successful call does.
_TRANSIENT = frozenset((Status.TIMEOUT, Status.API_NOT_WORKING, Status.TOO_MANY_REQUESTS, Status.RATE_LIMIT))


class TextTokenizer(Protocol):
    """What `EncodeObservation` needs: ids in ``[1, vocab_size)`` (0 is padding)."""

    vocab_size: int

    def encode(self, text: str) -> list[int]: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 1..256."""

    vocab_size = 257

    def encode(self, text: str) -> list[int]:
        return [b + 1 for b in text.encode("utf-8", "replace")]


@lru_cache(maxsize=1 << 16)
def _bucket(word: str, size: int) -> int:
    # blake2b, not hash(): Python's string hash is salted per process, which would break determinism.
    return 1 + int.from_bytes(hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=4).digest(), "little") % (
        size - 1)


class HashingTokenizer:
    """Lower-cased words and punctuation hashed into `vocab_size` buckets (stable across processes)."""

    def __init__(self, vocab_size: int = 4096) -> None:
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2; got {vocab_size}")
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        size = self.vocab_size
        return [_bucket(w, size) for w in _WORD.findall(text.lower())]


def _bag(ids: Sequence[int], dim: int) -> np.ndarray:
    """log(1 + count) of ids hashed into `dim` buckets."""
    if not ids:
        return np.zeros(dim, dtype=np.float32)
    return np.log1p(np.bincount(np.asarray(ids) % dim, minlength=dim).astype(np.float32))


class EncodeObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Text observation → ``Dict(tokens, step, prev_status[, bow])``, valid under SB3's ``check_env``.

    `context` picks the text encoded: ``"observation"`` (the latest observation), ``"query+observation"``
    (the user query, then the latest observation; default) or ``"conversation"`` (the query and every tool
    response so far, keeping the most recent tokens). `bow_dim > 0` adds a hashed bag-of-words vector, which
    MLP policies learn from far more easily than raw ids; ``token_ids=False`` drops the ids (an MLP would read
    them as unnormalised magnitudes — keep them for an embedding feature extractor).
    """

    def __init__(self, env: gym.Env, tokenizer: TextTokenizer | None = None, max_tokens: int = 256,
                 context: str = "query+observation", bow_dim: int = 256, token_ids: bool = True) -> None:
        # Recorded so `env.spec.make()` rebuilds the wrapped env (Gymnasium's check_env does).
        gym.utils.RecordConstructorArgs.__init__(self, tokenizer=tokenizer, max_tokens=max_tokens, context=context,
                                                 bow_dim=bow_dim, token_ids=token_ids)
        super().__init__(env)
        if context not in ("observation", "query+observation", "conversation"):
            raise ValueError(f"context must be observation, query+observation or conversation; got {context!r}")
        if max_tokens < 1 or bow_dim < 0:
            raise ValueError("max_tokens must be >= 1 and bow_dim >= 0")
        if not token_ids and not bow_dim:
            raise ValueError("token_ids=False needs bow_dim > 0, or the text is not encoded at all")
        self.token_ids = token_ids
        self.tokenizer = tokenizer or HashingTokenizer()
        self.max_tokens, self.context, self.bow_dim = max_tokens, context, bow_dim
        base = self._base
        obs_spaces: dict[str, spaces.Space] = {
            "step": spaces.Box(0, base.max_steps, (1,), np.int64),
            "prev_status": spaces.Discrete(_N_STATUS),
        }
        if token_ids:
            obs_spaces["tokens"] = spaces.Box(0, self.tokenizer.vocab_size - 1, (max_tokens,), np.int64)
        if bow_dim:
            obs_spaces["bow"] = spaces.Box(0.0, np.inf, (bow_dim,), np.float32)
        self.observation_space = spaces.Dict(obs_spaces)
        self._query_ids: list[int] = []
        self._history_ids: list[int] = []

    @property
    def _base(self) -> ToolUseEnv:
        base = self.env.unwrapped
        if not isinstance(base, ToolUseEnv):
            raise TypeError("EncodeObservation wraps StepTool-Gym envs (ToolUseEnv)")
        return base

    def _encode(self, text: str, status: int) -> dict[str, np.ndarray]:
        ids = self.tokenizer.encode(text)
        if self.context == "observation":
            seq = ids
        elif self.context == "query+observation":
            seq = self._query_ids[: self.max_tokens // 2] + ids
        else:
            self._history_ids.extend(ids)
            seq = self._query_ids[: self.max_tokens // 2] + self._history_ids[-(self.max_tokens // 2):]
        seq = seq[: self.max_tokens]
        out = {
            "step": np.array([min(len(self._base.history), self._base.max_steps)], dtype=np.int64),
            "prev_status": np.int64(status),
        }
        if self.token_ids:
            tokens = np.zeros(self.max_tokens, dtype=np.int64)
            tokens[: len(seq)] = seq
            out["tokens"] = tokens
        if self.bow_dim:
            out["bow"] = _bag(seq, self.bow_dim)
        return out

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        _, info = self.env.reset(**kwargs)
        self._query_ids = self.tokenizer.encode(self._base.task.query)
        self._history_ids = []
        # The reset observation is the system prompt: only the query part is informative to a small policy.
        return self._encode("", int(Status.OK)), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._encode(obs, int(info["status"])), reward, terminated, truncated, info


class DiscreteToolCalls(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``Discrete(max_candidates)`` over the env's admissible calls, with an action mask.

    Needs a Dict observation (wrap `EncodeObservation` first). Adds ``"candidates"``: a
    flattened ``(max_candidates, feature_dim + 4)`` float matrix describing each slot (hashed bag-of-words of the call's
    name and arguments, and flags: is Finish, already called, argument values seen in the query, in the
    latest response), zeros for empty slots. Choosing an empty slot sends an invalid call (status 1), so an
    unmasked policy learns the cost of it.

    The action mask (``action_masks()``, also ``obs["action_mask"]``) rules out what the env would refuse or
    what cannot change anything, judged only from what the agent has been shown (the function list, statuses):

    * an empty slot;
    * a call of a function that is not in the task's function list (the env answers "No such function");
    * a repeat of a call that failed with a non-transient status since the last successful call: no state has
      changed since, so it fails again (timeouts, rate limits and "API not working" stay: a retry can succeed);
    * Finish before any successful call, when `finish_after_success` (default): its answer would rest on no
      tool response (set False for suites where answering without a call can be right, e.g. some τ² tasks).

    It never uses the gold calls: which valid call is right is left to the policy. If nothing else is valid,
    Finish is.
    """

    def __init__(self, env: gym.Env, max_candidates: int = 16, feature_dim: int = 32,
                 finish_after_success: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, max_candidates=max_candidates, feature_dim=feature_dim,
                                                 finish_after_success=finish_after_success)
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise TypeError("DiscreteToolCalls needs a Dict observation; wrap with EncodeObservation first")
        if max_candidates < 2 or feature_dim < 1:
            raise ValueError("max_candidates must be >= 2 and feature_dim >= 1")
        self.max_candidates, self.feature_dim = max_candidates, feature_dim
        self.finish_after_success = finish_after_success
        self.action_space = spaces.Discrete(max_candidates)
        width = feature_dim + 4
        self.observation_space = spaces.Dict({
            **env.observation_space.spaces,
            "candidates": spaces.Box(0.0, np.inf, (max_candidates * width,), np.float32),
            "action_mask": spaces.Box(0, 1, (max_candidates,), np.int8),
        })
        self._hasher = HashingTokenizer(1 << 12)
        self._candidates: list[ToolCall] = []
        self._mask = np.zeros(max_candidates, dtype=bool)
        self._feature_cache: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    @property
    def candidates(self) -> list[ToolCall]:
        """The calls behind each action index for the current step."""
        return list(self._candidates)

    def action_masks(self) -> np.ndarray:
        """Valid action indices (see the class docstring; sb3-contrib's MaskablePPO calls this)."""
        return self._mask.copy()

    def _valid(self, base: ToolUseEnv) -> np.ndarray:
        available = {schema["name"] for schema in base.tools}
        futile: set[tuple[str, str]] = set()  # calls that failed for good since the last success
        succeeded = False
        for record in reversed(base.history):
            if record.call is None:
                continue
            if record.status == Status.OK:
                succeeded = True
                break
            if record.status not in _TRANSIENT:
                futile.add(_call_key(record.call))
        mask = np.zeros(self.max_candidates, dtype=bool)
        for i, call in enumerate(self._candidates):
            if call.is_finish:
                mask[i] = succeeded or not self.finish_after_success
            else:
                mask[i] = call.name in available and _call_key(call) not in futile
        if not mask.any():
            mask[[i for i, c in enumerate(self._candidates) if c.is_finish][:1]] = True
        return mask

    def _refresh(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        base: ToolUseEnv = self.env.unwrapped  # type: ignore[assignment]
        calls = info.get("admissible_calls")
        if calls is None:
            calls = base.admissible_calls(self.max_candidates) if not base.done else []
        # Finish first: a fixed slot for "answer now" is far easier for a flat policy to learn than a moving one.
        calls = sorted(calls, key=lambda c: not c.is_finish)
        self._candidates = calls[: self.max_candidates]
        query = base.task.query.lower()
        last = base.history[-1].observation.lower() if base.history else ""
        called = {rec.call.name for rec in base.history if rec.call is not None}
        feats = np.zeros((self.max_candidates, self.feature_dim + 4), dtype=np.float32)
        for i, call in enumerate(self._candidates):
            values = [str(v).lower() for v in call.arguments.values() if not isinstance(v, dict | list)]
            feats[i, : self.feature_dim] = self._call_features(call.name, tuple(values) if not call.is_finish else ())
            feats[i, self.feature_dim:] = (
                float(call.is_finish),
                float(call.name in called),
                float(bool(values) and any(v in query for v in values)),
                float(bool(values) and any(v in last for v in values)),
            )
        self._mask = self._valid(base)
        out = dict(obs)
        out["candidates"] = feats.reshape(-1)  # SB3's MLP extractors expect 1-D vectors
        out["action_mask"] = self._mask.astype(np.int8)
        return out

    def _call_features(self, name: str, values: tuple[str, ...]) -> np.ndarray:
        # Candidates recur from step to step within an episode: featurise each (name, values) once.
        key = (name, values)
        vec = self._feature_cache.get(key)
        if vec is None:
            text = "finish" if name == FINISH else name.replace("_", " ") + " " + " ".join(values)
            if len(self._feature_cache) > 4096:
                self._feature_cache.clear()
            vec = self._feature_cache[key] = _bag(self._hasher.encode(text), self.feature_dim)
        return vec

    def reset(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._refresh(obs, info), info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        index = int(action)
        call = self._candidates[index] if 0 <= index < len(self._candidates) else ToolCall(f"invalid_action_{index}")
        obs, reward, terminated, truncated, info = self.env.step(call)
        info["tool_call"] = call
        if terminated or truncated:
            self._candidates = []
            self._mask = np.zeros(self.max_candidates, dtype=bool)
            return self._refresh_done(obs), reward, terminated, truncated, info
        return self._refresh(obs, info), reward, terminated, truncated, info

    def _refresh_done(self, obs: dict[str, Any]) -> dict[str, Any]:
        out = dict(obs)
        out["candidates"] = np.zeros(self.observation_space["candidates"].shape, dtype=np.float32)
        out["action_mask"] = np.zeros(self.max_candidates, dtype=np.int8)
        return out


def _call_key(call: ToolCall) -> tuple[str, str]:
    return call.name, repr(sorted((k, repr(v)) for k, v in call.arguments.items()))


def make_sb3_env(env_id: str, *, max_candidates: int = 16, tokenizer: TextTokenizer | None = None,
                 max_tokens: int = 128, bow_dim: int = 256, context: str = "query+observation",
                 token_ids: bool = False, wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
                 **kwargs: Any) -> gym.Env:
    """``gym.make(env_id, **kwargs)`` wrapped for SB3: `EncodeObservation` then `DiscreteToolCalls`.

    Raw token ids are off by default because SB3's MLP extractors read them as magnitudes; the hashed
    bag-of-words carries the text.
    """
    env = gym.make(env_id, **kwargs)
    for wrap in wrappers:
        env = wrap(env)
    env = EncodeObservation(env, tokenizer=tokenizer, max_tokens=max_tokens, context=context, bow_dim=bow_dim,
                            token_ids=token_ids)
    return DiscreteToolCalls(env, max_candidates=max_candidates)
