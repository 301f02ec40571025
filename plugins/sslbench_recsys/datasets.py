"""Recommendation datasets: MovieLens-100k through ``sslbench.data``, and a user's own log.

Both are split leave-one-out by time (:mod:`.splits`) into what the runner wants:

* ``pretrain``: every interaction but each user's last two, as rows of at most
  ``max_len`` items (longer histories become several rows; none is dropped);
* ``train`` = ``valid`` (``LoadedDataset.valid``, the same split): per user, the
  ``max_len`` items before the validation item (the second-to-last); ``test``: the
  ``max_len`` items before the test item (the last). The validation targets are
  the leave-one-out validation items, never a test item, so ``next-item`` with
  ``split = "valid"`` scores without touching test. No user labels: class-label
  evaluators skip these datasets, so no probe fits on ``train`` here. Item labels
  are per item: ``genre-probe`` carves its own fixed validation items
  (:mod:`.genre_probe`).
* ``extras["next_item"][split]`` = ``{"targets": (N,) long, "seen": (N, S) long}``
  aligned with the rows of ``valid``/``test`` (capability ``next-item``);
  ``extras["item_counts"]`` (V,) pretraining counts (the popularity baseline), also as
  ``extras["pretrain_token_counts"]``, the name token tasks read (as the text datasets do);
  ``extras["item_labels"][name]`` = ``{"labels": (V, G) float, "labelled": (V,) bool,
  "names": [...]}`` (capability ``item-labels``); ``extras["pretrain_users"]`` (N,) the user of
  each pretrain row (the ``item-knn`` reference joins a long history's rows back into one user).
* ``info``: ``vocab_size`` V (padding 0, unknown 1, items 2…V−2, [MASK] V−1),
  ``num_items``, ``mask_token_id``, ``max_len``, and ``stats`` (what the split
  dropped or kept out, logged at load).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sslbench import Batch, DatasetContext, LoadedDataset, TensorSplit, UsageError, fingerprint, warn_once
from sslbench.data import prepare

from .genre_probe import label_matrix
from .interactions import Interactions, read_interactions, read_movielens_100k
from .splits import LeaveOneOut, SequenceSplit, leave_one_out
from sslbench_recsys.sources import MOVIELENS_100K, MOVIELENS_100K_FILES  # noqa: F401  # torch-free: re-exported
from sslbench_recsys.options import (  # noqa: F401  # torch-free: re-exported
    MovieLens100kOptions, InteractionsCSVOptions, _check_max_len, MAX_LEN_HELP,
)

log = logging.getLogger(__name__)


# --- MovieLens-100k (Harper & Konstan, 2015) from RecBole's example files -------------------


# --- options ---------------------------------------------------------------------------------


# --- loaders -----------------------------------------------------------------------------------


def load_movielens_100k(ctx: DatasetContext, options: MovieLens100kOptions) -> LoadedDataset:
    """MovieLens-100k from the data cache, item genres as item label set ``genre``."""
    path = Path(options.path).expanduser() if options.path else None
    prepared = prepare(MOVIELENS_100K, root=ctx.data_root, local_path=path, progress=ctx.progress)
    interactions = _read("movielens-100k", read_movielens_100k, prepared.folder)
    return to_loaded_dataset("movielens-100k", interactions, options.max_len)


def load_interactions_csv(ctx: DatasetContext, options: InteractionsCSVOptions) -> LoadedDataset:
    """A user's log read with :func:`.interactions.read_interactions`; errors become one-line usage errors."""
    if options.path is None:
        raise UsageError("interactions-csv: set [datasets.interactions-csv] path to your log file "
                         "(columns user_id, item_id, timestamp; names configurable)")
    for key in ("path", "labels_path"):
        value = getattr(options, key)
        if value is not None and not Path(value).expanduser().is_file():
            raise UsageError(f"interactions-csv: {key} {value!r} is not a file")
    interactions = _read(
        "interactions-csv", read_interactions, Path(options.path).expanduser(), user_col=options.user_col,
        item_col=options.item_col, time_col=options.time_col, sep=options.sep,
        labels_path=Path(options.labels_path).expanduser() if options.labels_path else None,
        labels_item_col=options.labels_item_col, labels_col=options.labels_col, label_sep=options.label_sep,
        label_set=options.label_set,
    )
    return to_loaded_dataset("interactions-csv", interactions, options.max_len)


