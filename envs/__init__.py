"""StepTool-Gym task suites (import name ``steptool_envs``): tool catalogs, backends and task sets."""
