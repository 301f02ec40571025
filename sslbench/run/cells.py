"""Building a cell: the device, seeding, the datasets a plan uses, and a cell's modality,
encoder and pretext task (or a modality's reference feature map for a ``no-encoder`` cell)."""
from __future__ import annotations

import dataclasses
import logging
import random
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from sslbench import distributed
from sslbench.contexts import (
    DatasetContext,
    MissingCapabilityError,
    ModelContext,
    TaskContext,
)
from sslbench.data import cache_root
from sslbench.data_api import LoadedDataset
from sslbench.errors import PluginError, UsageError
from sslbench.plan.config import Config
from sslbench.plan.grid import Cell, GridPlan, model_options
from sslbench.registry import Registry
from sslbench.run.state import RunState
from sslbench.specs import check_encoder

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a usage error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but torch sees no CUDA device; use device = \"auto\" or \"cpu\"")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_divisible(plan: GridPlan) -> None:
    """The global batch must split evenly over the processes."""
    world = distributed.world_size()
    for cell in plan.pretrained:
        if cell.run.batch_size % world:
            raise UsageError(f"batch_size {cell.run.batch_size} of cell {cell.key} does not split evenly over "
                             f"{world} processes; use a multiple of {world}")


def load_datasets(config: Config, registry: Registry, plan: GridPlan, progress: bool,
                   device: torch.device) -> dict[str, Any]:
    """Load each dataset the plan uses once. Usage errors abort; other errors fail its cells."""
    ctx = DatasetContext(data_root=cache_root(), progress=progress, device=device)
    loaded: dict[str, Any] = {}
    for name in dict.fromkeys(c.dataset for c in plan.cells):
        spec = registry.get("dataset", name)
        try:
            loaded[name] = scored_on(spec.build(ctx, config.options_for("dataset", name)), config.run.score_split, name)
        except UsageError:
            raise
        except Exception as err:  # a plugin bug: isolate it to this dataset's cells
            log.error("dataset %s failed to load:\n%s", name, traceback.format_exc())
            loaded[name] = err
    return loaded


def scored_on(dataset: LoadedDataset, split: str, name: str) -> LoadedDataset:
    """``dataset`` with ``split`` in the place evaluators score (``test``).

    ``[run] score_split = "valid"`` is for choosing a config's settings without looking at
    test: the validation split takes test's place (and evaluators, finding no validation
    split, use their fixed settings), and every ``extras`` table keyed by ``valid`` and
    ``test`` (e.g. next-item targets) is swapped the same way.
    """
    if split == "test":
        return dataset
    if dataset.valid is None:
        raise UsageError(f"[run] score_split = \"valid\": dataset {name!r} has no validation split; "
                         "use score_split = \"test\" or a dataset that declares one")
    extras = {key: _valid_as_test(value) for key, value in dataset.extras.items()}
    return dataclasses.replace(dataset, test=dataset.valid, valid=None, extras=extras)


def _valid_as_test(value: Any) -> Any:
    if isinstance(value, Mapping) and "valid" in value and "test" in value:
        return {**value, "test": value["valid"]}
    return value


def explain(err: Exception, cell: Cell) -> Exception:
    """Name the batch size in a CUDA out-of-memory error, the one setting that usually fixes it."""
    if isinstance(err, torch.cuda.OutOfMemoryError):
        first = str(err).splitlines()[0] if str(err) else "out of memory"
        return RuntimeError(f"CUDA out of memory at batch size {cell.run.batch_size} ({first}); "
                            "lower [run] batch_size or this grid's [grid.run] batch_size")
    return err


def undeclared(run: RunState, cell: Cell, err: Exception) -> Exception:
    """A modality primitive the task called without declaring it: name the plugin, task and field."""
    if not isinstance(err, MissingCapabilityError) or cell.untrained:
        return err
    spec = run.registry.get("task", cell.task)
    return PluginError(f"plugin {spec.plugin!r}: task {cell.task!r} called modality {err.modality!r}'s "
                       f"{err.capability}, which it does not provide; declare it: "
                       f"TaskSpec(needs={{{err.capability!r}, ...}}) so the grid skips modalities without it")


def train_split(run: RunState, cell: Cell, dataset: LoadedDataset) -> Any:
    """The split the cell's task trains on (``TaskSpec.split``)."""
    name = run.registry.get("task", cell.task).split
    try:
        return dataset.split(name)
    except KeyError as err:
        raise ValueError(f"task {cell.task!r} trains on split {name!r}: {err.args[0]}") from None


def build(run: RunState, cell: Cell, dataset: LoadedDataset) -> tuple[Any, torch.nn.Module, torch.nn.Module | None]:
    if cell.is_reference:
        return _build_reference(run, cell, dataset)
    reg, opts = run.registry, run.config.options_for
    data_spec = reg.get("dataset", cell.dataset)
    modality = reg.get("modality", data_spec.modality).build(dataset.info, opts("modality", data_spec.modality))
    model_ctx = ModelContext(dataset=cell.dataset, modality=data_spec.modality, info=dataset.info)
    model_spec = reg.get("model", cell.model)
    encoder = model_spec.build(model_ctx, model_options(run.config, cell))
    check_encoder(model_spec, encoder)
    if cell.untrained:  # random-init, or as loaded from outside weights
        return modality, encoder, None
    task_ctx = TaskContext(encoder=encoder, modality=modality, dataset=dataset, cache_dir=run.cache_dir)
    return modality, encoder, reg.get("task", cell.task).build(task_ctx, opts("task", cell.task))


def _build_reference(run: RunState, cell: Cell, dataset: LoadedDataset) -> tuple[Any, torch.nn.Module, None]:
    """A ``no-encoder`` cell: the modality and its reference feature map (``ModalitySpec.reference_build``),
    fitted on the dataset's pretrain split by the plugin; no task, nothing trained."""
    name = run.registry.get("dataset", cell.dataset).modality
    spec, options = run.registry.get("modality", name), run.config.options_for("modality", name)
    reference = spec.reference_build(dataset, options)
    if not isinstance(reference, torch.nn.Module) or not isinstance(getattr(reference, "embed_dim", None), int):
        raise TypeError(f"modality {name!r}: reference_build must return an nn.Module with an int embed_dim, "
                        f"got {type(reference).__name__}")
    return spec.build(dataset.info, options), reference, None
