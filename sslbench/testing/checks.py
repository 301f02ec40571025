"""The conformance checks: what every registered component must do, kind by kind.

Each ``check_*`` function raises :class:`ConformanceError` (an ``AssertionError``)
naming the component and the broken contract, or :class:`~sslbench.testing.kit.NotApplicable`
when the loaded plugins offer nothing to check it with. The contracts are those of
``sslbench/specs.py`` (``KNOWN_CAPABILITIES``), ``sslbench/contexts.py`` and the runner:

- options: the defaults build, the dataclass is frozen, the values serialise to JSON
  (they land in every result row) and ``sslbench list`` can describe the component;
- dataset: splits of tensors whose batches hold the pretrain keys, the declared label
  sets with the right kinds, the contracts of the capabilities it declares;
- modality: ``views``, ``tokens``, ``frames`` as declared, random draws from torch's
  global generator (the runner checkpoints and restores it);
- model: ``EncoderOutput`` with ``pooled`` (B, embed_dim), ``sequence`` when declared,
  ``token_embeddings``/``item_embeddings``/frame masking when declared, the same
  weights from the same seed, gradients that reach the parameters;
- task: a finite scalar loss, a few optimizer steps on one fixed batch lower it, the
  encoder's parameters are trained, the state dict survives ``torch.load(weights_only=True)``;
- evaluator: finite float metrics on a tiny cell, the same for the same seed, rows that
  survive a JSON round trip with every required key.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sslbench.config import RunConfig
from sslbench.contexts import EncoderOutput, EvalContext
from sslbench.data_api import LoadedDataset, TensorSplit
from sslbench.listing import describe
from sslbench.options import options_as_dict
from sslbench.results import REQUIRED_KEYS, make_row
from sslbench.testing.kit import Kit, NotApplicable
from sslbench.train import make_optimizer


class ConformanceError(AssertionError):
    """A component breaks a contract; the message names the component and the contract."""


def expect(condition: Any, who: str, message: str) -> None:
    """Raise :class:`ConformanceError` ``"<who>: <message>"`` unless ``condition``."""
    if not condition:
        raise ConformanceError(f"{who}: {message}")


def _who(spec: Any) -> str:
    return f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r})"


# --- every component ---------------------------------------------------------------------


def check_declaration(spec: Any) -> None:
    """Options build from their defaults, are frozen, serialise to JSON; the listing works."""
    who = _who(spec)
    expect(dataclasses.is_dataclass(spec.options), who, "options must be a dataclass type")
    expect(spec.options.__dataclass_params__.frozen, who,
           f"options {spec.options.__name__} must be a frozen dataclass (@dataclass(frozen=True))")
    try:
        options = spec.options()
    except (TypeError, ValueError) as err:
        raise ConformanceError(f"{who}: options {spec.options.__name__}() fail with their defaults: {err}") from None
    values = options_as_dict(options)
    _expect_json(values, who, "options (they are written into every result row)")
    _expect_json(describe(spec), who, "its `sslbench list --json` description")
    expect(spec.description, who, "give a one-line description (shown by `sslbench list`)")


def _expect_json(value: Any, who: str, what: str) -> None:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConformanceError(f"{who}: {what} must serialise to JSON: {err}") from None
    expect(json.loads(text) == json.loads(json.dumps(value, sort_keys=True)), who,
           f"{what} must survive a JSON round trip")


# --- datasets ------------------------------------------------------------------------------


def check_dataset(kit: Kit, name: str) -> None:
    """The tiny dataset's splits, label sets and declared capabilities."""
    spec = kit.registry.get("dataset", name)
    who = _who(spec)
    data = kit.dataset(name)
    expect(isinstance(data, LoadedDataset), who,
           f"build/example must return a LoadedDataset, got {type(data).__name__}")
    pretrain_keys = set(kit.batch(name, "pretrain"))
    for split_name in ("pretrain", "train", "test", *data.extra_splits):
        split = data.split(split_name)
        expect(isinstance(split, TensorSplit) and len(split) > 0, who,
               f"split {split_name!r} must be a non-empty TensorSplit")
        batch = kit.batch(name, split_name)
        _expect_batch(batch, who, f"a batch of split {split_name!r}")
        if split_name in ("train", "test"):
            missing = pretrain_keys - set(batch)
            expect(not missing, who, f"{split_name} batches lack {sorted(missing)}, which pretrain batches hold "
                   "(encoders trained on pretrain batches embed train and test batches)")
    for label_set, kind in spec.label_sets.items():
        for split_name in ("train", "test"):
            _expect_labels(data.split(split_name), label_set, kind, who, split_name)
    for capability in spec.provides:
        check = DATASET_CAPABILITIES.get(capability)
        if check is not None:
            check(data, who)


