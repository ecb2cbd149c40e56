"""The trainer scores the distribution it samples from (issue 16, item 1).

Each test would have caught one scoring error: the temperature left out of the scorer, actions scored on a different
left cut than they were sampled on, sampler settings inherited from the model's ``generation_config.json``, LoRA
dropout on at training but off at scoring, and the approx-KL early stop applied after the offending step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from steptool_agents.algorithms.steptool_ppo import StepToolPPO  # noqa: E402
from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.sampling import Sampler  # noqa: E402
from steptool_agents.rollout.collect import Generated, HFGenerator, StopCondition  # noqa: E402
from steptool_agents.rollout.envs import env_factory, env_kwargs  # noqa: E402
from steptool_agents.rollout.oracle import episode_texts, oracle_episodes  # noqa: E402
from steptool_agents.rollout.prefix_cache import PrefixKVGenerator  # noqa: E402
from steptool_envs.toy import register_toy_env  # noqa: E402

ENV_ID = register_toy_env()


def _cfg(**ppo) -> TrainConfig:
    return TrainConfig.from_dict({
        "algo": "steptool", "env_id": ENV_ID, "eval_split": "test", "max_steps": 5, "seed": 3, "threads": 1,
        "warm_start_sft": False,
        # A context of 128 with 32 new tokens: every episode outgrows the 96-token sampling window.
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "tokenizer_episodes": 8, "max_context_tokens": 128, "max_prompt_tokens": 40, "lora_r": 4,
                  "lora_dropout": 0.3},
        "rollout": {"num_envs": 2, "episodes_per_update": 4, "max_new_tokens": 32, "temperature": 0.7},
        "ppo": {"updates": 1, "minibatch_size": 64, "n_epochs": 1, "target_approx_kl": None, **ppo},
    })


class Recording:
    """The algorithm's generator, asked for the behaviour log-probs; keeps every (context, action) it produced."""

    def __init__(self, inner: HFGenerator) -> None:
        self.inner = inner
        self.records: list[tuple[list[int], Generated]] = []

    def __call__(self, contexts: list[list[int]], greedy: bool = False) -> list[Generated]:
        outs = self.inner(contexts, greedy=greedy)
        self.records += list(zip(contexts, outs, strict=True))
        return outs


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    cfg = _cfg()
    tok = train_bpe_tokenizer(list(episode_texts(oracle_episodes(ENV_ID, 4, 0), "</s>")), cfg.model.vocab_size)
    path = tmp_path_factory.mktemp("tiny") / "model"
    model = build_tiny_model(cfg.model, tok, seed=0)
    # Sampler fields a model ships with: generation must not inherit them (the scorer never applies them).
    model.generation_config.update(do_sample=True, temperature=1.3, repetition_penalty=1.8, top_k=3, top_p=0.5,
                                  min_p=0.2, no_repeat_ngram_size=2)
    save_base_model(model, tok, path, {"source": "tiny"})
    return path


def _algo(base_dir: Path, cfg: TrainConfig, prefix_cache: bool = False) -> tuple[StepToolPPO, Recording]:
    policy = load_policy(base_dir, cfg.model)
    torch.manual_seed(0)
    stop = StopCondition.from_config(policy.tokenizer, cfg.rollout)
    if prefix_cache:
        gen = PrefixKVGenerator(policy.model, policy.tokenizer, stop, cfg.rollout.max_new_tokens,
                                cfg.rollout.sampler(), return_logprobs=True)
    else:
        gen = HFGenerator(policy.model, policy.tokenizer, stop, cfg.rollout.max_new_tokens,
                          sampler=cfg.rollout.sampler(), return_logprobs=True)
    recording = Recording(gen)
    algo = StepToolPPO(cfg, policy, env_factory(cfg, "train"), env_kwargs=env_kwargs(cfg, "train"),
                       generator=recording)
    return algo, recording


def _row_of(input_ids: torch.Tensor, prefix: list[int]) -> int:
    for row in range(input_ids.shape[0]):
        if input_ids[row, :len(prefix)].tolist() == prefix:
            return row
    raise AssertionError("no scored row starts with the sampling context + action")


@pytest.mark.parametrize("prefix_cache", [False, True])
def test_sampled_logprobs_equal_scored_logprobs_beyond_the_context(base_dir: Path, prefix_cache: bool) -> None:
    cfg = _cfg()
    algo, recording = _algo(base_dir, cfg, prefix_cache)
    try:
        trajs = algo.collect_rollouts()
        budget = cfg.model.max_context_tokens - cfg.rollout.max_new_tokens
        assert any(len(t.tokens) > cfg.model.max_context_tokens for t in trajs)
        assert any(s > 0 for t in trajs for s in t.context_starts)  # actions sampled on a moved left cut
        batch, _ = algo.compute_advantages(trajs)
        assert int(batch.action_mask.sum()) == sum(sum(t.action_mask) for t in trajs)  # every action token once
        worst = 0.0
        for context, g in recording.records:
            assert len(context) <= budget and g.logprobs is not None
            row = _row_of(batch.input_ids, context + g.ids)
            scored = batch.old_logprobs[row, len(context) - 1:len(context) - 1 + len(g.ids)]
            worst = max(worst, float((scored - torch.tensor(g.logprobs)).abs().max()))
        assert worst < 1e-4
    finally:
        algo.close()


