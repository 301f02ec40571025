"""The ``next-item`` and ``genre-probe`` evaluators on a frozen encoder, and the popularity row.

Both read what a recsys dataset lays out (:mod:`.datasets`): ``next-item`` the
``valid``/``test`` rows with ``extras["next_item"]`` targets and seen items (full
ranking, :mod:`.next_item`), ``genre-probe`` the item label sets of
``extras["item_labels"]`` (micro-F1, :mod:`.genre_probe`). Items are scored from
the encoder's ``item_embeddings()``.
"""
from __future__ import annotations

import torch

from sslbench import EvalContext

from .datasets import eval_rows
from .genre_probe import GenreProbeOptions, multilabel_probe
from .next_item import (
    NextItemOptions,
    Scorer,
    embedding_scorer,
    evaluate_next_item,
    fit_linear_probe,
    popularity_scorer,
)
from .splits import SequenceSplit


def run_next_item(ctx: EvalContext, options: NextItemOptions) -> dict[str, float]:
    """HR@K and NDCG@K of the frozen encoder on the ``split`` rows, as ``options`` declare."""
    return _rank(ctx, options, _scorer(ctx, options))


def popularity_baseline(ctx: EvalContext, options: NextItemOptions) -> dict[str, dict[str, float]]:
    """The ``popularity`` reference row: items ranked by pretraining count, the same for every user."""
    return {"popularity": _rank(ctx, options, popularity_scorer(ctx.dataset.extras["item_counts"]))}


def _rank(ctx: EvalContext, options: NextItemOptions, scorer: Scorer) -> dict[str, float]:
    return evaluate_next_item(
        scorer, eval_rows(ctx.dataset, options.split), k=options.k, exclude_seen=options.exclude_seen,
        blocked=_blocked(ctx), chunk_size=ctx.embed_batch_size, device=ctx.device,
    )


def _blocked(ctx: EvalContext) -> tuple[int, ...]:
    """Ids that are never candidates beyond padding and unknown: the [MASK] item."""
    mask_id = ctx.dataset.info.get("mask_token_id")
    return () if mask_id is None else (int(mask_id),)


def _scorer(ctx: EvalContext, options: NextItemOptions) -> Scorer:
    users = ctx.embeddings(options.split)  # (N, D), computed once per cell
    if options.scoring == "linear-probe":
        vocab_size = ctx.encoder.item_embeddings().shape[0]
        probe = fit_linear_probe(ctx.encoder, _pretrain_rows(ctx), vocab_size, options, ctx.device,
                                 seed=ctx.seed, chunk_size=ctx.embed_batch_size)
        return lambda batch: probe(users[batch["users"]])
    return embedding_scorer(users, ctx.encoder.item_embeddings().float(), cosine=options.scoring == "cosine")


def _pretrain_rows(ctx: EvalContext) -> SequenceSplit:
    data = ctx.dataset.pretrain.data
    return SequenceSplit(items=data["items"], mask=data["mask"], users=torch.arange(len(data["items"])))


def run_genre_probe(ctx: EvalContext, options: GenreProbeOptions) -> dict[str, float]:
    """Micro-F1 of a multi-label linear probe on the frozen item table, for one item label set."""
    label_sets = ctx.dataset.extras.get("item_labels", {})
    if options.label_set not in label_sets:
        have = ", ".join(sorted(label_sets)) or "none"
        raise ValueError(f"genre-probe: this dataset has no item label set {options.label_set!r} (it has: {have}); "
                         "give interactions-csv a labels_path, or set [evaluators.genre-probe] label_set")
    labels = label_sets[options.label_set]
    if int(labels["labelled"].sum()) < 4:
        raise ValueError(f"genre-probe: item label set {options.label_set!r} labels fewer than 4 items in the vocabulary")
    result = multilabel_probe(ctx.encoder.item_embeddings(), labels["labels"], labels["labelled"], options)
    if result["valid_items"]:
        ctx.record_choice(l2=result["l2"])
    return {"micro_f1": result["micro_f1"]}
