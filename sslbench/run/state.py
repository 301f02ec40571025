"""What one ``sslbench run`` shares between its cells (:class:`RunState`) and how it went (:class:`RunSummary`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sslbench.data_api import LoadedDataset
from sslbench.plan.config import Config
from sslbench.plan.grid import GridPlan
from sslbench.registry import Registry


@dataclass


class RunSummary:
    """How a run went: where rows are, how many, and which cells failed."""

    out_dir: Path
    plan: GridPlan
    rows: int = 0
    pairs: int = 0  # (cell, seed) pairs of this run's shard (0: the shard is empty, nothing ran)
    failures: list[str] = field(default_factory=list)  # "dataset/task/model seed S: message"

    @property
    def exit_code(self) -> int:
        """0 when every cell succeeded, 1 when some failed or diverged."""
        return 1 if self.failures else 0


@dataclass


class RunState:
    """Everything one run shares between cells."""

    config: Config
    registry: Registry
    out_dir: Path
    device: torch.device
    datasets: dict[str, LoadedDataset | Exception]
    provenance: dict[str, Any]
    cache_dir: Path
    summary: RunSummary
    show_tracebacks: bool = False  # `sslbench run --traceback`: print each failure's traceback to stderr
    continues: tuple[str, ...] = ()  # hashes of earlier configs whose folder this run continues