def _expect_batch(batch: Any, who: str, what: str) -> None:
    expect(isinstance(batch, Mapping) and batch, who, f"{what} must be a non-empty dict of tensors")
    sizes = {k: len(v) for k, v in batch.items() if isinstance(v, Tensor) and v.ndim}
    expect(all(isinstance(v, Tensor) for v in batch.values()), who, f"{what} must hold only tensors")
    expect(len(set(sizes.values())) == 1, who, f"{what}: tensors must share the batch dimension, got {sizes}")


def _expect_labels(split: TensorSplit, label_set: str, kind: str, who: str, split_name: str) -> None:
    labels = split.labels.get(label_set)
    expect(labels is not None, who, f"declares label set {label_set!r} but split {split_name!r} lacks it "
           f"(has {sorted(split.labels) or 'none'})")
    if kind == "class":
        expect(labels.dtype == torch.long and labels.ndim == 1 and int(labels.min()) >= 0, who,
               f"class label set {label_set!r} ({split_name}) must be (N,) long ids >= 0, "
               f"got {labels.dtype} {tuple(labels.shape)}")
    else:
        expect(labels.is_floating_point() and labels.ndim == 2, who,
               f"multilabel label set {label_set!r} ({split_name}) must be (N, C) float, "
               f"got {labels.dtype} {tuple(labels.shape)}")


def _next_item(data: LoadedDataset, who: str) -> None:
    table = data.extras.get("next_item", {})
    for split in ("valid", "test"):
        entry = table.get(split)
        expect(entry is not None and {"targets", "seen"} <= set(entry), who,
               f"provides next-item but extras['next_item'][{split!r}] lacks targets/seen")
        expect(len(entry["targets"]) == len(entry["seen"]) == len(data.split(split)), who,
               f"next-item targets/seen of {split!r} must align with its rows")
    expect("item_counts" in data.extras, who, "provides next-item but extras lacks 'item_counts'")


def _item_labels(data: LoadedDataset, who: str) -> None:
    for name, entry in data.extras.get("item_labels", {}).items():
        expect({"labels", "labelled", "names"} <= set(entry), who,
               f"item label set {name!r} needs labels, labelled, names")
        expect(entry["labels"].shape[1] == len(entry["names"]), who, f"item label set {name!r}: one name per column")


def _sentence_pairs(data: LoadedDataset, who: str) -> None:
    expect("pretrain-pairs" in data.extra_splits, who,
           "provides sentence-pairs but has no extra split 'pretrain-pairs'")
    batch = data.split("pretrain-pairs").batch(torch.arange(min(2, len(data.split("pretrain-pairs")))))
    expect("next_sentence_label" in batch, who, "pretrain-pairs batches need next_sentence_label (B,)")


DATASET_CAPABILITIES = {"next-item": _next_item, "item-labels": _item_labels, "sentence-pairs": _sentence_pairs}
"""Dataset capabilities whose contract the kit checks (others are only declared)."""


# --- modalities ----------------------------------------------------------------------------


