"""Which (dataset, task, model) cells of a config can run, and why the others cannot.

Compatibility is computed from declarations only:

- a model accepts a dataset when the dataset's modality is among ``model.modalities``;
- a task runs on (dataset, model) when every capability it ``needs`` is provided by
  the dataset's modality, the dataset or the model;
- an evaluator runs on a cell when its ``needs`` are provided (the task's ``provides``
  included) and, if it uses labels, the dataset has a label set of a kind it supports.

Every (dataset, model) pair that any task runs on also gets a ``random-init`` baseline,
and every dataset with a baseline whose modality declares a reference
(``ModalitySpec.reference_build``) one ``no-encoder`` reference cell.

The task ``pretrained`` (:data:`~sslbench.anchors.AS_LOADED`) is the grid's own too: the model
evaluated as loaded from its ``weights`` option, nothing trained. A model without weights set
(or without such an option) skips that cell with the reason; its other cells run.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sslbench.anchors import AS_LOADED, NO_ENCODER, RANDOM_INIT, WEIGHTS_OPTION
from sslbench.errors import AmbiguousNameError, UnknownComponentError
from sslbench.plan.config import Config, RunConfig
from sslbench.plan.cost import cell_cost
from sslbench.registry import Registry
from sslbench.specs import DatasetSpec, ModalitySpec, ModelSpec

BASELINE_TASK = RANDOM_INIT  # the grid's names for the anchors of sslbench.anchors
REFERENCE_TASK = NO_ENCODER
"""Task of the cell that evaluates the modality's encoder-free reference (raw pixels, tf-idf, ...)."""


@dataclass(frozen=True)
class EvalPlan:
    """One evaluator on one cell, with the label sets it runs on (``(None,)`` if none)."""

    evaluator: str
    label_sets: tuple[str | None, ...]


@dataclass(frozen=True)
class Cell:
    """A compatible (dataset, task, model) triple; ``task`` is ``random-init`` for baselines
    and ``no-encoder`` for the modality's reference (``model`` = the reference's name)."""

    dataset: str
    task: str
    model: str
    evaluations: tuple[EvalPlan, ...]
    run: RunConfig  # the budget of the grid this cell belongs to
    references: tuple[EvalPlan, ...] = ()  # baseline cells: evaluators whose reference rows (e.g. popularity) to add
    cost: float = 1.0  # estimated cost of one seed, for --shard (sslbench.plan.cost); never changes what runs

    @property
    def is_baseline(self) -> bool:
        """True for the untrained ``random-init`` cell of a (dataset, model) pair."""
        return self.task == BASELINE_TASK

    @property
    def is_as_loaded(self) -> bool:
        """True for a ``pretrained`` cell: the encoder as loaded from its outside weights, never trained here."""
        return self.task == AS_LOADED

    @property
    def untrained(self) -> bool:
        """True for the cells that build no task and train nothing (random-init, as-loaded)."""
        return self.is_baseline or self.is_as_loaded

    @property
    def is_reference(self) -> bool:
        """True for the ``no-encoder`` cell of a dataset: the modality's reference, never trained."""
        return self.task == REFERENCE_TASK

    @property
    def key(self) -> str:
        """``dataset/task/model``: a stable name for logs, folders and shards."""
        return f"{self.dataset}/{self.task}/{self.model}"


@dataclass(frozen=True)
class Skip:
    """A combination that does not run, and why (``evaluator`` empty for whole cells)."""

    dataset: str
    task: str
    model: str
    reason: str
    evaluator: str = ""

    def __str__(self) -> str:
        what = f"({self.dataset}, {self.task}, {self.model})"
        return f"{what} {self.evaluator + ': ' if self.evaluator else ''}{self.reason}"


@dataclass
class GridPlan:
    """The cells a config runs, in order (each baseline before its pretrained cells)."""

    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def pretrained(self) -> list[Cell]:
        """The cells that pretrain (baselines and references excluded)."""
        return [c for c in self.cells if not (c.untrained or c.is_reference)]


