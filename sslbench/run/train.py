"""The one training loop every pretext task shares.

In the spirit of nanoGPT's ``train.py``: one short, linear function. It knows
nothing about modalities; a task is an ``nn.Module`` whose ``forward(batch)``
returns ``{"loss": scalar, **logs}``. The loss is optimised; each extra log (a scalar
tensor or number, e.g. an accuracy or an entropy) is recorded beside it, read back
from the device with the loss, never on its own.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import random
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sslbench import distributed
from sslbench.contexts import autocast_for
from sslbench.data_api import TensorSplit, move_batch
from sslbench.flops import budget_flops, flop_counter
from sslbench.plan.config import RunConfig
from sslbench.run.checkpoint import CellCheckpoint, rng_state, set_rng_state

log = logging.getLogger(__name__)


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
    flops_per_step: int | None = None  # forward + backward, counted on the first step
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) every log_every steps
    # the task's extra scalar outputs: name → values aligned with ``losses`` (None: not logged / not finite)
    logs: dict[str, list[float | None]] = field(default_factory=dict)
    resumed_from: int = 0  # the step a checkpoint restored (0: trained from scratch)

    @property
    def final_loss(self) -> float:
        """The last logged loss (NaN when nothing was logged)."""
        return self.losses[-1][1] if self.losses else math.nan

    @property
    def flops(self) -> int | None:
        """Total training FLOPs: steps × FLOPs per step."""
        return budget_flops(self.flops_per_step, self.steps)


@dataclass
class _Progress:
    """The loop's state, which a checkpoint saves and restores."""

    step: int = 0
    total: int = 0  # steps planned; for seconds budgets an estimate, refined as it goes
    elapsed: float = 0.0  # seconds spent in training steps
    flops_per_step: int | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    logs: dict[str, list[float | None]] = field(default_factory=dict)  # aligned with ``losses``

    def record(self, step: int, loss: float, logs: dict[str, float]) -> None:
        """Append one point of the curve; a log name new at this point is None before it."""
        for name in logs:
            self.logs.setdefault(name, [None] * len(self.losses))
        self.losses.append((step, loss))
        for name, values in self.logs.items():
            value = logs.get(name)
            values.append(value if value is not None and math.isfinite(value) else None)


