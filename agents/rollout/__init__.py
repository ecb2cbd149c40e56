"""Rollouts: batched generation over Gymnasium vector envs, the run's envs, oracle demonstrations, offline data."""
