"""The policy: causal LMs (tiny/SmolLM2/HF) with LoRA and a value head, prompt formats, token-level trajectories."""