def pretrain(
    task: nn.Module,
    split: TensorSplit,
    run: RunConfig,
    device: torch.device,
    *,
    seed: int,
    desc: str = "",
    checkpoint: CellCheckpoint | None = None,
    log_every: int = 10,
    on_log: Callable[[int, float, dict[str, float], float, float], None] | None = None,
) -> TrainResult:
    """Train ``task`` (and the encoder inside it) on ``split`` within the run's budget.

    The budget is ``run.steps`` optimizer steps, or ``run.flops`` training FLOPs
    (steps = budget ÷ FLOPs of one step, counted on the first step), or ``run.seconds``
    of training time (not reproducible). Batches are drawn without replacement, the
    order of each epoch fixed by (seed, epoch), so a resumed run sees the same batches.
    With ``checkpoint``, training continues from the saved step and saves as it goes.
    ``on_log(step, loss, logs, lr, samples_per_s)`` is called for each point of the curve
    as it is recorded (every ``log_every`` steps and the last): the step's loss, the task's
    logs, the learning rate it trained with, and the samples per second since the last point.

    Raises:
        DivergedError: the loss is NaN or infinite at some step.
    """
    from tqdm.auto import tqdm  # local: keeps `import sslbench` light

    task.to(device).train()
    task = distributed.sync_batchnorm(task)  # batch statistics over the global batch; before the optimizer
    model = _wrap_ddp(task, device)
    if run.compile:
        model = torch.compile(model)  # the task's forward and loss; the task module itself stays plain
    batch_size = min(run.batch_size, len(split))  # the global batch; each rank takes 1/world of it
    optimizer = make_optimizer(task, run)
    progress = _Progress(total=run.steps if run.budget_unit == "steps" else 0)
    schedule = make_schedule(optimizer, run, lambda: progress.total)
    _decorrelate_ranks(seed)
    resumed = _restore(checkpoint, task, optimizer, schedule, progress)
    batches = epoch_batches(len(split), batch_size, seed, start_step=progress.step)
    _reset_peak_memory(device)
    bar = tqdm(total=progress.total or None, initial=progress.step, desc=desc, leave=False, unit="step",
               disable=None if distributed.is_main() else True)
    pending = _PendingLosses(every=1 if device.type != "cuda" else log_every)
    done = _budget_spent(run, progress)
    since = (progress.step, progress.elapsed)  # where the throughput of the next logged point starts
    while not done:
        started = time.perf_counter()
        index = distributed.rank_slice(next(batches))  # this rank's share of the global batch
        batch = move_batch(split.batch(index), device, pin=run.pin_memory)  # each tensor (B / world, ...)
        lr = optimizer.param_groups[0]["lr"]  # what this step trains with; the schedule moves it after
        loss, logs, flops = _step(model, optimizer, run, batch, device, count_flops=progress.flops_per_step is None)
        schedule.step()
        progress.step += 1
        if flops is not None:
            progress.flops_per_step = flops
        pending.add(progress.step - 1, loss, logs, lr)
        done = _budget_spent(run, progress, elapsed=progress.elapsed + time.perf_counter() - started)
        save = checkpoint is not None and checkpoint.due(progress.step, done)
        if pending.due() or done or save:
            logged, lrs = len(progress.losses), pending.lrs
            _check_and_log(pending.flush(), progress, log_every, done, bar)
            for step, value in progress.losses[logged:]:  # shown with `sslbench run -v`
                log.info("%s step %d: loss %.4f", desc, step, value)
            if on_log is not None and len(progress.losses) > logged:
                since = _report(on_log, progress, logged, lrs, since, batch_size,
                                progress.elapsed + time.perf_counter() - started)
        progress.elapsed += time.perf_counter() - started
        _plan_total(run, progress)
        bar.total = progress.total or None
        bar.update()
        if save:
            _save(checkpoint, task, optimizer, schedule, progress)
    bar.close()
    _synchronize(device)
    return TrainResult(
        steps=progress.step, batch_size=batch_size, seconds=progress.elapsed,
        samples_per_s=progress.step * batch_size / max(progress.elapsed, 1e-9),
        peak_memory_bytes=peak_memory(device), flops_per_step=progress.flops_per_step,
        losses=progress.losses, logs=progress.logs, resumed_from=resumed,
    )


class _PendingLosses:
    """Step losses (and the task's extra logs) still on the device, read back together.

    Reading a CUDA scalar (``.item()``) waits for the GPU; doing it every step stops
    the host from queueing the next step while the GPU works. So on CUDA the losses
    are read every ``every`` steps (and before any checkpoint and at the end), and
    the NaN/inf check runs on each of them then; on the CPU ``every`` is 1. The logs
    travel in the same single read.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.steps: list[int] = []
        self.values: list[Tensor] = []
        self.logs: list[dict[str, Tensor]] = []
        self.lrs: dict[int, float] = {}  # step → the learning rate it trained with

    def add(self, step: int, loss: Tensor, logs: dict[str, Tensor] | None = None, lr: float = math.nan) -> None:
        self.steps.append(step)
        self.values.append(loss)
        self.logs.append(logs or {})
        self.lrs[step] = lr

    def due(self) -> bool:
        return len(self.steps) >= self.every

    def flush(self) -> list[tuple[int, float, dict[str, float]]]:
        """(step, loss, logs) of every pending step; one device sync for all of them."""
        flat = [t for loss, logs in zip(self.values, self.logs) for t in (loss, *logs.values())]
        numbers = iter(torch.stack(flat).tolist() if flat else [])
        out = [(step, next(numbers), {name: next(numbers) for name in logs})
               for step, logs in zip(self.steps, self.logs)]
        self.steps, self.values, self.logs, self.lrs = [], [], [], {}
        return out


def _report(on_log: Callable[[int, float, dict[str, float], float, float], None], progress: _Progress,
            logged: int, lrs: dict[int, float], since: tuple[int, float], batch_size: int,
            elapsed: float) -> tuple[int, float]:
    """Call ``on_log`` for each point recorded from index ``logged`` on; returns the new ``since``
    (step, elapsed seconds): the throughput is over the steps since the last report."""
    samples_per_s = (progress.step - since[0]) * batch_size / max(elapsed - since[1], 1e-9)
    for i in range(logged, len(progress.losses)):
        step, value = progress.losses[i]
        logs = {name: v for name, values in progress.logs.items() if (v := values[i]) is not None}
        on_log(step, value, logs, lrs.get(step, math.nan), samples_per_s)
    return progress.step, elapsed


def _check_and_log(losses: list[tuple[int, float, dict[str, float]]], progress: _Progress, log_every: int,
                   done: bool, bar: Any) -> None:
    """Raise on the first non-finite loss; keep every ``log_every``-th (and the last) in the curve."""
    for i, (step, value, logs) in enumerate(losses):
        if not math.isfinite(value):
            bar.close()
            raise DivergedError(step, value)
        if step % log_every == 0 or (done and i == len(losses) - 1):
            progress.record(step, value, logs)
    if losses:
        bar.set_postfix(loss=f"{losses[-1][1]:.4f}", refresh=False)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, run: RunConfig, batch: dict, device: torch.device,
          *, count_flops: bool) -> tuple[Tensor, dict[str, Tensor], int | None]:
    """One optimizer step; returns the detached loss (mean over ranks) and the task's extra
    logs (this rank's: a task may log different names on different ranks, so they join no
    collective), still on the device, and, when asked, the step's FLOPs (all ranks)."""
    counter = flop_counter() if count_flops else None
    with counter if counter is not None else contextlib.nullcontext():
        with autocast_for(device):
            out = model(batch)
            loss: Tensor = out["loss"]  # scalar
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    if run.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), run.grad_clip)
    optimizer.step()
    # Every rank logs, and judges divergence on, the same value.
    mean = distributed.mean_tensor(loss.detach().float())
    flops = None if counter is None else int(counter.get_total_flops()) * distributed.world_size()
    return mean, task_logs(out, loss.device), flops


