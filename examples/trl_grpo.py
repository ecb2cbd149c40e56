"""GRPO on a StepTool env with TRL's GRPOTrainer (environment_factory); needs the trl extra and a local model.

    python examples/trl_grpo.py --model DIR [--env StepTool-ToolBench-G1-v0] [--steps 50] [--vllm]
    accelerate launch --num_processes 4 examples/trl_grpo.py --model DIR --vllm      # multi-GPU

DIR is a local HF causal LM whose chat template can call tools and that TRL can parse (Qwen2.5/Qwen3, Llama 3.1+,
...): nothing is downloaded. Each rollout plays one task; `--reward` picks what get_reward() returns (the episode
return by default); the per-step rewards are logged as extra reward columns with weight 0.
"""

import argparse

from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

from steptool_gym.integrations.trl import (
    episode_return,
    final_step_reward,
    make_environment_factory,
    solved,
    task_dataset,
)

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True, help="local HF model directory")
parser.add_argument("--env", default="StepTool-ToolBench-G1-v0")
parser.add_argument("--split", default="train")
parser.add_argument("--tasks", type=int, default=None, help="first N tasks of the split (default: all)")
parser.add_argument("--reward", default="return", choices=("return", "final", "solved"))
parser.add_argument("--steps", type=int, default=50)
parser.add_argument("--generations", type=int, default=8)
parser.add_argument("--vllm", action="store_true", help="vLLM rollouts (colocated), for GPUs")
parser.add_argument("--out", default="runs/trl_grpo")
args = parser.parse_args()

env_kwargs = {"split": args.split, "max_steps": 8}
Env = make_environment_factory(args.env, reward=args.reward, **env_kwargs)
dataset = task_dataset(args.env, limit=args.tasks, **env_kwargs)
tokenizer = AutoTokenizer.from_pretrained(args.model)
tokenizer.padding_side = "left"
model = AutoModelForCausalLM.from_pretrained(args.model)
config = GRPOConfig(output_dir=args.out, max_steps=args.steps, num_generations=args.generations,
                    per_device_train_batch_size=args.generations, max_completion_length=2048,
                    max_tool_calling_iterations=env_kwargs["max_steps"], logging_steps=1, report_to="none",
                    use_vllm=args.vllm, vllm_mode="colocate", reward_weights=[0.0, 0.0, 0.0])
# the reward_funcs are only logged (weight 0); TRL adds the env's get_reward() as the optimised reward (weight 1)
trainer = GRPOTrainer(model, args=config, train_dataset=dataset, processing_class=tokenizer, environment_factory=Env,
                      reward_funcs=[solved, episode_return, final_step_reward])
trainer.train()
trainer.save_model(args.out)
