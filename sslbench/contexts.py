"""The objects the runner passes to component builders, and what encoders return."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from sslbench.data_api import Batch, LoadedDataset, move_batch


class EncoderOutput(NamedTuple):
    """What every encoder's ``forward(batch)`` returns.

    Shape:
        sequence: (B, T, D) per-position features, or None for encoders without them.
        pooled: (B, D) one embedding per sample; evaluators use this.
        mask: (B, T) bool, True at real (non-padding) positions, or None.
    """

    sequence: Tensor | None
    pooled: Tensor
    mask: Tensor | None = None


class MissingCapabilityError(NotImplementedError):
    """A task called a modality primitive (``views``, ...) that the modality does not provide.

    The grid pairs a task only with modalities that provide what its ``TaskSpec.needs``
    declares, so this means the task did not declare it; the runner names the task.
    """

    def __init__(self, modality: str, capability: str) -> None:
        self.modality, self.capability = modality, capability
        super().__init__(f"modality {modality!r} does not provide {capability}; a task that calls "
                         f"modality.{capability}(...) must declare TaskSpec(needs={{{capability!r}}})")


class Modality:
    """Base class of modality objects: the primitives tasks build on.

    Subclasses implement the methods behind the capabilities their spec declares
    (see :data:`sslbench.specs.KNOWN_CAPABILITIES`); the base raises
    :class:`MissingCapabilityError` for the rest.
    """

    name = "modality"

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """Two independently augmented views of ``batch`` (capability ``views``)."""
        raise MissingCapabilityError(self.name, "views")


class MissingLabelSetError(ValueError):
    """An evaluator read labels (``EvalContext.labels``) without declaring ``label_kinds``."""


@dataclass(frozen=True)
class DatasetContext:
    """Passed to ``DatasetSpec.build``.

    Args:
        data_root: the data cache root (``$SSLBENCH_DATA``, default ``~/.cache/sslbench``).
        progress: whether long fetches may show a progress bar.
        device: the run's device; a builder that computes features at load (e.g. spectrograms)
            computes them here, so ``device = "cpu"`` keeps a run off a GPU the machine has.
    """

    data_root: Path
    progress: bool = True
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


@dataclass(frozen=True)
class ModelContext:
    """Passed to ``ModelSpec.build``: which dataset the encoder is for and its facts."""

    dataset: str
    modality: str
    info: Mapping[str, Any]


@dataclass
class TaskContext:
    """Passed to ``TaskSpec.build``.

    Args:
        encoder: the freshly initialised encoder the task trains.
        modality: the dataset's modality object (views, token access, ...).
        dataset: the loaded dataset (tasks may derive targets from its pretrain split).
        cache_dir: a folder for artefacts worth computing once per dataset (e.g. k-means
            cluster targets); shared across cells and runs.
    """

    encoder: nn.Module
    modality: Modality
    dataset: LoadedDataset
    cache_dir: Path


@dataclass
class EvalContext:
    """Passed to ``EvaluatorSpec.run`` and ``EvaluatorSpec.baselines``.

    Embeddings are computed once per cell and shared by every evaluator.

    Args:
        encoder: the frozen encoder (eval mode, no gradients).
        task: the trained pretext task module, or None for the random-init baseline.
        dataset: the loaded dataset.
        modality: the dataset's modality object.
        label_set: the label set to use, or None for evaluators that need no labels.
        device: where to compute.
        seed: the cell's seed; evaluators seed their own randomness from it.
        embed_batch_size: batch size for computing embeddings.
        costs: what the evaluation itself spent (:meth:`record_cost`), e.g. fine-tuning steps and FLOPs.
        choices: hyper-parameters an evaluator selected on the ``valid`` split
            (:meth:`record_choice`); the runner writes them into the row as ``selected``.
    """

    encoder: nn.Module
    task: nn.Module | None
    dataset: LoadedDataset
    modality: Modality
    label_set: str | None
    device: torch.device
    seed: int
    embed_batch_size: int = 512
    _cache: dict[str, Tensor] = field(default_factory=dict, repr=False)
    choices: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)

    def has_split(self, name: str) -> bool:
        """Whether the dataset has a split ``name`` (e.g. ``valid``, which plugin datasets may omit)."""
        return name in self.dataset.split_names()

    def record_cost(self, **values: float) -> None:
        """Record what the evaluation itself spent (e.g. ``steps=200, flops=3.1e12`` of fine-tuning);
        the runner writes each into the row's ``cost`` as ``eval_<name>``."""
        self.costs.update({name: float(v) for name, v in values.items()})

    def record_choice(self, **values: Any) -> None:
        """Record hyper-parameters selected on ``valid`` (e.g. ``l2=1e-3``); not metrics, never ranked."""
        self.choices.update(values)

    def embeddings(self, split: str) -> Tensor:
        """Pooled embeddings of every sample of ``split``, computed once per cell.

        Shape:
            (N, D) float32 on ``device``.
        """
        if split not in self._cache:
            self._cache[split] = embed_split(self.encoder, self.dataset.split(split), self.device, self.embed_batch_size)
        return self._cache[split]

    def labels(self, split: str) -> Tensor:
        """Labels of ``split`` for ``label_set``: (N,) long or (N, C) float, on ``device``.

        Raises:
            MissingLabelSetError: the evaluator declares no ``label_kinds``, so it runs
                once without a label set.
        """
        if self.label_set is None:
            raise MissingLabelSetError(
                "ctx.labels() was called, but this evaluator declares no label_kinds, so it runs once without a "
                "label set; set EvaluatorSpec(label_kinds={'class'}) (or 'multilabel') to run once per label set")
        return self.dataset.split(split).labels[self.label_set].to(self.device)

    def generator(self) -> torch.Generator:
        """A CPU random generator seeded from the cell's seed."""
        return torch.Generator().manual_seed(self.seed)


@torch.no_grad()
def embed_split(encoder: nn.Module, split: Any, device: torch.device, batch_size: int) -> Tensor:
    """Run ``encoder`` over ``split`` in order and stack the pooled embeddings.

    Shape:
        returns (N, D) float32.
    """
    outs = []
    for start in range(0, len(split), batch_size):
        index = torch.arange(start, min(start + batch_size, len(split)))
        with autocast_for(device):
            pooled = encoder(move_batch(split.batch(index), device)).pooled
        outs.append(pooled.float())
    return torch.cat(outs)


def autocast_for(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a disabled autocast elsewhere (fp32 on CPU)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