def task_logs(out: Any, device: torch.device) -> dict[str, Tensor]:
    """The extra entries of a task's ``{"loss": ..., **logs}``, as detached float scalars on ``device``.

    Raises:
        ValueError: a log that is not a scalar (a 0-d or one-element tensor, or a number).
    """
    logs = {}
    for name, value in out.items():
        if name == "loss":
            continue
        if isinstance(value, Tensor) and value.numel() == 1:
            logs[str(name)] = value.detach().float().reshape(()).to(device)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            logs[str(name)] = torch.tensor(float(value), device=device)
        else:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"the task returned log {name!r} of {shape}; forward(batch) must return "
                             "{'loss': scalar, **logs} with scalar logs (a 0-d tensor or a number)")
    return logs


def _wrap_ddp(task: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel`` around the task when running distributed, else the task."""
    if not distributed.is_distributed():
        return task
    ids = [device.index] if device.type == "cuda" else None
    # Tasks may leave some heads unused on a step (e.g. a pooler only NSP uses).
    return nn.parallel.DistributedDataParallel(task, device_ids=ids, find_unused_parameters=True)


def _decorrelate_ranks(seed: int) -> None:
    """Give each rank its own random stream for views and masks (ranks start identical after seeding)."""
    if distributed.is_distributed():
        r = distributed.rank()
        random.seed(seed * 100_003 + r)
        np.random.seed((seed * 100_003 + r) % 2**32)
        torch.manual_seed(seed * 100_003 + r)


def _budget_spent(run: RunConfig, progress: _Progress, elapsed: float | None = None) -> bool:
    """Whether the budget is used up; ``elapsed``: the training seconds so far, when the step
    being finished is not yet in ``progress.elapsed`` (so a seconds budget can end on it)."""
    if run.budget_unit == "seconds":
        return (progress.elapsed if elapsed is None else elapsed) >= run.seconds
    return progress.total > 0 and progress.step >= progress.total


def _plan_total(run: RunConfig, progress: _Progress) -> None:
    """Steps the budget allows: fixed, from FLOPs of one step, or estimated from speed so far."""
    if run.budget_unit == "flops" and progress.flops_per_step:
        progress.total = max(1, int(run.flops // progress.flops_per_step))
    elif run.budget_unit == "seconds":
        progress.total = max(progress.step, math.ceil(run.seconds * progress.step / max(progress.elapsed, 1e-9)))


def _save(checkpoint: CellCheckpoint, task: nn.Module, optimizer: torch.optim.Optimizer,
          schedule: torch.optim.lr_scheduler.LRScheduler, progress: _Progress) -> None:
    """Rank 0 writes; every rank contributes its random state (a collective when distributed)."""
    rng = distributed.gather_objects(rng_state())
    if not distributed.is_main():
        return
    checkpoint.save({
        "rng_ranks": rng,
        "task": task.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
        "step": progress.step, "total": progress.total, "elapsed": progress.elapsed,
        "flops_per_step": -1 if progress.flops_per_step is None else progress.flops_per_step,
        "losses": [[s, v] for s, v in progress.losses],
        "logs": progress.logs,
    })


def _restore(checkpoint: CellCheckpoint | None, task: nn.Module, optimizer: torch.optim.Optimizer,
             schedule: torch.optim.lr_scheduler.LRScheduler, progress: _Progress) -> int:
    """Load the checkpoint into the modules and ``progress``; returns the step restored (0: none).

    A checkpoint that does not fit (other shapes, missing keys, a bad random state)
    is moved aside and everything it touched is put back: the cell starts from
    scratch exactly as if there had been no checkpoint.
    """
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        return 0
    before = (copy.deepcopy(task.state_dict()), copy.deepcopy(optimizer.state_dict()),
              copy.deepcopy(schedule.state_dict()), dataclasses.replace(progress), rng_state())
    try:
        return _load_into(saved, checkpoint, task, optimizer, schedule, progress)
    except Exception as err:  # noqa: BLE001 - any misfit means: do not use it
        task.load_state_dict(before[0])
        optimizer.load_state_dict(before[1])
        schedule.load_state_dict(before[2])
        for f in dataclasses.fields(progress):
            setattr(progress, f.name, getattr(before[3], f.name))
        set_rng_state(before[4])
        if distributed.is_main():
            checkpoint.discard(f"does not fit this cell ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})")
        return 0


def _load_into(saved: dict, checkpoint: CellCheckpoint, task: nn.Module, optimizer: torch.optim.Optimizer,
               schedule: torch.optim.lr_scheduler.LRScheduler, progress: _Progress) -> int:
    task.load_state_dict(saved["task"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    progress.step, progress.total, progress.elapsed = saved["step"], saved["total"], saved["elapsed"]
    progress.flops_per_step = None if saved["flops_per_step"] < 0 else saved["flops_per_step"]
    progress.losses = [(int(s), float(v)) for s, v in saved["losses"]]
    progress.logs = {str(k): list(v) for k, v in saved.get("logs", {}).items()}  # older checkpoints have none
    states = saved["rng_ranks"]
    if len(states) != distributed.world_size():
        log.warning("checkpoint %s was written by %d processes, this run has %d; random streams restart",
                    checkpoint.path, len(states), distributed.world_size())
    else:
        set_rng_state(states[distributed.rank()])
    return progress.step


def epoch_batches(n: int, batch_size: int, seed: int, start_step: int = 0) -> Iterator[Tensor]:
    """Endless batches of indices into ``range(n)``, starting at batch ``start_step``.

    Epoch e is the permutation drawn from seed ``(seed, e)``, cut into ``n // batch_size``
    batches (the incomplete last one dropped), so any step's batch is known without
    replaying the ones before it — which is what resuming needs.

    Shape:
        each yielded tensor is (batch_size,) long.
    """
    per_epoch = n // batch_size
    epoch, offset = divmod(start_step, per_epoch)
    while True:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for i in range(offset, per_epoch):
            yield order[i * batch_size : (i + 1) * batch_size]
        epoch, offset = epoch + 1, 0


def make_optimizer(module: nn.Module, run: RunConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (momentum 0.9); no weight decay on biases and normalisation weights."""
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": run.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = {"fused": True} if run.fused_optimizer else {}  # one kernel for all parameters (CPU and CUDA)
    if run.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=run.lr, momentum=0.9, **fused)
    return torch.optim.AdamW(groups, lr=run.lr, **fused)


def make_schedule(optimizer: torch.optim.Optimizer, run: RunConfig,
                  total_steps: Callable[[], int]) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_fraction`` of the steps, then cosine decay to 0 or constant.

    ``total_steps`` is asked at every step: FLOPs and seconds budgets learn it only
    once training has started.
    """

    def factor(step: int) -> float:
        total = max(1, total_steps())
        warmup = int(run.warmup_fraction * total)
        if step < warmup:
            return (step + 1) / warmup
        if run.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
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
