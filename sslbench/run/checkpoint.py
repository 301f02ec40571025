"""Cell checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the task's state (encoder and heads), the optimizer and schedule,
the step, the loss history, the training time so far, and the random states of
Python, NumPy and torch (CPU and CUDA). With those restored, a resumed run on the
CPU continues bit for bit as if it had never stopped.

A file is a header line ``SSLBENCH-CHECKPOINT 3 <sha256>\n`` followed by the bytes
``torch.save`` wrote; the SHA-256 of those bytes is checked at every load, so bit rot
anywhere (weights included) is caught instead of silently trained on. Writes are
atomic (temporary name, ``fsync``, ``os.replace``; the temporary file is removed
when the write fails, e.g. on a full disk) and never follow a planted link; loads
use ``torch.load(weights_only=True)``, so a checkpoint can hold only tensors and
plain Python values — never code. A checkpoint that fails its hash, does not load,
or does not fit the cell's modules (:meth:`CellCheckpoint.discard`) is moved aside
and the cell restarts from scratch, with a warning.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslbench import safeio

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
MAGIC = b"SSLBENCH-CHECKPOINT"


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
        """Write ``payload`` atomically with its content hash (it carries the random states: ``rng_ranks``).

        Raises:
            StorageError: the disk is full or failing; no temporary file is left.
        """
        buffer = io.BytesIO()
        torch.save({"format": FORMAT_VERSION, **payload}, buffer)
        body = buffer.getvalue()
        header = b"%s %d %s\n" % (MAGIC, FORMAT_VERSION, hashlib.sha256(body).hexdigest().encode())
        safeio.ensure_dir(self.path.parent)
        safeio.atomic_write(self.path, header + body)

    def load(self) -> dict[str, Any] | None:
        """The saved payload, or None when there is none or it is damaged (then it is moved aside)."""
        if not os.path.lexists(self.path):
            return None
        try:
            return _decode(safeio.read_nofollow(self.path))
        except Exception as err:  # truncated, corrupt, rotten or foreign file: never fatal, never used
            self.discard(f"is unreadable ({type(err).__name__}: {err})")
            return None

    def discard(self, why: str) -> None:
        """Move the checkpoint aside (``NAME.corrupt-TIME``) and say why; the cell restarts from scratch."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}")
        os.replace(self.path, aside)
        log.warning("checkpoint %s %s; moved to %s, restarting the cell from scratch", self.path, why, aside.name)

    def remove(self) -> None:
        """Delete the checkpoint (when the run does not keep them)."""
        self.path.unlink(missing_ok=True)


def _decode(data: bytes) -> dict[str, Any]:
    """Check the header and hash of a checkpoint file's bytes and load its payload."""
    header, newline, body = data.partition(b"\n")
    parts = header.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC:
        raise ValueError("not an sslbench checkpoint (no header)")
    if parts[1] != str(FORMAT_VERSION).encode():
        raise ValueError(f"format {parts[1].decode(errors='replace')}, expected {FORMAT_VERSION}")
    if hashlib.sha256(body).hexdigest().encode() != parts[2]:
        raise ValueError("content hash mismatch (the file changed after it was written)")
    payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"payload format {payload.get('format') if isinstance(payload, dict) else None!r}")
    return payload
