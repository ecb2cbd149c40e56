"""Data-parallel training over processes started by ``torchrun`` or ``accelerate launch``.

Every rank holds a full copy of the policy. Rollouts are sharded (each rank plays its slice of the update's env
seeds), gradients of the trainable parameters (LoRA + value head) are summed across ranks after backward — the
losses are normalised by all-rank token counts, so the sum is the single-process gradient of the whole batch —
advantage whitening and early stopping use all-rank statistics, metrics are reduced so every rank logs the same
numbers, and only rank 0 writes files. A single process (no ``WORLD_SIZE``, or 1) takes none of these paths:
every helper here is then the identity.

The process group is initialised from the launcher's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``): gloo for CPU tensors, plus NCCL for CUDA tensors on hosts that have CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.distributed as dist

from steptool_agents.algorithms import returns as advantages

__all__ = [
    "all_reduce_gradients",
    "all_reduce_sum",
    "barrier",
    "broadcast_parameters",
    "init_from_env",
    "is_main",
    "masked_whiten",
    "rank",
    "reduce_metrics",
    "shard",
    "shutdown",
    "world_size",
]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_from_env() -> bool:
    """Join the process group the launcher describes; False (nothing done) for a single process.

    Idempotent: returns True when a group is (already) initialised.
    """
    if _active():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    # Advantages and metrics are CPU tensors (gloo); gradients of a policy on a GPU go through NCCL.
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


def shutdown() -> None:
    """Leave the process group (no-op without one)."""
    if _active():
        dist.destroy_process_group()


def world_size() -> int:
    return dist.get_world_size() if _active() else 1


def rank() -> int:
    return dist.get_rank() if _active() else 0


def is_main() -> bool:
    """Rank 0: the process that writes checkpoints, metrics and the final adapter."""
    return rank() == 0


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum `tensor` over ranks in place and return it (the tensor itself for a single process)."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    """Wait for every rank (a CPU all-reduce, so it goes through gloo whatever devices the host has)."""
    all_reduce_sum(torch.zeros(1))


def broadcast_parameters(params: Iterable[torch.nn.Parameter]) -> None:
    """Copy rank 0's values into every rank's `params` (fresh LoRA weights are drawn per process)."""
    if world_size() > 1:
        with torch.no_grad():
            for p in params:
                dist.broadcast(p.data, src=0)


def all_reduce_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Sum the gradients of `params` over ranks with one flat all-reduce.

    A rank with no sample in a minibatch has no gradients; it contributes zeros. A parameter that no rank
    touched (GRPO's value head) keeps ``grad = None``, so the optimizer skips it as it would in one process.
    """
    params = list(params)
    if world_size() == 1 or not params:
        return
    pieces = [p.grad.flatten() if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
              for p in params]
    present = torch.tensor([p.grad is not None for p in params], dtype=params[0].dtype, device=params[0].device)
    flat = all_reduce_sum(torch.cat([*pieces, present]))
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        if flat[-len(params) + i] > 0:
            p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def shard(total: int, what: str) -> int:
    """This rank's equal share of `total` items; an error names `what` when it does not divide evenly."""
    world = world_size()
    if total % world:
        raise ValueError(f"{what} ({total}) must be divisible by the number of processes ({world})")
    return total // world


def masked_whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`advantages.masked_whiten` with the mean and variance of every rank's masked positions."""
    if world_size() == 1:
        return advantages.masked_whiten(x, mask)
    m = mask.to(x.dtype)
    first = all_reduce_sum(torch.stack([(x * m).sum(), m.sum()]).double())
    n = first[1].clamp(min=1.0)
    mean = (first[0] / n).to(x.dtype)
    sq = all_reduce_sum((((x - mean) ** 2) * m).sum().double().reshape(1))[0]
    var = sq / n
    if first[1] > 1:  # Bessel's correction, as `advantages.masked_var`
        var = var * first[1] / (first[1] - 1)
    return (x - mean) * torch.rsqrt(var.to(x.dtype) + 1e-8) * m


def reduce_metrics(metrics: Mapping[str, float], sum_keys: Iterable[str] = ()) -> dict[str, float]:
    """Metrics averaged over ranks (`sum_keys` summed: token counts, throughput); identical on every rank."""
    if world_size() == 1:
        return dict(metrics)
    keys = sorted(metrics)
    values = all_reduce_sum(torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64))
    summed = set(sum_keys)
    total = dict(zip(keys, values.tolist()))
    return {k: total[k] if k in summed else total[k] / world_size() for k in metrics}
