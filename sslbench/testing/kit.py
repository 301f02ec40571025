"""Tiny cells for conformance checks: example datasets, fixed batches, compatible partners.

A :class:`Kit` wraps a registry. It loads each dataset at most once, from the
dataset's ``DatasetSpec.example`` (a few synthetic samples, no files) or, for a
dataset that declares no data files, from its ``build``; it never downloads. It
finds partners the way the runner's grid does — from declarations alone — and
prefers the smallest compatible encoder, so that a task or an evaluator is checked
in the cheapest cell the loaded plugins allow.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslbench.contexts import DatasetContext, Modality, ModelContext, TaskContext
from sslbench.data_api import Batch, LoadedDataset
from sslbench.errors import ConfigError, PluginError, UsageError
from sslbench.plan.grid import (
    all_capabilities,
    capabilities_by_source,
    usable_label_sets,
)
from sslbench.registry import Registry
from sslbench.specs import check_encoder
from sslbench.testing.checks import ConformanceError


class NotApplicable(Exception):
    """A check cannot run with the loaded plugins (no compatible partner, no example data).

    The message says why; the pytest layer turns it into an explicit skip.
    """


@dataclass(frozen=True)
class KitOptions:
    """How big and how long the conformance checks are."""

    batch_size: int = 8  # samples in the fixed batch every check uses
    steps: int = 10  # optimizer steps of the loss check, all on the same batch
    lr: float = 1e-3  # AdamW learning rate of the loss check
    # The loss must fall by this fraction of its first value. Batch and random draws are
    # fixed, so any fall is learning; the bar only has to catch a loss that does not train.
    min_decrease: float = 0.001
    seed: int = 0  # seeds builds, views and masks

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size: must be >= 2 (contrastive tasks need negatives), got {self.batch_size}")
        if self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if not 0 <= self.min_decrease < 1:
            raise ValueError(f"min_decrease: must be in [0, 1), got {self.min_decrease}")


class Kit:
    """Builds tiny cells from ``registry``'s components; caches datasets and encoder sizes.

    Args:
        registry: the loaded plugins' components.
        workdir: a scratch folder (data root of examples, task caches).
        options: batch size and loss-check settings.
    """

    def __init__(self, registry: Registry, workdir: Path, options: KitOptions = KitOptions()) -> None:
        self.registry, self.workdir, self.options = registry, Path(workdir), options
        self._datasets: dict[str, LoadedDataset | NotApplicable] = {}
        self._sizes: dict[tuple[str, str], int] = {}

    # --- data ----------------------------------------------------------------------------

    def dataset(self, name: str) -> LoadedDataset:
        """The tiny version of dataset ``name`` (its example, else its build when it needs no files).

        Raises:
            NotApplicable: neither is possible without files or network.
        """
        if name not in self._datasets:
            try:
                self._datasets[name] = self._load(name)
            except NotApplicable as err:
                self._datasets[name] = err
        loaded = self._datasets[name]
        if isinstance(loaded, NotApplicable):
            raise loaded
        return loaded

    def _load(self, name: str) -> LoadedDataset:
        spec = self.registry.get("dataset", name)
        ctx = DatasetContext(data_root=self.workdir / "data" / name, progress=False)
        if spec.example is not None:
            return spec.example(ctx, spec.options())
        if spec.data is not None:
            raise NotApplicable(f"dataset {name!r} declares data files and no example; the kit never downloads — "
                                "give DatasetSpec(example=...) a few synthetic samples")
        try:
            return spec.build(ctx, spec.options())
        except (UsageError, ConfigError) as err:
            raise NotApplicable(f"dataset {name!r} has no example and does not build from its defaults "
                                f"({err}); give DatasetSpec(example=...)") from None

    def batch(self, dataset: str, split: str = "pretrain", size: int | None = None) -> Batch:
        """A fixed batch of ``split``: the first ``size`` samples of a seeded permutation, in order.

        Shape:
            every tensor (min(size or batch_size, N), ...), as the split's ``finish`` leaves it.
        """
        data = self.dataset(dataset).split(split)
        count = min(size or self.options.batch_size, len(data))
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.options.seed))
        return data.batch(order[:count].sort().values)

    # --- components ---------------------------------------------------------------------

    def modality(self, dataset: str) -> Modality:
        """The dataset's modality object, built from its default options and the dataset's info."""
        spec = self.modality_spec(dataset)
        return spec.build(self.dataset(dataset).info, spec.options())

    def modality_spec(self, dataset: str) -> Any:
        """The spec of ``dataset``'s modality, or NotApplicable when no loaded plugin provides it."""
        name = self.registry.get("dataset", dataset).modality
        if name not in self.registry.names("modality"):
            raise NotApplicable(f"dataset {dataset!r} has modality {name!r}, which no loaded plugin provides")
        return self.registry.get("modality", name)

    def encoder(self, dataset: str, model: str) -> nn.Module:
        """Encoder ``model`` for ``dataset``, built from its default options after seeding torch."""
        spec = self.registry.get("model", model)
        ctx = ModelContext(dataset=dataset, modality=self.registry.get("dataset", dataset).modality,
                           info=self.dataset(dataset).info)
        torch.manual_seed(self.options.seed)
        encoder = spec.build(ctx, spec.options())
        try:
            check_encoder(spec, encoder)  # what the runner checks right after the build
        except PluginError as err:
            raise ConformanceError(f"{err} (on dataset {dataset!r})") from None
        return encoder

    def task(self, dataset: str, model: str, task: str) -> tuple[nn.Module, nn.Module]:
        """(encoder, task module) for the cell, both freshly built from a seeded state."""
        encoder = self.encoder(dataset, model)
        spec = self.registry.get("task", task)
        ctx = TaskContext(encoder=encoder, modality=self.modality(dataset), dataset=self.dataset(dataset),
                          cache_dir=self.workdir / "cache")
        torch.manual_seed(self.options.seed)
        return encoder, spec.build(ctx, spec.options())

    def size(self, dataset: str, model: str) -> int:
        """Parameters of ``model`` built for ``dataset`` (cached): how the kit picks the cheapest partner."""
        if (dataset, model) not in self._sizes:
            self._sizes[(dataset, model)] = sum(p.numel() for p in self.encoder(dataset, model).parameters())
        return self._sizes[(dataset, model)]

    # --- compatibility, from declarations as in sslbench.plan.grid ------------------------------

    def provided(self, dataset: str, model: str, task: str | None = None) -> frozenset[str]:
        """Capabilities a cell offers: modality, dataset (label kinds included), model, task."""
        data = self.registry.get("dataset", dataset)
        modality = (self.registry.get("modality", data.modality)
                    if data.modality in self.registry.names("modality") else None)
        caps = all_capabilities(capabilities_by_source(data, self.registry.get("model", model), modality))
        if task is not None:
            caps |= self.registry.get("task", task).provides
        return caps

    def datasets_of(self, modality: str | None = None) -> list[str]:
        """Datasets (of ``modality``), those with an example first, then by name."""
        specs = [s for s in self.registry.specs("dataset") if modality is None or s.modality == modality]
        return [self.registry.name_of(s) for s in sorted(specs, key=lambda s: (s.example is None, s.name))]

    def models_for(self, dataset: str) -> list[str]:
        """Models that accept ``dataset``'s modality, by name."""
        modality = self.registry.get("dataset", dataset).modality
        return [self.registry.name_of(s) for s in self.registry.specs("model") if modality in s.modalities]

    def task_pairs(self, task: str, modality: str | None = None) -> list[tuple[str, str]]:
        """Every (dataset, model) of ``modality`` whose declarations satisfy the task's needs."""
        needs = self.registry.get("task", task).needs
        return [(d, m) for d in self.datasets_of(modality) for m in self.models_for(d)
                if needs <= self.provided(d, m) and self._modality_known(d)]

    def _modality_known(self, dataset: str) -> bool:
        return self.registry.get("dataset", dataset).modality in self.registry.names("modality")

    def cheapest(self, pairs: Iterable[tuple[str, str]], what: str) -> tuple[str, str]:
        """The first dataset (in ``pairs`` order) that loads, with its smallest model.

        Raises:
            NotApplicable: no pair, or none of their datasets loads (the reasons joined).
        """
        by_dataset: dict[str, list[str]] = {}
        for dataset, model in pairs:
            by_dataset.setdefault(dataset, []).append(model)
        reasons = []
        for dataset, models in by_dataset.items():
            try:
                self.dataset(dataset)
            except NotApplicable as err:
                reasons.append(str(err))
                continue
            return dataset, models[0] if len(models) == 1 else min(models, key=lambda m: (self.size(dataset, m), m))
        if not by_dataset:
            raise NotApplicable(f"{what}: no compatible (dataset, model) among the loaded plugins")
        raise NotApplicable(f"{what}: no compatible dataset loads without files: {'; '.join(reasons)}")

    def eval_cells(self, evaluator: str) -> list[tuple[str, str, str | None]]:
        """(dataset, model, task or None) cells where ``evaluator`` runs, untrained cells first."""
        spec = self.registry.get("evaluator", evaluator)
        cells = []
        for dataset in self.datasets_of():
            if not self._modality_known(dataset) or not self.label_sets(dataset, evaluator):
                continue
            for model in self.models_for(dataset):
                for task in [None, *self.registry.names("task")]:
                    if task is not None and not self.registry.get("task", task).needs <= self.provided(dataset, model):
                        continue
                    if spec.needs <= self.provided(dataset, model, task):
                        cells.append((dataset, model, task))
                        break
        return sorted(cells, key=lambda c: c[2] is not None)

    def label_sets(self, dataset: str, evaluator: str) -> tuple[str | None, ...]:
        """The label sets ``evaluator`` runs on for ``dataset`` (``(None,)`` when it needs none)."""
        kinds = self.registry.get("evaluator", evaluator).label_kinds
        if not kinds:
            return (None,)
        return usable_label_sets(self.registry.get("dataset", dataset).label_sets, kinds)