@pytest.mark.parametrize("minibatch_size", [64, 1])  # 1: every row scored and trained cut to its own length
def test_first_epoch_ratio_is_one_with_temperature_dropout_and_long_trajectories(base_dir: Path,
                                                                                 minibatch_size: int) -> None:
    cfg = _cfg(minibatch_size=minibatch_size)
    algo, _ = _algo(base_dir, cfg)
    try:
        trajs = algo.collect_rollouts()
        batch, _ = algo.compute_advantages(trajs)

        def real(ids: torch.Tensor, attn: torch.Tensor) -> tuple[int, ...]:
            return tuple(ids[attn.bool()].tolist())

        old = {real(batch.input_ids[r], batch.attention_mask[r]): batch.old_logprobs[r]
               for r in range(batch.input_ids.shape[0])}
        seen: list[float] = []
        score = algo.policy.token_logprobs

        def spy(input_ids, attention_mask, position_ids, mask=None, temperature=1.0):
            out = score(input_ids, attention_mask, position_ids, mask, temperature=temperature)
            if torch.is_grad_enabled():  # the loss's forward pass (not the no-grad scoring)
                for r in range(input_ids.shape[0]):
                    ref = old[real(input_ids[r].cpu(), attention_mask[r].cpu())][:mask.shape[1]]
                    m = mask[r].bool().cpu()
                    seen.append(float((out[0][r].detach().cpu()[m] - ref[m]).abs().max()))
            return out

        algo.policy.token_logprobs = spy
        stats = algo.train(batch)
        assert seen and max(seen) < 1e-5
        assert stats["clip_frac"] == 0.0
    finally:
        algo.close()


def test_approx_kl_stop_happens_before_the_offending_step(base_dir: Path) -> None:
    cfg = _cfg(n_epochs=3, learning_rate=5e-2, target_approx_kl=1e-9, ent_coef=1.0)  # entropy moves π
    algo, _ = _algo(base_dir, cfg)
    try:
        batch, _ = algo.compute_advantages(algo.collect_rollouts())
        steps = []
        step = algo.optimizer.step
        algo.optimizer.step = lambda *a, **k: (steps.append(1), step(*a, **k))[1]
        before = [p.detach().clone() for p in algo.policy.trainable_parameters()]
        stats = algo.train(batch)
        # epoch 1: ratio 1, KL ≈ 0 → one step; epoch 2: KL past the limit → stop without stepping
        assert stats["early_stop"] == 1.0 and len(steps) == 1
        after_one = [p.detach().clone() for p in algo.policy.trainable_parameters()]
        assert any(not torch.equal(a, b) for a, b in zip(before, after_one, strict=True))
    finally:
        algo.close()


def test_sampler_refuses_settings_it_cannot_score() -> None:
    with pytest.raises(ValueError, match="top_k"):
        Sampler(0.7, top_k=5)
    with pytest.raises(ValueError, match="top_p"):
        TrainConfig.from_dict({"rollout": {"top_p": 0.9}})
    config = Sampler(0.7).generation_config(8, 0, 1)
    assert (config.temperature, config.top_k, config.top_p, config.repetition_penalty, config.min_p) == (
        0.7, 0, 1.0, 1.0, 0.0)


def test_context_keeps_the_function_list_and_cuts_the_middle() -> None:
    from steptool_agents.policy.tokenization import Trajectory

    t = Trajectory()
    t.add_prompt(list(range(100, 110)))  # system prompt + function list + query
    for step in range(4):
        t.add_action([1] * 6, 0.0, context_start=t.context_start(20))
        t.add_prompt([200 + step] * 5)
    ctx = t.context(20)
    assert len(ctx) == 20 and ctx[:10] == list(range(100, 110)) and ctx[10:] == t.tokens[-10:]
    assert t.context(1000) == t.tokens
    short = Trajectory()
    short.add_prompt(list(range(30)))  # a head longer than the budget: a plain left cut
    assert short.context(20) == list(range(10, 30))


def test_length_grouped_batches_cover_every_example_once_with_little_padding() -> None:
    from steptool_agents.algorithms.sft import length_grouped_batches

    lengths = [int(x) for x in torch.randint(50, 1000, (200,), generator=torch.Generator().manual_seed(0))]
    batches = length_grouped_batches(lengths, 4, torch.Generator().manual_seed(1))
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert all(len(b) == 4 for b in batches)

    def padded(bs: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)

    perm = torch.randperm(200, generator=torch.Generator().manual_seed(1)).tolist()
    assert padded(batches) < 0.2 * padded([perm[k:k + 4] for k in range(0, 200, 4)])
    assert batches != length_grouped_batches(lengths, 4, torch.Generator().manual_seed(2))  # still shuffled


def test_prefix_cache_plays_the_same_greedy_episodes_and_reuses_the_context(base_dir: Path) -> None:
    from steptool_agents.policy.prompts import make_format
    from steptool_agents.rollout.collect import collect_episodes

    cfg = _cfg()
    policy = load_policy(base_dir, cfg.model)
    stop = StopCondition.from_config(policy.tokenizer, cfg.rollout)
    fmt = make_format(cfg.model.prompt_format, policy.tokenizer)
    cached = PrefixKVGenerator(policy.model, policy.tokenizer, stop, cfg.rollout.max_new_tokens, cfg.rollout.sampler())
    played = {}
    for name, gen in (("full", HFGenerator(policy.model, policy.tokenizer, stop, cfg.rollout.max_new_tokens,
                                           sampler=cfg.rollout.sampler())), ("cached", cached)):
        envs = env_factory(cfg, "train")(2)
        try:
            trajs = collect_episodes(envs, gen, fmt, policy.tokenizer, 4, [5, 6], cfg.model.max_context_tokens,
                                     cfg.rollout.max_new_tokens, greedy=True,
                                     max_prompt_tokens=cfg.model.max_prompt_tokens)
        finally:
            envs.close()
        played[name] = [(t.task_id, t.tokens) for t in trajs]
    assert played["cached"] == played["full"]
    assert cached.reused_tokens > cached.encoded_tokens  # later turns encode only what is new
