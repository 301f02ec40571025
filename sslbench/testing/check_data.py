"""Conformance of datasets and modalities: splits, label sets, capability contracts."""
from __future__ import annotations

from typing import Any

import torch

from sslbench.data_api import LoadedDataset, TensorSplit, batch_size_of
from sslbench.testing.checks import (
    ConformanceError,
    Problems,
    expect,
    expect_batch,
    who_of,
)
from sslbench.testing.kit import Kit, NotApplicable

# --- datasets ------------------------------------------------------------------------------


def check_dataset(kit: Kit, name: str, problems: Problems | None = None) -> None:
    """The tiny dataset's splits, label sets and declared capabilities; every problem is reported."""
    own, problems = problems is None, problems or Problems()
    spec = kit.registry.get("dataset", name)
    who = who_of(spec)
    data = kit.dataset(name)
    expect(isinstance(data, LoadedDataset), who,
           f"build/example must return a LoadedDataset, got {type(data).__name__}")
    pretrain_keys = set(kit.batch(name, "pretrain"))
    for split_name in data.split_names():
        with problems.check():
            _check_split(kit, data, name, split_name, pretrain_keys, who)
    for label_set, kind in spec.label_sets.items():
        for split_name in ("train", "test", *(["valid"] if data.valid is not None else [])):
            with problems.check():
                _expect_labels(data.split(split_name), label_set, kind, who, split_name)
    for capability in sorted(spec.provides):
        check = DATASET_CAPABILITIES.get(capability)
        if check is not None:
            with problems.check():
                check(data, who)
    if own:
        problems.raise_all()


def _check_split(kit: Kit, data: LoadedDataset, name: str, split_name: str, pretrain_keys: set[str], who: str) -> None:
    split = data.split(split_name)
    expect(isinstance(split, TensorSplit) and len(split) > 0, who,
           f"split {split_name!r} must be a non-empty TensorSplit")
    batch = kit.batch(name, split_name)
    expect_batch(batch, who, f"a batch of split {split_name!r}")
    if split_name in ("train", "valid", "test"):
        missing = pretrain_keys - set(batch)
        expect(not missing, who, f"{split_name} batches lack {sorted(missing)}, which pretrain batches hold "
               "(encoders trained on pretrain batches embed train and test batches)")


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


def check_modality(kit: Kit, name: str, problems: Problems | None = None) -> None:
    """The modality builds on each of its datasets' info and honours what it provides."""
    own, problems = problems is None, problems or Problems()
    spec = kit.registry.get("modality", name)
    who = who_of(spec)
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
                with problems.check():
                    check(kit, modality, batch, f"{who} on dataset {dataset!r}")
        if spec.reference_build is not None:
            with problems.check():
                _reference(kit, spec, dataset, f"{who} on dataset {dataset!r}")
        checked += 1
    if own:
        problems.raise_all()
    if not checked:
        raise NotApplicable(f"modality {name!r}: no dataset of it loads without files"
                            + (f": {'; '.join(reasons)}" if reasons else " (none registered)"))


def _views(kit: Kit, modality: Any, batch: dict, who: str) -> None:
    before = {k: v.clone() for k, v in batch.items()}
    torch.manual_seed(kit.options.seed)
    a, b = modality.views(batch)
    for view in (a, b):
        expect_batch(view, who, "views(batch)")
        expect(batch_size_of(view) == batch_size_of(batch), who, "views keep the batch size")
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


class _Hidden:
    """Stands for every split but ``pretrain`` while a reference fits: any use of it raises."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"a split other than pretrain was read (.{name})")


def _reference(kit: Kit, spec: Any, dataset: str, who: str) -> None:
    """``reference_build`` fits on the pretrain split alone and returns a deterministic feature map
    whose pooled width is its ``embed_dim``."""
    data = kit.dataset(dataset)
    hidden = LoadedDataset(pretrain=data.pretrain, train=_Hidden(), test=_Hidden(), info=data.info,  # type: ignore[arg-type]
                           extras=data.extras, extra_splits={name: _Hidden() for name in data.extra_splits})
    try:
        reference = spec.reference_build(hidden, spec.options())
    except Exception as err:  # noqa: BLE001 - any failure here is the contract's to report
        raise ConformanceError(f"{who}: reference_build must fit on dataset.pretrain only (train, test and extra "
                               f"splits hidden), but it raised {type(err).__name__}: {err}") from None
    dim = getattr(reference, "embed_dim", None)
    expect(isinstance(reference, torch.nn.Module) and isinstance(dim, int), who,
           f"reference_build must return an nn.Module with an int embed_dim, got {type(reference).__name__}")
    batch = kit.batch(dataset, "test")
    with torch.no_grad():
        pooled = reference.eval()(batch).pooled
        again = spec.reference_build(hidden, spec.options()).eval()(batch).pooled
    expect(pooled.shape == (batch_size_of(batch), dim), who,
           f"the reference's pooled output must be (B, embed_dim={dim}), got {tuple(pooled.shape)}")
    expect(bool(torch.isfinite(pooled).all()), who, "the reference's pooled output must be finite")
    expect(torch.equal(pooled, again), who, "two builds of the reference must give the same features (no randomness)")


MODALITY_CAPABILITIES = {"views": _views, "tokens": _tokens, "frames": _frames}
"""Modality capabilities whose contract the kit checks."""