def check_modality(kit: Kit, name: str) -> None:
    """The modality builds on each of its datasets' info and honours what it provides."""
    spec = kit.registry.get("modality", name)
    who = _who(spec)
    checked, reasons = 0, []
    for dataset in kit.datasets_of(name):
        try:
            batch = kit.batch(dataset)
        except NotApplicable as err:
            reasons.append(str(err))
            continue
        modality = kit.modality(dataset)
        for capability in sorted(spec.provides):
            check = MODALITY_CAPABILITIES.get(capability)
            if check is not None:
                check(kit, modality, batch, f"{who} on dataset {dataset!r}")
        checked += 1
    if not checked:
        raise NotApplicable(f"modality {name!r}: no dataset of it loads without files"
                            + (f": {'; '.join(reasons)}" if reasons else " (none registered)"))


def _views(kit: Kit, modality: Any, batch: dict, who: str) -> None:
    before = {k: v.clone() for k, v in batch.items()}
    torch.manual_seed(kit.options.seed)
    a, b = modality.views(batch)
    for view in (a, b):
        _expect_batch(view, who, "views(batch)")
        expect(len(next(iter(view.values()))) == len(next(iter(batch.values()))), who, "views keep the batch size")
    expect(set(a) == set(b), who,
           f"views(batch) must return two batches with the same keys, got {sorted(a)} / {sorted(b)}")
    expect(all(torch.equal(before[k], batch[k]) for k in before), who,
           "views(batch) must not change the batch in place")
    torch.manual_seed(kit.options.seed)
    again = modality.views(batch)
    same = all(torch.equal(x[k], y[k]) for x, y in zip((a, b), again) for k in x)
    expect(same, who, "views must draw randomness from torch's global generator (the same seed must give the same "
           "views), so that the runner can checkpoint and restore it")


def _tokens(kit: Kit, modality: Any, batch: dict, who: str) -> None:
    ids, maskable = modality.tokens(batch)
    expect(ids.dtype == torch.long and ids.ndim == 2, who,
           f"tokens(batch) ids must be (B, T) long, got {ids.dtype} {tuple(ids.shape)}")
    expect(maskable.dtype == torch.bool and maskable.shape == ids.shape, who,
           "tokens(batch) maskable must be (B, T) bool like ids")
    vocab, mask_id = getattr(modality, "vocab_size", None), getattr(modality, "mask_token_id", None)
    expect(isinstance(vocab, int) and isinstance(mask_id, int), who,
           "tokens needs int attributes vocab_size and mask_token_id")
    expect(0 <= mask_id < vocab and int(ids.max()) < vocab, who,
           f"ids and mask_token_id must lie in [0, vocab_size={vocab})")
    masked = torch.where(maskable, torch.full_like(ids, mask_id), ids)
    back, _ = modality.tokens(modality.with_tokens(batch, masked))
    expect(torch.equal(back, masked), who, "tokens(with_tokens(batch, ids)) must give back ids")


def _frames(kit: Kit, modality: Any, batch: dict, who: str) -> None:
    features, valid = modality.frames(batch)
    expect(features.is_floating_point() and features.ndim == 3, who,
           f"frames(batch) features must be (B, T, F) float, got {tuple(features.shape)}")
    expect(valid.dtype == torch.bool and valid.shape == features.shape[:2], who,
           "frames(batch) valid must be (B, T) bool")


MODALITY_CAPABILITIES = {"views": _views, "tokens": _tokens, "frames": _frames}
"""Modality capabilities whose contract the kit checks."""


# --- models --------------------------------------------------------------------------------


def check_model(kit: Kit, name: str) -> None:
    """On the first loadable dataset of each modality it accepts: outputs, declarations, seeding."""
    spec = kit.registry.get("model", name)
    checked, reasons = 0, []
    for modality in sorted(spec.modalities):
        try:
            dataset, _ = kit.cheapest([(d, name) for d in kit.datasets_of(modality)], f"model {name!r} on {modality}")
        except NotApplicable as err:
            reasons.append(str(err))
            continue
        _check_model_on(kit, spec, dataset)
        checked += 1
    if not checked:
        raise NotApplicable("; ".join(reasons))


