"""TRL 1.16's GRPOTrainer plays our env through `environment_factory`: a real two-step GRPO run on the CPU.

The model is a tiny random-init Qwen2 with a byte-level BPE tokenizer trained here on the env's text and TRL's own
Qwen3 chat template (so TRL's tool-call parser applies); nothing is downloaded. A few dozen SFT steps on the oracle's
conversation (rendered by that template) teach it to emit tool calls, so GRPO's rollouts really call the env.
"""

from __future__ import annotations

import os

import gymnasium as gym
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

import steptool_gym  # noqa: E402,F401
from steptool_gym.integrations.trl import (  # noqa: E402
    episode_return,
    final_step_reward,
    make_environment_factory,
    solved,
    task_dataset,
)

ENV_ID = "StepTool-ToolBench-G1-v0"
KW = {"split": "train", "max_steps": 4}


def _tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1200, special_tokens=specials, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    out = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=specials[1:], clean_up_tokenization_spaces=False)
    out.chat_template = qwen3_chat_template
    out.padding_side = "left"
    return out


def _oracle_conversation(env_cls, row) -> list[dict]:
    """The oracle's episode as TRL's chat messages (user prompt + reset text, tool calls, tool results)."""
    env = env_cls()
    messages = [{"role": "user", "content": row["prompt"][0]["content"] + env.reset(**row)}]
    gym_env = gym.make(ENV_ID, **KW)
    gym_env.reset(options={"task_id": row["task_id"]})
    while True:
        call = gym_env.unwrapped.oracle_action()
        if call.is_finish:
            name, args = "finish", {"final_answer": call.arguments["final_answer"]}
            result = env.finish(**args)
        else:
            name, args = "call_function", {"name": call.name, "arguments": call.arguments}
            result = env.call_function(**args)
        messages.append({"role": "assistant", "content": "",
                         "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]})
        messages.append({"role": "tool", "name": name, "content": result})
        gym_env.step(call)
        if env.done:
            return messages


def _assistant_labels(tokenizer, probe, conversation, tools) -> tuple[list[int], list[int]]:
    """Token ids of the rendered conversation and labels that keep only the assistant turns."""
    def n_tokens(messages, prompt):
        text = probe.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=prompt)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    ids = tokenizer(probe.apply_chat_template(conversation, tools=tools, tokenize=False),
                    add_special_tokens=False)["input_ids"]
    labels = [-100] * len(ids)
    for k, message in enumerate(conversation):
        if message["role"] == "assistant":
            start, end = n_tokens(conversation[:k], True), n_tokens(conversation[: k + 1], False)
            labels[start:end] = ids[start:end]
    return ids, labels


def test_grpo_trainer_plays_the_env(tmp_path, one_thread):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    torch.manual_seed(0)
    env_cls = make_environment_factory(ENV_ID, **KW)
    dataset = task_dataset(ENV_ID, limit=1, **KW)
    conversation = _oracle_conversation(env_cls, dataset[0])
    probe = _tokenizer(["x"])  # the template's text, for the real tokenizer's training corpus
    probe_env = env_cls()
    tools = [probe_env.call_function, probe_env.finish, probe_env.give_up]
    tokenizer = _tokenizer([probe.apply_chat_template(conversation, tools=tools, tokenize=False)] * 4)
    model = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=4096, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))

    # Teach the random model the oracle conversation's format (tool-call syntax, function names) before GRPO.
    ids, labels = (torch.tensor([x]) for x in _assistant_labels(tokenizer, probe, conversation, tools))
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = model(input_ids=ids, labels=labels).loss
        optim.zero_grad()
        loss.backward()
        optim.step()

    args = GRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=256, max_tool_calling_iterations=4, learning_rate=1e-4,
                      logging_steps=1, report_to="none", use_cpu=True, bf16=False, temperature=0.7, seed=0,
                      save_strategy="no", disable_tqdm=True, reward_weights=[0.0, 0.0, 0.0])
    trainer = GRPOTrainer(model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          environment_factory=env_cls, reward_funcs=[solved, episode_return, final_step_reward])
    trainer.train()
    assert trainer.state.global_step == 2

    envs = trainer._environment_pool[None]
    played = [env for env in envs if env.actions]
    assert played, "no rollout called the env"
    assert any(env.done for env in played), "no rollout finished its episode through TRL's tool loop"
    for env in played:  # every step TRL played got the gym env's own reward
        gym_env = gym.make(ENV_ID, **KW)
        gym_env.reset(options={"task_id": env.task_id})
        expected = [float(gym_env.step(action)[1]) for action in env.actions]
        assert env.step_rewards == pytest.approx(expected)
        assert env.get_reward() == pytest.approx(sum(expected))
    column = f"rewards/{env_cls.__name__}/mean"
    for row in trainer.state.log_history:  # the optimised reward is the env's get_reward(); the others weigh 0
        if column in row:
            assert row["reward"] == pytest.approx(row[column])
    logged = {key for row in trainer.state.log_history for key in row}
    assert f"rewards/{env_cls.__name__}/mean" in logged and "rewards/episode_return/mean" in logged
    assert any(row.get("tools/call_frequency", 0) > 0 for row in trainer.state.log_history)
