"""StepTool-Gym LLM agents (import name ``steptool_agents``): models, rollouts, step-grained PPO and baselines.

Modules (import what you need; torch and transformers load only with the modules that use them):

* `registry` — the algorithms and their traits (no torch); `config` — typed run configuration (TOML/JSON/YAML
  presets in ``configs/``);
* `trainer` — `run_training` and the one run loop; `warmstart` — the base model and its SFT warm start;
  `evaluate` — held-out evaluation; `cli`, `quickstart`, `search_agent` — entry points;
* `policy` — tiny/SmolLM2/HF causal LMs, LoRA `Policy` with a value head (`Policy.token_logprobs`), prompt
  formats, token-in/token-out trajectories, the behaviour distribution (`sampling.Sampler`) and the sampling
  windows actions are scored on (`windows`);
* `rollout` — batched generation and the `Collector` over Gymnasium vector envs, oracle demos, offline data;
* `algorithms` — `base` (the templates), `returns` (estimators), one file per algorithm;
* `runtime` — data-parallel processes, checkpoints, atomic writes, metric logs.

The toy suite of the tests is `steptool_envs.toy`.
"""
