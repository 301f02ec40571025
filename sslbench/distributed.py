"""torch.distributed for one cell on many processes: set-up, sharding, gathers with gradients.

``torchrun --nproc_per_node=N -m sslbench run CONFIG`` starts N processes with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set; :func:`init_from_env` joins them (gloo
on CPU, NCCL on GPU). Every rank walks the same grid; each trains on its slice of
every global batch inside ``DistributedDataParallel``; rank 0 alone evaluates and
writes rows, checkpoints and reports.

What DDP and the training loop already do for a task: each rank gets its share of the
global batch, parameter gradients are averaged over ranks, every BatchNorm layer of the
task (encoder and heads) is converted by :func:`sync_batchnorm` so that batch
statistics span the global batch, and the logged loss is averaged over ranks (extra
logs are rank 0's, from its share of the batch).
A plain per-sample mean loss is therefore already the one-process loss of the global
batch. Plugins need this module only where a loss couples samples or averages over a
varying count: :func:`gather_with_grad`, so that contrastive losses (or a batch
cross-correlation, as in Barlow Twins) see every rank's samples, and :func:`global_mean`
for losses averaged over a varying number of positions (masked tokens, masked frames).
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that evaluates, writes and reports (rank 0)."""
    return rank() == 0


def init_from_env(device: torch.device) -> bool:
    """Join the process group torchrun describes in the environment, if any.

    Returns True when running distributed. gloo on CPU, NCCL on CUDA (each process
    takes GPU ``LOCAL_RANK``).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return is_distributed()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=dt.timedelta(minutes=30))
    return True


def local_device(device: torch.device) -> torch.device:
    """The device this rank uses: its own GPU under NCCL, else ``device``."""
    if device.type == "cuda" and is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def shutdown(wait: bool = True) -> None:
    """Leave the process group, by default once every rank is done (no-op when not distributed).

    The barrier matters: a gloo rank that destroys its group while a peer is still
    in a collective or tearing down its own pairs can abort the process
    ("terminate called without an active exception", SIGABRT). ``wait=False`` is for
    a rank leaving on an error, whose peers may never reach the barrier.
    """
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(value: Any) -> list[Any]:
    """``value`` from every rank, in rank order (``[value]`` when not distributed)."""
    if not is_distributed():
        return [value]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def mean_tensor(value: Tensor) -> Tensor:
    """The mean of a (device) scalar over ranks, without reading it back to the host."""
    if not is_distributed():
        return value
    out = value.clone()
    dist.all_reduce(out)
    return out / world_size()


def global_mean(total: Tensor, count: Tensor | int) -> Tensor:
    """``total / count`` where the count is summed over ranks, scaled so DDP's average is right.

    For losses averaged over a varying number of positions per batch (masked tokens,
    masked frames): each rank passes the SUM of its per-position losses and its number
    of positions; the mean over ranks of what this returns equals the sum over all
    ranks divided by the count over all ranks — the one-process loss of the global batch.

    Shape:
        total: scalar (with gradient); count: scalar; returns a scalar.
    """
    count = torch.as_tensor(count, dtype=torch.float32, device=total.device).detach().clone()
    if is_distributed():
        dist.all_reduce(count)
    return total * world_size() / count.clamp_min(1.0)


def rank_slice(index: Tensor) -> Tensor:
    """This rank's contiguous share of a global batch of indices (the equivalent of DistributedSampler).

    Shape:
        (B,) → (B / world_size,); B must divide evenly (checked when the config is read).
    """
    size = len(index) // world_size()
    return index[rank() * size : (rank() + 1) * size]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients right.

    ``torch.distributed.nn.functional.all_gather`` all-reduces (sums) the gradients
    of the gathered copies in backward, so each rank's local tensor receives the
    gradient that every rank's loss sends it. Combined with DDP's averaging of
    parameter gradients, the update equals that of one process over the global batch.
    A plain ``dist.all_gather`` would cut the graph (a well-known contrastive bug).

    Shape:
        (B, ...) → (world_size · B, ...) in rank order.
    """
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation over the global batch, on any device.

    torch's ``SyncBatchNorm`` refuses CPU tensors; this one all-reduces the per-channel
    sum, sum of squares and count with autograd-aware collectives (so the gradient
    through the statistics is exact) and otherwise behaves as ``BatchNorm1d/2d``:
    biased variance to normalise, unbiased for the running estimate.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, x: Tensor) -> Tensor:
        """Shape: (N, C, ...) → same."""
        if not (self.training and is_distributed()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), count.view(1)])
        stats = all_reduce(stats)
        c = x.shape[1]
        n = stats[-1]
        mean, var = stats[:c] / n, stats[c : 2 * c] / n - (stats[:c] / n) ** 2
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
                self.num_batches_tracked += 1
        shape = [1, c] + [1] * (x.dim() - 2)
        out = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm layer so statistics span all ranks (no-op when not distributed).

    On CUDA torch's own ``SyncBatchNorm``; elsewhere :class:`GlobalBatchNorm`.
    """
    if not is_distributed():
        return module
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert(module)


def _convert(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, _convert(child))
    return module
