"""StepTool-Gym LLM agents (import name ``steptool_agents``): models, rollouts and step-grained PPO."""
