"""Declarative specs that plugins return from the ``sslbench_register_*`` hooks.

A spec names a component, says what it needs and provides, and how to build it.
Compatibility between components is computed from these declarations alone
(:mod:`sslbench.plan.grid`), never by trying and catching errors.

Capabilities are plain strings. A modality, a dataset, a model and a task each
*provide* some; tasks and evaluators *need* some. A task runs on a (dataset, model)
pair when everything it needs is provided by the dataset's modality, the dataset
or the model. The built-in plugins use these names (see :data:`KNOWN_CAPABILITIES`).
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sslbench.options import NoOptions

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
TARGET_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

LABEL_KINDS = ("class", "multilabel")
"""``class``: (N,) long class ids; ``multilabel``: (N, C) float multi-hot."""

KNOWN_CAPABILITIES: dict[str, str] = {
    "views": "modality.views(batch) -> (view_a, view_b): two random augmentations of a batch",
    "tokens": "modality.tokens(batch) / .with_tokens(batch, ids): discrete token sequences with "
    "vocab_size, mask_token_id and a maskable-position mask",
    "frames": "modality.frames(batch): (features (B,T,F), valid (B,T)) real-valued frame sequences",
    "frame-masking": "the encoder replaces model frames where batch['frame_mask'] (B,T') is True by a learned "
    "vector after its front end; T' = ceil(T / encoder.frame_stride)",
    "sequence": "the encoder returns per-position features EncoderOutput.sequence (B,T,D)",
    "item-embeddings": "the encoder exposes item_embeddings() -> (V,D)",
    "next-item": "the dataset's extras['next_item'][split] = {'targets': (N,) long, 'seen': (N,S) long} for the "
    "rows of its 'valid' and 'test' splits, and extras['item_counts'] (V,) pretraining counts",
    "item-labels": "the dataset's extras['item_labels'][name] = {'labels': (V,G) float, 'labelled': (V,) bool, "
    "'names': [G names]}: label sets of items, not of samples",
    "token-embeddings": "the encoder exposes token_embeddings() -> nn.Embedding (V,D), e.g. to tie an MLM decoder",
    "sentence-pairs": "the dataset has an extra split 'pretrain-pairs' of [CLS] A [SEP] B [SEP] batches with "
    "next_sentence_label (B,) (0 = B continues A), B redrawn every batch",
    "mlm-head": "the trained task has logits(sequence (..., D)) -> (..., V) vocabulary logits",
    "labels:class": "the dataset has a class label set (added automatically from DatasetSpec.label_sets)",
    "labels:multilabel": "the dataset has a multilabel label set (added automatically)",
}
"""Capability names used by the built-in plugins, with the contract each implies."""


def _frozen(values: Iterable[str] | str) -> frozenset[str]:
    return frozenset([values] if isinstance(values, str) else values)


@dataclass(frozen=True, kw_only=True)
class ComponentSpec:
    """Fields every component shares.

    Args:
        name: the name users write in configs; lowercase letters, digits, ``-_.``.
        options: a frozen dataclass of the component's options with defaults; a
            config's ``[<kind>s.<name>]`` table is validated into an instance of it.
        description: one line for ``sslbench list``.
        reference: the paper or source the method follows.
        plugin: set by the registry to the name of the plugin that returned the spec.
        version: the component's version, a positive integer its author bumps when the meaning of
            an option's default changes (a new default value, or the same value computed another
            way). Results identify a component by its name, its options that differ from their
            defaults and, from 2 on, this version — so adding an option with a default keeps old
            results comparable, and a bump separates them (docs/layout.md#identity).
    """

    name: str
    options: type = field(default=None)  # type: ignore[assignment]  # NoOptions when None
    description: str = ""
    reference: str = ""
    plugin: str = ""
    version: int = 1

    kind = "component"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"{self.kind} name {self.name!r} is not allowed: use lowercase letters, digits, '-', '_' or '.'"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValueError(f"{self.kind} {self.name!r}: version must be a positive integer, got {self.version!r}")
        if self.options is None:
            object.__setattr__(self, "options", NoOptions)
        if not dataclasses.is_dataclass(self.options):
            raise TypeError(f"{self.kind} {self.name!r}: options must be a dataclass type, got {self.options!r}")
        missing = [f.name for f in dataclasses.fields(self.options) if _has_no_default(f)]
        if missing:
            raise TypeError(f"{self.kind} {self.name!r}: every option needs a default; missing: {', '.join(missing)}")

    def with_plugin(self, plugin: str) -> "ComponentSpec":
        """A copy of this spec tagged with the plugin that registered it."""
        return dataclasses.replace(self, plugin=plugin)


def _check_cost(spec: ComponentSpec) -> None:
    cost = spec.cost  # type: ignore[attr-defined]  # ModelSpec and TaskSpec have it
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost <= 0:
        raise ValueError(f"{spec.kind} {spec.name!r}: cost must be a positive number, got {cost!r}")


def _has_no_default(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]


@dataclass(frozen=True)
class LazyCallable:
    """A ``"module:function"`` reference, imported on its first call, as entry points are.

    A spec's ``build``, ``run``, ``example`` and ``baselines`` may be given so, which
    lets a plugin's hook module register its components without importing torch or
    its own heavy modules: ``sslbench list`` and ``--help`` then start in a fraction
    of a second, and a builder's module is imported only when a cell builds it.
    """

    target: str

    def __post_init__(self) -> None:
        if not TARGET_PATTERN.match(self.target):
            raise ValueError(f"{self.target!r} is not a 'module:function' reference, e.g. 'my_plugin.models:build'")

    def resolve(self) -> Callable[..., Any]:
        """The function named by ``target`` (its module imported on the first call)."""
        return _resolve(self.target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


_RESOLVED: dict[str, Callable[..., Any]] = {}


def _resolve(target: str) -> Callable[..., Any]:
    if target not in _RESOLVED:
        module_name, _, qualname = target.partition(":")
        value: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            try:
                value = getattr(value, part)
            except AttributeError:
                raise AttributeError(f"{target}: module {module_name!r} has no attribute {qualname!r}") from None
        if not callable(value):
            raise TypeError(f"{target}: {type(value).__name__} is not callable")
        _RESOLVED[target] = value
    return _RESOLVED[target]


def _check_callable(spec: ComponentSpec, attr: str) -> None:
    """A callable, or a ``"module:function"`` string kept as a :class:`LazyCallable`."""
    value = getattr(spec, attr)
    if isinstance(value, str):
        if not TARGET_PATTERN.match(value):
            raise TypeError(f"{spec.kind} {spec.name!r}: {attr} must be callable or a 'module:function' string "
                            f"such as 'my_plugin.models:build', got {value!r}")
        object.__setattr__(spec, attr, LazyCallable(value))
    elif not callable(value):
        raise TypeError(f"{spec.kind} {spec.name!r}: {attr} must be callable or a 'module:function' string")


@dataclass(frozen=True, kw_only=True)
class ModalitySpec(ComponentSpec):
    """A kind of input and the primitives tasks build on.

    Args:
        build: ``build(info, options) -> Modality``, called once per dataset with the
            dataset's ``info`` facts. This and every other builder field (``build``,
            ``run``, ``example``, ``baselines``) may instead be a ``"module:function"``
            string, imported on first use (:class:`LazyCallable`).
        provides: capabilities of every dataset of this modality (e.g. ``views``).
        reference_build: optional ``reference_build(dataset: LoadedDataset, options) -> nn.Module``:
            a feature map without an encoder (raw pixels, tf-idf, ...) that the grid
            evaluates beside ``random-init`` as task ``no-encoder`` (docs/references.md).
            ``options`` is the modality's options instance. The module has an int
            ``embed_dim`` and ``forward(batch) -> EncoderOutput``, plus whatever the
            evaluators of the modality's random-init cells use (e.g. ``item_embeddings()``).
            Anything it fits (an IDF, a co-occurrence matrix) comes from the ``pretrain``
            split, never from ``test``.
        reference_name: the reference's name: the ``model`` of its rows (e.g. ``raw-pixels``);
            required with ``reference_build``.
    """

    build: Callable[[Mapping[str, Any], Any], Any]
    provides: frozenset[str] = frozenset()
    reference_build: Callable[[Any, Any], Any] | None = None
    reference_name: str = ""
    kind = "modality"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "provides", _frozen(self.provides))
        _check_callable(self, "build")
        self._check_reference()

    def _check_reference(self) -> None:
        """``reference_build`` and ``reference_name`` come together; the name is a component name."""
        if self.reference_build is None:
            if self.reference_name:
                raise ValueError(f"modality {self.name!r}: reference_name {self.reference_name!r} needs a "
                                 "reference_build")
            return
        _check_callable(self, "reference_build")
        if not isinstance(self.reference_name, str) or not NAME_PATTERN.match(self.reference_name):
            raise ValueError(f"modality {self.name!r}: reference_name {self.reference_name!r} is not allowed: use "
                             "lowercase letters, digits, '-', '_' or '.' (required with reference_build)")


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(ComponentSpec):
    """A named source of one modality.

    Args:
        modality: the modality name of its batches.
        build: ``build(ctx: DatasetContext, options) -> LoadedDataset``.
        label_sets: label-set name → kind (``class`` or ``multilabel``) that the
            ``train``/``test`` splits carry.
        provides: extra capabilities this dataset offers beyond its modality's.
        data: optional data-layer spec (files, sources, checksums) for ``sslbench data``.
        license: the data's licence, for ``sslbench data list``.
        size: a human description of its size (e.g. ``"60,000 + 10,000 images"``).
        example: optional ``example(ctx: DatasetContext, options) -> LoadedDataset``: a few
            synthetic samples shaped like ``build``'s result (same batch keys, ``info`` keys,
            label sets, extras and extra splits), made without files or network.
            ``sslbench.testing``'s conformance suite runs tasks, models and evaluators on
            it (``ctx.data_root`` is then a temporary folder); the runner never calls it.
    """

    modality: str
    build: Callable[[Any, Any], Any]
    label_sets: Mapping[str, str] = field(default_factory=dict)
    provides: frozenset[str] = frozenset()
    data: Any = None
    license: str = ""
    size: str = ""
    example: Callable[[Any, Any], Any] | None = None
    kind = "dataset"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "provides", _frozen(self.provides))
        object.__setattr__(self, "label_sets", dict(self.label_sets))
        _check_callable(self, "build")
        if self.example is not None:
            _check_callable(self, "example")
        for label_set, kind in self.label_sets.items():
            if kind not in LABEL_KINDS:
                raise ValueError(
                    f"dataset {self.name!r}: label set {label_set!r} has kind {kind!r}; allowed: {', '.join(LABEL_KINDS)}"
                )


@dataclass(frozen=True, kw_only=True)
class ModelSpec(ComponentSpec):
    """An encoder: batch → ``EncoderOutput(sequence, pooled, mask)``.

    Args:
        modalities: the modalities whose batches it accepts.
        build: ``build(ctx: ModelContext, options) -> nn.Module`` with an int
            ``embed_dim`` attribute. A model that takes outside weights has a ``weights``
            option (:data:`sslbench.anchors.WEIGHTS_OPTION`) and marks the encoder it built
            from them with :func:`sslbench.weights.mark` (``weights_sha256``).
        provides: capabilities of the encoder (e.g. ``sequence``).
        export: optional ``export(encoder, options, dataset: LoadedDataset, folder: Path) -> dict``
            for ``sslbench export``: writes ``model.safetensors``, its config and whatever feeds the
            encoder (tokenizer files, …) into ``folder``, and returns the model card's facts:
            ``library_name``, ``load`` (Python code that loads the folder with the library, ``DIR``
            standing for its path), ``tags`` and ``weights_license``. Without it the encoder's
            ``state_dict`` is written as it is, loadable back through ``weights = DIR``.
        cost: the encoder's relative compute per sample, a hint for balancing ``--shard`` by
            cost (:mod:`sslbench.plan.cost`) known without building it: by convention its
            parameters in millions at default options; 1.0 when not given.
    """

    modalities: frozenset[str]
    build: Callable[[Any, Any], Any]
    provides: frozenset[str] = frozenset()
    export: Callable[..., Mapping[str, Any]] | None = None
    cost: float = 1.0
    kind = "model"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_cost(self)
        object.__setattr__(self, "modalities", _frozen(self.modalities))
        object.__setattr__(self, "provides", _frozen(self.provides))
        _check_callable(self, "build")
        if self.export is not None:
            _check_callable(self, "export")
        if not self.modalities:
            raise ValueError(f"model {self.name!r}: modalities must name at least one modality")


def check_encoder(spec: "ModelSpec", encoder: Any) -> None:
    """Right after ``ModelSpec.build``: the encoder is an ``nn.Module`` with an int ``embed_dim > 0``.

    Raises:
        PluginError: one line naming the plugin, the model and the attribute to set.
    """
    from torch import nn  # local: specs stays importable without touching torch's nn

    from sslbench.errors import PluginError

    who = f"plugin {spec.plugin!r}: model {spec.name!r}"
    if not isinstance(encoder, nn.Module):
        raise PluginError(f"{who}: ModelSpec.build returned {type(encoder).__name__}; return an nn.Module")
    dim = getattr(encoder, "embed_dim", None)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
        raise PluginError(f"{who}: the encoder ({type(encoder).__name__}) has embed_dim = {dim!r}; set "
                          "self.embed_dim = <width of EncoderOutput.pooled> (a positive int) in its __init__")


def declaration_warnings(spec: ComponentSpec) -> list[str]:
    """Declarations that are legal but probably wrong, each one line naming plugin, component and field.

    A pretraining task (``split == "pretrain"``) with no ``needs`` is paired with every
    dataset and model, so one that calls ``modality.views(...)`` (or tokens, frames)
    fails at run time on a modality without them; a task that truly needs nothing may
    ignore the warning.
    """
    if isinstance(spec, TaskSpec) and not spec.needs and spec.split == "pretrain":
        return [f"plugin {spec.plugin!r}: task {spec.name!r} declares no needs, so the grid pairs it with every "
                "dataset and model; if it calls ctx.modality.views (or tokens, frames), set "
                "TaskSpec(needs={'views'}) (the capabilities it uses)"]
    return []


@dataclass(frozen=True, kw_only=True)
class TaskSpec(ComponentSpec):
    """A pretext task: pseudo-labels, heads and a loss around an encoder.

    Args:
        build: ``build(ctx: TaskContext, options) -> nn.Module`` whose
            ``forward(batch)`` returns ``{"loss": scalar, **logs}``.
        needs: capabilities that the modality, dataset and model must provide together.
        provides: capabilities the trained task adds for evaluators (e.g. a head).
        split: the dataset split it trains on: ``pretrain`` (unlabeled), or another
            split the dataset offers (``train`` for a supervised reference, or an extra
            split such as sentence pairs — declare a capability in ``needs`` that only
            datasets offering that split provide).
        cost: encoder passes per training sample relative to one, a hint for balancing
            ``--shard`` by cost (:mod:`sslbench.plan.cost`): 2.0 for a task that encodes two
            views of each sample; 1.0 when not given.
    """

    build: Callable[[Any, Any], Any]
    needs: frozenset[str] = frozenset()
    provides: frozenset[str] = frozenset()
    split: str = "pretrain"
    cost: float = 1.0
    kind = "task"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_cost(self)
        object.__setattr__(self, "needs", _frozen(self.needs))
        object.__setattr__(self, "provides", _frozen(self.provides))
        _check_callable(self, "build")


@dataclass(frozen=True, kw_only=True)
class EvaluatorSpec(ComponentSpec):
    """A protocol on the frozen encoder that produces metrics.

    Args:
        run: ``run(ctx: EvalContext, options) -> {metric: value}``. Called once per
            compatible label set of the dataset (``ctx.label_set``), or once with
            ``ctx.label_set = None`` when ``label_kinds`` is empty.
        label_kinds: label kinds it can use (``class``, ``multilabel``); empty when
            it needs no labels.
        needs: capabilities the cell must offer (modality, dataset, model, task).
        baselines: optional ``baselines(ctx, options) -> {baseline_name: {metric: value}}``
            for reference rows that need no encoder (e.g. item popularity); run once
            per (dataset, model, seed) beside ``random-init``.
        higher_is_better: per metric name; metrics not named are higher-is-better.

    The options instance is the evaluator's protocol and lands in every result row.
    """

    run: Callable[[Any, Any], Mapping[str, float]]
    label_kinds: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    baselines: Callable[[Any, Any], Mapping[str, Mapping[str, float]]] | None = None
    higher_is_better: Mapping[str, bool] = field(default_factory=dict)
    kind = "evaluator"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "label_kinds", _frozen(self.label_kinds))
        object.__setattr__(self, "needs", _frozen(self.needs))
        _check_callable(self, "run")
        if self.baselines is not None:
            _check_callable(self, "baselines")
        bad = sorted(self.label_kinds - set(LABEL_KINDS))
        if bad:
            raise ValueError(f"evaluator {self.name!r}: unknown label kind {bad[0]!r}; allowed: {', '.join(LABEL_KINDS)}")


SPEC_TYPES: dict[str, type[ComponentSpec]] = {
    "modality": ModalitySpec,
    "dataset": DatasetSpec,
    "model": ModelSpec,
    "task": TaskSpec,
    "evaluator": EvaluatorSpec,
}
"""Component kind → spec class, in the order listings show them."""