def plan_grid(config: Config, registry: Registry) -> GridPlan:
    """Expand ``config``'s grid into compatible cells and reasoned skips (its variants are components too)."""
    registry = config.registry(registry)
    plan = GridPlan()
    for part in config.grids:
        for dataset in part.grid.datasets:
            for model in part.grid.models:
                _plan_pair(plan, part, registry, dataset, model, _weights_of(config, model))
    _add_references(plan, registry)
    plan.cells[:] = [dataclasses.replace(c, cost=cell_cost(c, registry)) for c in plan.cells]
    return plan


def _add_references(plan: GridPlan, registry: Registry) -> None:
    """Put one ``no-encoder`` cell after each dataset's first baseline when its modality declares
    a reference: evaluated by the union of that dataset's random-init evaluations, on its budget."""
    baselines: dict[str, list[Cell]] = {}
    for cell in plan.cells:
        if cell.is_baseline:
            baselines.setdefault(cell.dataset, []).append(cell)
    references: dict[int, Cell] = {}
    for dataset, cells in baselines.items():
        modality = registry.get("modality", registry.get("dataset", dataset).modality)
        if modality.reference_build is None:
            continue
        evaluations = {e.evaluator: e for c in cells for e in c.evaluations}
        if not evaluations:  # nothing would score it
            continue
        cell = Cell(dataset, REFERENCE_TASK, modality.reference_name, tuple(evaluations.values()), cells[0].run)
        references[plan.cells.index(cells[0])] = cell
    plan.cells[:] = [c for i, old in enumerate(plan.cells) for c in [old, *([references[i]] if i in references else [])]]


def model_options(config: Config, cell: Cell) -> Any:
    """The options a cell builds its model with: a ``random-init`` cell's without outside weights
    (the architecture alone, as the plain model), every other cell's as configured."""
    options = config.options_for("model", cell.model)
    if cell.is_baseline and getattr(options, WEIGHTS_OPTION, ""):
        return dataclasses.replace(options, **{WEIGHTS_OPTION: ""})
    return options


def _weights_of(config: Config, model: str) -> str | None:
    """The model's ``weights`` option ("" when unset), or None when it takes no such option."""
    return getattr(config.options.get(("model", model)), WEIGHTS_OPTION, None)


def _as_loaded_skip(dataset: str, model: str, weights: str | None) -> Skip | None:
    """Why the ``pretrained`` cell of (dataset, model) cannot run, if it cannot."""
    if weights is None:
        return Skip(dataset, AS_LOADED, model, f"model {model!r} takes no {WEIGHTS_OPTION!r} option, so there is "
                    "nothing to evaluate as loaded")
    if not weights:
        return Skip(dataset, AS_LOADED, model, f"model {model!r} has no outside weights; set [models.{model}] "
                    f"{WEIGHTS_OPTION} = \"<file, folder or hub source>\" to evaluate it as loaded")
    return None


def _plan_pair(plan: GridPlan, config: Any, registry: Registry, dataset: str, model: str,
               weights: str | None = None) -> None:
    data_spec, model_spec = registry.get("dataset", dataset), registry.get("model", model)
    try:
        modality_spec = registry.get("modality", data_spec.modality)
    except UnknownComponentError as err:
        reason = f"dataset {dataset!r} has modality {data_spec.modality!r}, which no loaded plugin provides"
        if isinstance(err, AmbiguousNameError):
            reason = f"dataset {dataset!r}: {err}"
        plan.skipped.append(Skip(dataset, "*", model, reason))
        return
    if data_spec.modality not in model_spec.modalities:
        accepts = ", ".join(sorted(model_spec.modalities))
        reason = f"model {model!r} accepts {accepts}, not dataset {dataset!r}'s modality {data_spec.modality!r}"
        plan.skipped.append(Skip(dataset, "*", model, reason))
        return
    provided = capabilities_by_source(data_spec, model_spec, modality_spec)
    cells = [_as_loaded_cell(plan, config, registry, dataset, model, provided, weights) if task == AS_LOADED
             else _task_cell(plan, config, registry, dataset, task, model, provided) for task in config.grid.tasks]
    cells = [c for c in cells if c is not None]
    if cells and any(c.key == f"{dataset}/{BASELINE_TASK}/{model}" for c in plan.cells):
        plan.cells.extend(cells)  # another grid already holds this pair's baseline
        return
    if cells:
        baseline = _cell(plan, config, registry, dataset, BASELINE_TASK, model, provided)
        references = _references(registry, cells)
        plan.cells.append(dataclasses.replace(baseline, references=references))
        plan.cells.extend(cells)