def _check_model_on(kit: Kit, spec: Any, dataset: str) -> None:
    who = f"{_who(spec)} on dataset {dataset!r}"
    encoder = kit.encoder(dataset, spec.name)
    expect(isinstance(encoder, nn.Module), who, f"build must return an nn.Module, got {type(encoder).__name__}")
    dim = getattr(encoder, "embed_dim", None)
    expect(isinstance(dim, int) and dim > 0, who, f"the encoder needs an int embed_dim > 0, got {dim!r}")
    twin = kit.encoder(dataset, spec.name)
    same = all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), twin.state_dict().values()))
    expect(same, who, "two builds after the same torch.manual_seed must be equal (random-init rows rely on it); "
           "draw initial weights from torch's global generator")
    for split in ("pretrain", "test"):
        batch = kit.batch(dataset, split)
        with torch.no_grad():
            out = encoder.eval()(batch)
        _expect_output(out, len(next(iter(batch.values()))), dim, spec, who)
    for capability in sorted(spec.provides):
        check = MODEL_CAPABILITIES.get(capability)
        if check is not None:
            check(kit, encoder, dataset, who)
    _expect_gradients(encoder.train(), kit.batch(dataset), who)


def _expect_output(out: Any, size: int, dim: int, spec: Any, who: str) -> None:
    expect(isinstance(out, EncoderOutput), who, f"forward must return sslbench.EncoderOutput, got {type(out).__name__}")
    pooled = out.pooled
    expect(isinstance(pooled, Tensor) and tuple(pooled.shape) == (size, dim), who,
           f"pooled must be (B, embed_dim) = {(size, dim)}, got {tuple(getattr(pooled, 'shape', ()))}")
    expect(pooled.is_floating_point() and torch.isfinite(pooled).all(), who, "pooled must be finite floats")
    if "sequence" not in spec.provides:
        return
    seq = out.sequence
    expect(isinstance(seq, Tensor) and seq.ndim == 3 and seq.shape[0] == size and seq.shape[2] == dim, who,
           "declares sequence: EncoderOutput.sequence must be (B, T, embed_dim), "
           f"got {None if seq is None else tuple(seq.shape)}")
    if out.mask is not None:
        expect(out.mask.dtype == torch.bool and out.mask.shape == seq.shape[:2], who,
               "mask must be (B, T) bool like sequence")


