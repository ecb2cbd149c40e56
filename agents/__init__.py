"""StepTool-Gym LLM agents (import name ``steptool_agents``): models, rollouts and step-grained PPO.

Modules (import what you need; torch and transformers load only with the modules that use them):

* `config` — typed run configuration (TOML/JSON/YAML presets in ``configs/``);
* `models` — tiny/SmolLM2/HF causal LMs, LoRA `Policy` with a value head, reference = adapter disabled;
* `prompts`, `tokenization` — prompt formats and token-in/token-out trajectories with action masks;
* `rollout` — batched generation over a Gymnasium vector env;
* `advantages`, `ppo` — step-grained GAE and its ablations, the PPO/GRPO trainer;
* `sft`, `offline` — oracle demonstrations, SFT/RFT, the official StepTool data formats;
* `checkpoint`, `metrics`, `train`, `cli`, `quickstart` — runs, resumable checkpoints, logs, entry points;
* `toy` — a two-call suite for fast tests.
"""