def _references(registry: Registry, cells: list[Cell]) -> tuple[EvalPlan, ...]:
    """Evaluations of the pair's pretrained cells whose evaluator defines reference baselines."""
    found: dict[str, EvalPlan] = {}
    for cell in cells:
        for plan in cell.evaluations:
            if registry.get("evaluator", plan.evaluator).baselines is not None:
                found.setdefault(plan.evaluator, plan)
    return tuple(found.values())


def label_capabilities(label_sets: dict[str, str]) -> frozenset[str]:
    """``labels:<kind>`` for each kind of label set a dataset has (e.g. ``labels:class``):
    what a supervised reference task needs."""
    return frozenset(f"labels:{kind}" for kind in label_sets.values())


def capabilities_by_source(data_spec: DatasetSpec, model_spec: ModelSpec,
                           modality_spec: ModalitySpec | None) -> dict[str, frozenset[str]]:
    """What the modality, the dataset (its label kinds included) and the model of a pair
    provide, keyed by who provides it (skip reasons name them). The one place these rules
    live: the planner and ``sslbench.testing``'s kit both use it."""
    provided = {} if modality_spec is None else {f"modality {modality_spec.name!r}": frozenset(modality_spec.provides)}
    provided[f"dataset {data_spec.name!r}"] = frozenset(data_spec.provides) | label_capabilities(data_spec.label_sets)
    provided[f"model {model_spec.name!r}"] = frozenset(model_spec.provides)
    return provided


def usable_label_sets(label_sets: Mapping[str, str], label_kinds: Collection[str]) -> tuple[str, ...]:
    """The dataset's label sets whose kind an evaluator accepts, in the dataset's order."""
    return tuple(ls for ls, kind in label_sets.items() if kind in label_kinds)


def _as_loaded_cell(plan, config, registry, dataset, model, provided, weights) -> Cell | None:
    skip = _as_loaded_skip(dataset, model, weights)
    if skip is not None:
        plan.skipped.append(skip)
        return None
    return _cell(plan, config, registry, dataset, AS_LOADED, model, provided)


def _task_cell(plan, config, registry, dataset, task, model, provided) -> Cell | None:
    spec = registry.get("task", task)
    missing = sorted(spec.needs - all_capabilities(provided))
    if missing:
        who = "; ".join(f"{name} provides {', '.join(sorted(caps)) or 'nothing'}" for name, caps in provided.items())
        plan.skipped.append(Skip(dataset, task, model, f"task {task!r} needs {', '.join(missing)}: {who}"))
        return None
    return _cell(plan, config, registry, dataset, task, model, {**provided, f"task {task!r}": spec.provides})


def _cell(plan, config, registry, dataset, task, model, provided) -> Cell:
    label_sets = registry.get("dataset", dataset).label_sets
    evaluations = []
    for name in config.grid.evaluators:
        spec = registry.get("evaluator", name)
        missing = sorted(spec.needs - all_capabilities(provided))
        usable = usable_label_sets(label_sets, spec.label_kinds)
        if missing:
            plan.skipped.append(Skip(dataset, task, model, f"needs {', '.join(missing)}, which this cell lacks", name))
        elif spec.label_kinds and not usable:
            kinds = ", ".join(sorted(spec.label_kinds))
            have = ", ".join(f"{ls} ({k})" for ls, k in label_sets.items()) or "none"
            plan.skipped.append(Skip(dataset, task, model, f"needs a label set of kind {kinds}; dataset has {have}", name))
        else:
            evaluations.append(EvalPlan(name, usable if spec.label_kinds else (None,)))
    return Cell(dataset, task, model, tuple(evaluations), config.run)


def all_capabilities(provided: dict[str, frozenset[str]]) -> frozenset[str]:
    """Everything that ``capabilities_by_source``'s sources provide together."""
    return frozenset().union(*provided.values())
