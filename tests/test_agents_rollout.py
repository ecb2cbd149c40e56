"""The rollout loop with a scripted `generate`: autoreset, episode quota, exact token bookkeeping, rewards."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from steptool_agents.policy.models import train_bpe_tokenizer
from steptool_agents.policy.prompts import ReActFormat
from steptool_agents.policy.tokenization import encode
from steptool_agents.rollout.collect import Generated, collect_episodes, make_vector_env
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes
from steptool_envs.toy import _gold, register_toy_env

ENV_ID = register_toy_env()


@pytest.fixture(scope="module")
def tok():
    return train_bpe_tokenizer(episode_texts(oracle_episodes(ENV_ID, 10, 0), "</s>"), 600)


class OracleScript:
    """Reads the query and the number of tool turns from the context; answers with the gold call's tokens."""

    def __init__(self, tok, emit_eos: bool) -> None:
        self.tok = tok
        self.emit_eos = emit_eos
        self.calls: list[list[list[int]]] = []
        self.outputs: list[list[int]] = []

    def __call__(self, contexts, greedy=False):
        self.calls.append(contexts)
        out = []
        for ctx in contexts:
            text = self.tok.decode(ctx)
            city = re.findall(r"temperature in (\w+)", text)[-1]
            step = text.count("\nFunction:")
            ids = encode(self.tok, _gold(city)[step].to_react())
            if self.emit_eos:
                ids = ids + [self.tok.eos_token_id]
            self.outputs.append(ids)
            out.append(Generated(ids, self.emit_eos))
        return out


@pytest.mark.parametrize(("emit_eos", "asynchronous"), [(True, False), (False, False), (False, True)])
def test_scripted_oracle_rollout_solves_and_books_tokens(tok, emit_eos: bool, asynchronous: bool) -> None:
    envs = make_vector_env(ENV_ID, 2, asynchronous=asynchronous, split="train", max_steps=5, reward_mode="step")
    script = OracleScript(tok, emit_eos)
    trajs = collect_episodes(envs, script, ReActFormat(tok.eos_token), tok, episodes=5, seeds=[3, 4],
                             max_context_tokens=4096, max_new_tokens=64)
    envs.close()
    assert len(trajs) == 5  # quota larger than num_envs: autoreset episodes were started and finished
    for t in trajs:
        assert t.is_solved == 1.0 and t.terminated
        assert t.num_steps == 3 and t.finals == [False, False, True]
        assert t.rewards == pytest.approx([1.0, 1.0, 1.0])  # (SC + Con/5)/2 = 1 for gold calls, IsSolved = 1
        assert t.tool_calls == 2 and t.gold_calls == 2
        assert t.tokens[0] == tok.bos_token_id and t.tokens.count(tok.bos_token_id) == 1
        # action tokens are exactly the scripted ids, in order, and nothing else is masked as action
        actions, cur = [], []
        for tok_id, m in zip(t.tokens, t.action_mask, strict=True):
            if m:
                cur.append(tok_id)
            elif cur:
                actions.append(cur)
                cur = []
        actions.append(cur)
        assert all(a in script.outputs for a in actions) and len(actions) == 3
        # EOS appears once per action either way (sampled, or supplied by the template as prompt)
        assert t.tokens.count(tok.eos_token_id) == 2 + emit_eos
    # 5 episodes × 3 steps = 15 actions generated, no generation for autoreset steps
    assert sum(len(c) for c in script.calls) == 15


def test_rollout_truncation_autoreset_and_context_budget(tok) -> None:
    envs = make_vector_env(ENV_ID, 3, split="train", max_steps=2)
    seen: list[int] = []
    garbage = encode(tok, "Thought: hmm")

    def generate(contexts, greedy=False):
        seen.extend(len(c) for c in contexts)
        return [Generated(list(garbage), False) for _ in contexts]

    trajs = collect_episodes(envs, generate, ReActFormat(tok.eos_token), tok, episodes=4, seeds=7,
                             max_context_tokens=200, max_new_tokens=50)
    envs.close()
    assert len(trajs) == 4
    assert all(t.num_steps == 2 and not t.terminated and t.is_solved == 0.0 for t in trajs)
    assert all(r == 0.0 for t in trajs for r in t.rewards)  # unparseable actions score 0
    assert max(seen) <= 150  # contexts are left-truncated to max_context_tokens - max_new_tokens


def test_async_rollouts_equal_sync_rollouts(tok) -> None:
    runs = []
    for asynchronous in (False, True):
        envs = make_vector_env(ENV_ID, 3, asynchronous=asynchronous, split="train", max_steps=5)
        trajs = collect_episodes(envs, OracleScript(tok, True), ReActFormat(tok.eos_token), tok, episodes=7,
                                 seeds=[11, 12, 13], max_context_tokens=4096, max_new_tokens=64)
        envs.close()
        runs.append(sorted((t.task_id, t.tokens, t.action_mask, t.rewards, t.state_keys) for t in trajs))
    assert runs[0] == runs[1] and runs[0][0][0]  # task ids come back from the worker processes too
