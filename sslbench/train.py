"""The one training loop every pretext task shares.

In the spirit of nanoGPT's ``train.py``: one short, linear function. It knows
nothing about modalities; a task is an ``nn.Module`` whose ``forward(batch)``
returns ``{"loss": scalar, **logs}``.
"""
from __future__ import annotations

import math
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from sslbench.config import RunConfig
from sslbench.contexts import autocast_for
from sslbench.data_api import TensorSplit, move_batch


class DivergedError(RuntimeError):
    """The loss became NaN or infinite; ``step`` is where it happened."""

    def __init__(self, step: int, value: float) -> None:
        self.step, self.value = step, value
        super().__init__(f"loss became {value} at step {step}")


@dataclass
class TrainResult:
    """What pretraining one cell cost and how its loss moved."""

    steps: int
    batch_size: int
    seconds: float
    samples_per_s: float
    peak_memory_bytes: int
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) every log_every steps

    @property
    def final_loss(self) -> float:
        """The last logged loss (NaN when nothing was logged)."""
        return self.losses[-1][1] if self.losses else math.nan


def pretrain(
    task: nn.Module,
    split: TensorSplit,
    run: RunConfig,
    device: torch.device,
    *,
    seed: int,
    desc: str = "",
    log_every: int = 10,
) -> TrainResult:
    """Train ``task`` (and the encoder inside it) on ``split`` for ``run.steps`` steps.

    Batches are drawn without replacement, reshuffled every epoch from ``seed``.

    Raises:
        DivergedError: the loss is NaN or infinite at some step.
    """
    from tqdm.auto import tqdm  # local: keeps `import sslbench` light

    task.to(device).train()
    batch_size = min(run.batch_size, len(split))
    optimizer = make_optimizer(task, run)
    schedule = make_schedule(optimizer, run)
    batches = epoch_batches(len(split), batch_size, torch.Generator().manual_seed(seed))
    result = TrainResult(steps=run.steps, batch_size=batch_size, seconds=0.0, samples_per_s=0.0, peak_memory_bytes=0)
    _reset_peak_memory(device)
    start = time.perf_counter()
    bar = tqdm(total=run.steps, desc=desc, leave=False, disable=None, unit="step")
    for step in range(run.steps):
        batch = move_batch(split.batch(next(batches)), device)  # each tensor (B, ...)
        with autocast_for(device):
            loss: Tensor = task(batch)["loss"]  # scalar
        value = loss.item()  # one sync per step: the divergence check needs it anyway
        if not math.isfinite(value):
            bar.close()
            raise DivergedError(step, value)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if run.grad_clip > 0:
            nn.utils.clip_grad_norm_(task.parameters(), run.grad_clip)
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step == run.steps - 1:
            result.losses.append((step, value))
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        bar.update()
    bar.close()
    _synchronize(device)
    result.seconds = time.perf_counter() - start
    result.samples_per_s = run.steps * batch_size / result.seconds
    result.peak_memory_bytes = peak_memory(device)
    return result


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless batches of indices into ``range(n)``: a fresh permutation every epoch,
    the last incomplete batch of each epoch dropped.

    Shape:
        each yielded tensor is (batch_size,) long.
    """
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def make_optimizer(module: nn.Module, run: RunConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (momentum 0.9); no weight decay on biases and normalisation weights."""
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": run.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if run.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=run.lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=run.lr)


def make_schedule(optimizer: torch.optim.Optimizer, run: RunConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_fraction`` of the steps, then cosine decay to 0 or constant."""
    warmup = int(run.warmup_fraction * run.steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if run.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, run.steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def peak_memory(device: torch.device) -> int:
    """Peak bytes: CUDA memory allocated since the last reset, else the process's peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
