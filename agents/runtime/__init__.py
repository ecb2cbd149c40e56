"""Run plumbing: data-parallel processes, resumable checkpoints, atomic writes, metric logs."""
