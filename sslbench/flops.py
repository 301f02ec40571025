"""FLOPs of one training step, counted by PyTorch's own operator-level counter.

``torch.utils.flop_counter.FlopCounterMode`` counts the floating-point operations
of matrix products, convolutions and attention (2 per multiply-add) as they run, in
the forward pass and in the backward pass alike. Element-wise operations, norms and
losses are not counted; for the encoders here they are a small share. We use it
rather than a per-architecture formula so that any plugin's task is counted the
same way, without the plugin declaring anything.

Counting runs a real forward and backward pass, so :func:`count_step_flops` leaves
the task as it found it: gradients, buffers (e.g. BatchNorm running statistics) and
the global random generators are restored afterwards, and the optimizer never
steps. A budget given in FLOPs is then ``steps × flops_per_step``.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from sslbench.data_api import Batch


class FlopCount(NamedTuple):
    """The FLOPs of one step, or ``None`` with the reason they could not be counted."""

    flops: int | None
    reason: str = ""


def count_step_flops(task: nn.Module, batch: Batch) -> FlopCount:
    """FLOPs of one training step of ``task`` on ``batch``: forward plus backward.

    The task's ``forward(batch)`` must return ``{"loss": scalar, ...}`` as in the
    training loop; the loss is backpropagated but no optimizer steps. Fails soft:
    any error gives ``FlopCount(None, "<ExceptionType>: <message>")``.

    Shape:
        batch: dict of tensors, batch size first, already on the task's device.

    Example: one ``nn.Linear(i, o)`` on (B, i) inputs that require grad counts
    2·B·i·o forward and 2·(2·B·i·o) backward (input and weight gradients).
    """
    try:
        with _restored(task):
            with flop_counter() as counter:
                loss = task(batch)["loss"]
                if not isinstance(loss, Tensor) or not loss.requires_grad:
                    return FlopCount(None, "the task's loss does not require grad; nothing to backpropagate")
                loss.backward()
            return FlopCount(int(counter.get_total_flops()))
    except Exception as err:  # a count is a nicety; training must go on without it
        return FlopCount(None, f"{type(err).__name__}: {err}")


def flop_counter() -> Any:
    """A silent ``FlopCounterMode``: the one way sslbench counts FLOPs, in a whole step here and
    inside the training loop's first real step (:mod:`sslbench.run.train`), which counts the
    step it takes rather than a copy of it."""
    from torch.utils.flop_counter import (
        FlopCounterMode,  # local: keeps `import sslbench` light
    )

    return FlopCounterMode(display=False)


def budget_flops(flops_per_step: int | None, steps: int) -> int | None:
    """Total training FLOPs of ``steps`` steps (``None`` when the per-step count is)."""
    return None if flops_per_step is None else int(flops_per_step) * int(steps)


@contextmanager
def _restored(task: nn.Module) -> Iterator[None]:
    """Put back the task's gradients, buffers and train/eval modes and the global RNGs."""
    grads = {name: None if p.grad is None else p.grad.detach().clone() for name, p in task.named_parameters()}
    buffers = {name: b.detach().clone() for name, b in task.named_buffers()}
    modes = {name: m.training for name, m in task.named_modules()}
    rng = _rng_state()
    try:
        yield
    finally:
        params = dict(task.named_parameters())
        for name, grad in grads.items():
            params[name].grad = grad
        with torch.no_grad():
            for name, buf in task.named_buffers():
                if name in buffers:
                    buf.copy_(buffers[name])
        for name, module in task.named_modules():
            module.training = modes.get(name, module.training)
        _set_rng_state(rng)


def _rng_state() -> tuple:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda, random.getstate(), np.random.get_state()


def _set_rng_state(state: tuple) -> None:
    cpu, cuda, python, numpy = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
    random.setstate(python)
    np.random.set_state(numpy)