def _expect_gradients(encoder: nn.Module, batch: dict, who: str) -> None:
    encoder.zero_grad(set_to_none=True)
    encoder(batch).pooled.float().pow(2).mean().backward()
    reached = [p for p in encoder.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    expect(reached, who, "no parameter gets a gradient from pooled; the encoder cannot be trained")
    encoder.zero_grad(set_to_none=True)


def _token_embeddings(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    table = encoder.token_embeddings()
    expect(isinstance(table, nn.Embedding), who,
           f"token_embeddings() must return nn.Embedding, got {type(table).__name__}")
    vocab = getattr(kit.modality(dataset), "vocab_size", None)
    if vocab is not None:
        expect(table.num_embeddings >= vocab, who,
               f"token_embeddings() has {table.num_embeddings} rows < vocab_size {vocab}")


def _item_embeddings(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    table = encoder.item_embeddings()
    expect(isinstance(table, Tensor) and table.ndim == 2, who, "item_embeddings() must return a (V, D) tensor")


def _frame_masking(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    modality, batch = kit.modality(dataset), kit.batch(dataset)
    if not hasattr(modality, "frames"):
        return
    stride = getattr(encoder, "frame_stride", None)
    expect(isinstance(stride, int) and stride >= 1, who, "declares frame-masking but has no int frame_stride")
    frames = modality.frames(batch)[0].shape[1]
    mask = torch.zeros(len(next(iter(batch.values()))), math.ceil(frames / stride), dtype=torch.bool)
    mask[:, : max(1, mask.shape[1] // 2)] = True
    with torch.no_grad():
        plain = encoder.eval()(batch).pooled
        masked = encoder(dict(batch, frame_mask=mask)).pooled
    expect(not torch.allclose(plain, masked), who, "declares frame-masking but batch['frame_mask'] changes nothing")


MODEL_CAPABILITIES = {"token-embeddings": _token_embeddings, "item-embeddings": _item_embeddings,
                      "frame-masking": _frame_masking}
"""Encoder capabilities whose contract the kit checks."""


# --- tasks ---------------------------------------------------------------------------------


def check_task(kit: Kit, name: str, modality: str | None = None) -> None:
    """In the cheapest compatible cell (of ``modality``): loss, learning, parameters, state dict."""
    spec = kit.registry.get("task", name)
    what = f"task {name!r}" + (f" on {modality}" if modality else "")
    dataset, model = kit.cheapest(kit.task_pairs(name, modality), what)
    who = f"{_who(spec)} with model {model!r} on dataset {dataset!r}"
    data = kit.dataset(dataset)
    expect(spec.split in ("pretrain", "train", "test", *data.extra_splits), who,
           f"trains on split {spec.split!r}, which the dataset lacks")
    encoder, task = kit.task(dataset, model, name)
    expect(isinstance(task, nn.Module), who, f"build must return an nn.Module, got {type(task).__name__}")
    params = {id(p) for p in task.parameters()}
    expect(all(id(p) in params for p in encoder.parameters()), who,
           "the task's parameters must include its encoder's (the runner trains task.parameters())")
    _expect_learns(kit, task, kit.batch(dataset, spec.split), who)
    _expect_state_dict_round_trip(kit, task, dataset, model, name, who)
    if "mlm-head" in spec.provides:
        _expect_mlm_head(kit, task, encoder, dataset, who)


def _loss(kit: Kit, task: nn.Module, batch: dict, who: str) -> Tensor:
    torch.manual_seed(kit.options.seed)  # the same views and masks at every step: a fixed batch
    out = task(batch)
    expect(isinstance(out, Mapping) and "loss" in out, who, "forward(batch) must return a dict with 'loss'")
    loss = out["loss"]
    expect(isinstance(loss, Tensor) and loss.ndim == 0 and loss.is_floating_point(), who,
           f"loss must be a scalar float tensor, got {getattr(loss, 'shape', type(loss).__name__)}")
    expect(torch.isfinite(loss), who, f"loss must be finite, got {loss.item()}")
    return loss


def _expect_learns(kit: Kit, task: nn.Module, batch: dict, who: str) -> None:
    """``steps`` AdamW steps on one batch, with the same random draws each time, lower the loss."""
    task.train()
    run = RunConfig(lr=kit.options.lr, weight_decay=0.0)
    optimizer = make_optimizer(task, run)
    first = None
    for _ in range(kit.options.steps):
        loss = _loss(kit, task, batch, who)
        expect(loss.requires_grad, who, "loss must require grad (it is built from trainable parameters)")
        first = loss.item() if first is None else first
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        last = _loss(kit, task, batch, who).item()
    target = first - kit.options.min_decrease * max(abs(first), 1e-6)
    expect(last < target, who, f"{kit.options.steps} AdamW steps (lr {kit.options.lr}) on one fixed batch must lower "
           f"the loss by {kit.options.min_decrease:.0%}: {first:.6g} -> {last:.6g}")


def _expect_state_dict_round_trip(kit: Kit, task: nn.Module, dataset: str, model: str, name: str, who: str) -> None:
    buffer = io.BytesIO()
    torch.save(task.state_dict(), buffer)
    buffer.seek(0)
    try:
        state = torch.load(buffer, weights_only=True)
    except Exception as err:  # pickle errors of any kind: the checkpoint would not load on resume
        raise ConformanceError(f"{who}: state_dict() must load with torch.load(weights_only=True) "
                               f"(checkpoints do): {type(err).__name__}: {err}") from None
    _, fresh = kit.task(dataset, model, name)
    try:
        fresh.load_state_dict(state)
    except RuntimeError as err:
        raise ConformanceError(f"{who}: a fresh build must load the trained state dict: {err}") from None


def _expect_mlm_head(kit: Kit, task: nn.Module, encoder: nn.Module, dataset: str, who: str) -> None:
    with torch.no_grad():
        seq = encoder.eval()(kit.batch(dataset)).sequence
        logits = task.logits(seq)
    vocab = getattr(kit.modality(dataset), "vocab_size", None)
    expect(vocab is None or logits.shape[-1] == vocab, who, f"logits(sequence) must end in vocab_size {vocab}")


# --- evaluators ----------------------------------------------------------------------------


def check_evaluator(kit: Kit, name: str) -> None:
    """On the cheapest cell it runs on: finite float metrics, seeded, rows that serialise."""
    spec = kit.registry.get("evaluator", name)
    dataset, model, task = _eval_cell(kit, name)
    who = f"{_who(spec)} on ({dataset}, {task or 'random-init'}, {model})"
    encoder, module = kit.task(dataset, model, task) if task else (kit.encoder(dataset, model), None)
    encoder.requires_grad_(False).eval()
    if module is not None:
        module.eval()
    options = spec.options()
    for label_set in kit.label_sets(dataset, name):
        ctx = EvalContext(encoder=encoder, task=module, dataset=kit.dataset(dataset), modality=kit.modality(dataset),
                          label_set=label_set, device=torch.device("cpu"), seed=kit.options.seed, embed_batch_size=64)
        metrics = _expect_metrics(spec.run(ctx, options), who, "run")
        again = _expect_metrics(spec.run(dataclasses.replace(ctx, _cache={}), options), who, "run")
        expect(metrics == again, who, f"two runs with the same seed must agree: {metrics} vs {again}")
        if spec.baselines is not None:
            baselines = spec.baselines(ctx, options)
            expect(isinstance(baselines, Mapping), who, "baselines must return {name: {metric: value}}")
            for values in baselines.values():
                _expect_metrics(values, who, "baselines")
        _expect_rows(metrics, dataset, model, task, name, label_set, options, who)


def _eval_cell(kit: Kit, name: str) -> tuple[str, str, str | None]:
    """The cheapest cell the evaluator runs on: without a task if it can, else with the first task that fits."""
    cells, reasons = kit.eval_cells(name), []
    for with_task in (False, True):
        pairs = [(d, m) for d, m, t in cells if (t is not None) == with_task]
        try:
            dataset, model = kit.cheapest(pairs, f"evaluator {name!r}")
        except NotApplicable as err:
            reasons.append(str(err))
            continue
        return dataset, model, next(t for d, m, t in cells if (d, m) == (dataset, model))
    none = f"evaluator {name!r}: no (dataset, model, task) among the loaded plugins provides what it needs"
    raise NotApplicable(reasons[-1] if cells else none)


def _expect_metrics(metrics: Any, who: str, what: str) -> dict[str, float]:
    expect(isinstance(metrics, Mapping) and metrics, who, f"{what} must return a non-empty {{metric: value}} dict")
    for key, value in metrics.items():
        expect(isinstance(key, str) and key, who, f"{what}: metric names must be non-empty strings, got {key!r}")
        expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), who,
               f"{what}: metric {key!r} must be a finite float (not a tensor), got {value!r}")
    return {k: float(v) for k, v in metrics.items()}


def _expect_rows(metrics: dict[str, float], dataset: str, model: str, task: str | None, evaluator: str,
                 label_set: str | None, options: Any, who: str) -> None:
    for metric, value in metrics.items():
        identity = {"suite": "conformance", "dataset": dataset, "task": task or "random-init", "model": model,
                    "evaluator": evaluator, "label_set": label_set or "", "metric": metric, "seed": 0}
        row = make_row(identity, value, protocol=options_as_dict(options))
        missing = [k for k in REQUIRED_KEYS if k not in row]
        expect(not missing, who, f"a result row lacks {missing}")
        text = json.dumps(row, sort_keys=True, allow_nan=False)
        expect(json.loads(text) == row, who, f"a result row must survive a JSON round trip: {text[:200]}")
