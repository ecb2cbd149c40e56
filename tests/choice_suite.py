"""A learnable two-step choice task for RL learning tests (``ChoiceToy-v0``).

One question (four phrasings in ``train``, a fifth in ``test``: "How much is ACME stock right now?") and two
tools that both answer it: ``fresh_quote`` earns the reward (Con 5, and Finish is solved only after it) and
``stale_quote`` does not (SC 1, Con 0). Each phrasing is two tasks, and the oracle of one of them uses the stale
tool, so behaviour cloning on oracle demos learns a coin flip between the tools; only the reward can tell them
apart. Returns: 2.0 with the fresh tool (1.0 + a solved Finish), 0.5 with the stale one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from steptool_gym import API, FINISH, Catalog, Parameter, PythonBackend, Task, ToolCall, ToolUseEnv, Verdict
from steptool_gym.backends import CallContext, CallResult

CHOICE_ENV_ID = "ChoiceToy-v0"
QUERIES = {"train": ("What is the price of ACME stock?", "Tell me the ACME stock price.",
                     "What does ACME stock trade at?", "Give me the current ACME share price."),
           "test": ("How much is ACME stock right now?",)}

_FRESH = API("Stock", "quotes", "fresh_quote", "Latest price of a ticker",
             required_parameters=(Parameter("ticker", "STRING", "ticker symbol"),))
_STALE = API("Stock", "archive", "stale_quote", "Archived price of a ticker",
             required_parameters=(Parameter("ticker", "STRING", "ticker symbol"),))


def _quote(args: Any, ctx: CallContext) -> dict[str, Any]:
    return {"ticker": str(args["ticker"]), "price": 42}


def _demo(api: API) -> list[ToolCall]:
    return [ToolCall(api.name, {"ticker": "ACME"}, "Look the price up."),
            ToolCall(FINISH, {"return_type": "give_answer", "final_answer": "ACME trades at 42."}, "Done.")]


class _Judge:
    def start(self, task: Task) -> dict[str, Any]:
        return {"fresh": False, "calls": 0}

    def judge_call(self, task: Task, state: dict[str, Any], call: ToolCall, result: CallResult) -> Verdict:
        state["calls"] += 1
        fresh = call.name == _FRESH.name and result.ok and call.arguments.get("ticker") == "ACME"
        state["fresh"] |= fresh
        return Verdict(1.0 if result.ok else 0.0, 5.0 if fresh else 0.0, fresh)

    def judge_finish(self, task: Task, state: dict[str, Any], call: ToolCall) -> float:
        return 1.0 if state["fresh"] and "42" in str(call.arguments.get("final_answer", "")) else 0.0


class ChoiceSuite:
    def __init__(self, split: str = "train") -> None:
        if split not in QUERIES:
            raise ValueError(f"split must be one of {sorted(QUERIES)}; got {split!r}")
        self.name = "choice"
        self.catalog = Catalog([_FRESH, _STALE])
        self.backend = PythonBackend({_FRESH.name: _quote, _STALE.name: _quote})
        self.judge = _Judge()
        self.tasks = [Task(f"choice-{split}-{i}-{api.api_name}", query, (_FRESH.name, _STALE.name), "G1", split,
                           _demo(api)) for i, query in enumerate(QUERIES[split]) for api in (_FRESH, _STALE)]

    def oracle_action(self, task: Task, state: dict[str, Any]) -> ToolCall:
        return task.gold[min(state["calls"], 1)]

    def state_key(self, task: Task, state: dict[str, Any]) -> str:
        return f"{int(state['fresh'])}:{state['calls']}"


def make_choice_env(split: str = "train", group: str | None = None, **kwargs: Any) -> ToolUseEnv:
    """`ToolUseEnv` over `ChoiceSuite` (`group` is accepted for signature parity and ignored)."""
    return ToolUseEnv(ChoiceSuite(split), **kwargs)


def register_choice_env() -> str:
    if CHOICE_ENV_ID not in gym.registry:
        gym.register(id=CHOICE_ENV_ID, entry_point=make_choice_env)
    return CHOICE_ENV_ID


def choice_config(algo: str, sft_episodes: int = 16, eval_split: str = "train", **sections: dict[str, Any]) -> Any:
    """The learning tests' run on this task: a 2-layer tiny model, SFT warm start, 4 envs × 16 episodes per
    update; `sections` (``ppo=``, ``archer=``, ``gigpo=`` …) are the algorithm's own settings."""
    from steptool_agents.config import TrainConfig

    return TrainConfig.from_dict({
        "algo": algo, "env_id": register_choice_env(), "eval_split": eval_split, "max_steps": 3, "seed": 0,
        "checkpoint_every": 100, "warm_start_sft": True, "threads": 1,
        "model": {"vocab_size": 400, "hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128,
                  "tokenizer_episodes": 16, "max_context_tokens": 384, "max_prompt_tokens": 32, "lora_r": 8},
        "sft": {"episodes": sft_episodes, "epochs": 40, "batch_size": 4, "learning_rate": 1e-2},
        "rollout": {"num_envs": 4, "episodes_per_update": 16, "max_new_tokens": 48},
        **sections,
    })


def sampled_eval(policy: Any, cfg: Any, split: str = "train") -> dict[str, Any]:
    """Pass rate and return of 64 sampled episodes with a fixed sampling seed (before/after comparisons)."""
    import torch

    from steptool_agents.evaluate import evaluate_policy

    torch.manual_seed(123)
    return evaluate_policy(policy, cfg, split, 64, seed=999, greedy=False)
