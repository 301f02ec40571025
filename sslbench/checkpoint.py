"""Cell checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the task's state (encoder and heads), the optimizer and schedule,
the step, the loss history, the training time so far, and the random states of
Python, NumPy and torch (CPU and CUDA). With those restored, a resumed run on the
CPU continues bit for bit as if it had never stopped.

Writes are atomic (temporary name, ``fsync``, ``os.replace``); loads use
``torch.load(weights_only=True)``, so a checkpoint can hold only tensors and plain
Python values — never code. A checkpoint that does not load is moved aside and the
cell restarts from scratch.
"""
from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 2


def rng_state() -> dict[str, Any]:
    """The global random states, as tensors and plain values (``weights_only``-loadable)."""
    version, keys, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [version, list(keys), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CellCheckpoint:
    """The checkpoint file of one (cell, seed) and how to write and read it."""

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every

    def due(self, step: int, done: bool) -> bool:
        """Save after ``step`` steps? Every ``every`` steps (0: never in between) and at the end."""
        return done or (self.every > 0 and step % self.every == 0)

    def save(self, payload: dict[str, Any]) -> None:
        """Write ``payload`` atomically (it carries the random states: ``rng_ranks``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def load(self) -> dict[str, Any] | None:
        """The saved payload, or None when there is none or it is unreadable (moved aside)."""
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
            if payload.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {payload.get('format')!r}, expected {FORMAT_VERSION}")
            return payload
        except Exception as err:  # truncated, corrupt or foreign file: never fatal
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            log.warning("checkpoint %s is unreadable (%s: %s); moved to %s, restarting the cell from scratch",
                        self.path, type(err).__name__, err, aside.name)
            return None

    def remove(self) -> None:
        """Delete the checkpoint (when the run does not keep them)."""
        self.path.unlink(missing_ok=True)
