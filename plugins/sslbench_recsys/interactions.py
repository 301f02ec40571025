"""Read interaction logs into chronological per-user item sequences.

Two sources: MovieLens-100k as shipped in RecBole's atomic files
(``ml-100k.inter`` / ``ml-100k.item``, tab-separated, typed headers such as
``user_id:token``), and a user's own log (CSV or TSV with user, item and
timestamp columns, names configurable, plus an optional item-labels file).

Every interaction counts as implicit feedback (ratings are ignored), as in
SASRec (Kang & McAuley, 2018) and BERT4Rec (Sun et al., 2019).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

ML100K_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{ext}"
_TYPED_HEADER = re.compile(r":(token|token_seq|float|float_seq)$")

Source = str | Path


@dataclass(frozen=True, eq=False)
class Interactions:
    """A cleaned interaction log, sorted chronologically within each user.

    Attributes:
        log: columns ``user`` (str), ``item`` (str), ``timestamp`` (float64);
            rows sorted by user, then timestamp, then original file order, so
            ties in time keep the order of the file.
        labels: label-set name → multi-hot frame (index: item key, columns:
            label names, dtype bool), e.g. ``{"genre": ...}``.
        n_duplicates: duplicate (user, item, timestamp) rows dropped.
        n_single_interaction_users: users with exactly one interaction; they
            have no history to predict from, so splits keep them out of test.
        source: where the log came from, for messages.
    """

    log: pd.DataFrame
    labels: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_duplicates: int = 0
    n_single_interaction_users: int = 0
    source: str = ""

    @property
    def n_users(self) -> int:
        return int(self.log["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.log["item"].nunique())

    def sequences(self) -> dict[str, list[str]]:
        """User → chronological list of item keys (for inspection; not a batch path)."""
        return {u: list(g) for u, g in self.log.groupby("user", sort=False)["item"]}


def read_interactions(
    path: Source,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    sep: str | None = None,
    labels_path: Source | None = None,
    labels_item_col: str = "item_id",
    labels_col: str = "genre",
    label_sep: str = "|",
    label_set: str = "genre",
) -> Interactions:
    """Read a user's own interaction log (and optionally item labels).

    ``sep=None`` picks ``","`` for ``.csv`` files and a tab otherwise. Typed
    RecBole headers (``user_id:token``) are read as their plain names.
    The labels file has one row per item; ``labels_col`` holds the item's
    labels joined by ``label_sep`` (e.g. ``Action|Comedy``).

    Raises:
        ValueError: one line naming the file, the column and what is allowed,
            for a missing column, an empty user/item or a non-numeric timestamp.
    """
    frame = _read_table(path, str(path), sep)
    labels = {}
    if labels_path is not None:
        table = _read_table(labels_path, str(labels_path), sep)
        labels[label_set] = multi_hot_labels(
            table, str(labels_path), item_col=labels_item_col, labels_col=labels_col, sep=label_sep
        )
    return clean_log(frame, str(path), user_col=user_col, item_col=item_col, time_col=time_col, labels=labels)


def read_movielens_100k(source: Source) -> Interactions:
    """Read MovieLens-100k (Harper & Konstan, 2015) from RecBole's atomic files.

    ``source`` is either the ``recbole-1.2.1`` wheel (read with ``zipfile``,
    never imported) or a folder holding ``ml-100k.inter`` and ``ml-100k.item``.
    The genre tokens of ``.item`` (``class`` column) become label set ``genre``.
    """
    inter_name, inter = _open_ml100k(source, "inter")
    item_name, item = _open_ml100k(source, "item")
    frame = _read_table(inter, inter_name, "\t")
    genres = multi_hot_labels(_read_table(item, item_name, "\t"), item_name, item_col="item_id", labels_col="class", sep=" ")
    return clean_log(frame, inter_name, user_col="user_id", item_col="item_id", time_col="timestamp", labels={"genre": genres})


def clean_log(
    frame: pd.DataFrame,
    name: str,
    *,
    user_col: str,
    item_col: str,
    time_col: str,
    labels: dict[str, pd.DataFrame] | None = None,
) -> Interactions:
    """Validate, deduplicate and sort a raw table of string columns."""
    for col in (user_col, item_col, time_col):
        _require_column(frame, name, col, "user_col/item_col/time_col")
    log = pd.DataFrame(
        {
            "user": _non_empty(frame, name, user_col),
            "item": _non_empty(frame, name, item_col),
            "timestamp": _numeric(frame, name, time_col),
        }
    )
    before = len(log)
    log = log.drop_duplicates(["user", "item", "timestamp"], keep="first")
    n_duplicates = before - len(log)
    log = log.assign(_row=np.arange(len(log))).sort_values(["user", "timestamp", "_row"], kind="stable")
    log = log.drop(columns="_row").reset_index(drop=True)
    sizes = log.groupby("user", sort=False).size()
    return Interactions(
        log=log,
        labels=dict(labels or {}),
        n_duplicates=int(n_duplicates),
        n_single_interaction_users=int((sizes == 1).sum()),
        source=name,
    )


def multi_hot_labels(table: pd.DataFrame, name: str, *, item_col: str, labels_col: str, sep: str) -> pd.DataFrame:
    """One row per item, ``labels_col`` = labels joined by ``sep`` → bool multi-hot frame.

    Items listed more than once get the union of their labels; items with an
    empty label field keep an all-False row.
    """
    _require_column(table, name, item_col, "labels_item_col")
    _require_column(table, name, labels_col, "labels_col")
    items = _non_empty(table, name, item_col)
    tokens = table[labels_col].astype(str).str.split(sep)
    # ignore_index: explode repeats row labels, and pandas 3.0.0 refuses to align the duplicates in
    # crosstab ("cannot reindex on an axis with duplicate labels"; seen on the GPU image)
    long = pd.DataFrame({"item": items, "label": tokens}).explode("label", ignore_index=True)
    long["label"] = long["label"].str.strip()
    long = long[long["label"].notna() & (long["label"] != "")]
    hot = pd.crosstab(long["item"], long["label"]).astype(bool)
    hot = hot.reindex(pd.unique(items), fill_value=False)
    hot.index.name, hot.columns.name = "item", None
    return hot.sort_index(axis=1)


def _open_ml100k(source: Source, ext: str) -> tuple[str, IO[bytes]]:
    path = Path(source)
    member = ML100K_MEMBER.format(ext=ext)
    if path.is_dir():
        file = path / f"ml-100k.{ext}"
        return str(file), io.BytesIO(file.read_bytes())
    with zipfile.ZipFile(path) as wheel:
        return f"{path}!{member}", io.BytesIO(wheel.read(member))


def _read_table(source: Source | IO[bytes], name: str, sep: str | None) -> pd.DataFrame:
    if sep is None:
        sep = "," if name.lower().endswith(".csv") else "\t"
    quoting = csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE
    frame = pd.read_csv(source, sep=sep, dtype=str, keep_default_na=False, quoting=quoting)
    frame.columns = [_TYPED_HEADER.sub("", str(c)).strip() for c in frame.columns]
    return frame


def _require_column(frame: pd.DataFrame, name: str, col: str, option: str) -> None:
    if col not in frame.columns:
        raise ValueError(
            f"{name}: missing column {col!r}; columns found: {list(frame.columns)} (name the right one with {option})"
        )


def _non_empty(frame: pd.DataFrame, name: str, col: str) -> pd.Series:
    values = frame[col].astype(str).str.strip()
    empty = np.flatnonzero((values == "").to_numpy())
    if len(empty):
        raise ValueError(f"{name}: column {col!r} is empty on line {empty[0] + 2}; allowed: any non-empty id")
    return values


def _numeric(frame: pd.DataFrame, name: str, col: str) -> pd.Series:
    values = pd.to_numeric(frame[col].str.strip(), errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)))
    if len(bad):
        raise ValueError(
            f"{name}: column {col!r} line {bad[0] + 2} has {frame[col].iloc[bad[0]]!r}; "
            "allowed: numbers only (e.g. Unix seconds; convert dates before loading)"
        )
    return values.astype("float64")