def _read(name: str, reader: Any, *args: Any, **kwargs: Any) -> Interactions:
    """Run a reader; its ValueErrors (missing column, bad timestamp, ...) are the user's to fix."""
    try:
        return reader(*args, **kwargs)
    except ValueError as err:
        raise UsageError(f"{name}: {err}") from None


def to_loaded_dataset(name: str, interactions: Interactions, max_len: int) -> LoadedDataset:
    """Split leave-one-out and lay the result out as the runner's splits, extras and info."""
    try:
        data = leave_one_out(interactions, max_len=max_len)
    except ValueError as err:
        raise UsageError(f"{name}: {err}") from None
    if len(data.test) == 0:
        raise UsageError(f"{name}: no user has 2 or more interactions, so nothing can be tested; "
                         "leave-one-out needs a history before each held-out item")
    _log_counts(name, data.stats)
    item_labels = {
        label_set: dict(zip(("labels", "labelled"), label_matrix(frame, data.vocab)), names=[str(c) for c in frame.columns])
        for label_set, frame in interactions.labels.items()
    }
    valid, test = _split(data.valid), _split(data.test)
    return LoadedDataset(
        pretrain=_split(data.pretrain), train=valid, test=test, valid=valid,
        info=_info(data, max_len, item_labels),
        extras={
            "next_item": {"valid": _targets(data.valid), "test": _targets(data.test)},
            "item_counts": data.vocab.counts, "pretrain_token_counts": data.vocab.counts,  # the same (V,) counts
            "item_labels": item_labels, "item_keys": list(data.vocab.keys),
            "pretrain_users": data.pretrain.users,  # (N,) user of each pretrain row (long histories: several rows)
        },
        fingerprint=fingerprint(
            data.pretrain.items, data.test.items, data.test.targets, data.valid.targets,
            *(t["labels"] for t in item_labels.values()),
        ),
    )


def _info(data: LeaveOneOut, max_len: int, item_labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "vocab_size": len(data.vocab), "num_items": len(data.vocab.keys), "mask_token_id": data.vocab.mask_id,
        "max_len": max_len, "item_label_sets": {k: v["names"] for k, v in item_labels.items()},
        "stats": dict(data.stats),
    }


def _log_counts(name: str, stats: dict[str, int]) -> None:
    """Say what the split kept out, in one line: the counted skips of bad input."""
    notes = []
    if stats["duplicates_dropped"]:
        notes.append(f"dropped {stats['duplicates_dropped']} duplicate (user, item, timestamp) rows")
    if stats["single_interaction_users"]:
        notes.append(f"kept {stats['single_interaction_users']} users with one interaction out of test "
                     "(they only pretrain)")
    unknown = stats["unknown_test_targets"]
    if unknown:
        notes.append(f"{unknown} test items never occur in pretraining (they count as misses)")
    if notes:
        warn_once(log, "%s: %s", name, "; ".join(notes))  # once per dataset and process; INFO after


def _split(split: SequenceSplit) -> TensorSplit:
    return TensorSplit(data={"items": split.items, "mask": split.mask}, finish=trim_padding)


def _targets(split: SequenceSplit) -> dict[str, Tensor]:
    return {"targets": split.targets, "seen": split.seen}


def trim_padding(batch: Batch) -> Batch:
    """Drop padding columns beyond the batch's longest row (rows are right-padded).

    Shape:
        items, mask (B, T) → (B, T'), T' = max(longest row, 1).
    """
    width = max(int(batch["mask"].sum(1).max()), 1) if len(batch["mask"]) else 1
    return {**batch, "items": batch["items"][:, :width], "mask": batch["mask"][:, :width]}


def eval_rows(dataset: LoadedDataset, split: str) -> SequenceSplit:
    """The ``valid`` or ``test`` rows with their targets and seen items, row ``r`` as user ``r``.

    Raises:
        ValueError: the dataset carries no next-item targets for ``split``.
    """
    try:
        extras = dataset.extras["next_item"][split]
    except KeyError:
        raise ValueError(f"this dataset has no next-item targets for split {split!r} "
                         "(extras['next_item'][split] with targets and seen)") from None
    data = dataset.split(split).data
    return SequenceSplit(items=data["items"], mask=data["mask"], users=torch.arange(len(data["items"])),
                         targets=extras["targets"], seen=extras["seen"])
