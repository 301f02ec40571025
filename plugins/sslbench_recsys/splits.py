"""Leave-one-out splits by time, the item vocabulary, and padded tensors.

Each user's last interaction is the test target, the one before it the
validation target, and everything earlier is pretraining data — the protocol of
SASRec (Kang & McAuley, 2018) and BERT4Rec (Sun et al., 2019). Users with two
interactions get a test row but no validation row; users with one interaction
only pretrain (they have no history to predict from).

Splits are stored as padded tensors, so a batch is one index operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .interactions import Interactions

PAD = 0
UNKNOWN = 1
FIRST_ITEM = 2


@dataclass(frozen=True, eq=False)
class ItemVocab:
    """Item keys ↔ ids. Id 0 is padding, 1 the unknown item, real items start at 2,
    and the last id, ``mask_id`` = V − 1, is a ``[MASK]`` item for masked-item tasks
    (BERT4Rec, Sun et al., 2019, put it after the items too): never a real item, never
    a candidate, distinct from the unknown item.

    Attributes:
        keys: item keys in id order; ``keys[i]`` has id ``i + 2``.
        counts: pretraining interaction count per id (0 for padding, unknown and [MASK]).

    Shape:
        counts: (V,) long, V = ``len(vocab)`` = number of items + 3.
    """

    keys: pd.Index
    counts: Tensor
    PAD: ClassVar[int] = PAD
    UNKNOWN: ClassVar[int] = UNKNOWN

    @classmethod
    def from_items(cls, items: pd.Series) -> ItemVocab:
        """Vocabulary over ``items`` (one entry per interaction), keys sorted."""
        freq = items.value_counts().sort_index()
        counts = torch.zeros(len(freq) + FIRST_ITEM + 1, dtype=torch.long)
        counts[FIRST_ITEM:-1] = torch.tensor(freq.to_numpy().copy(), dtype=torch.long)
        return cls(keys=pd.Index(freq.index.astype(str)), counts=counts)

    def __len__(self) -> int:
        return len(self.keys) + FIRST_ITEM + 1

    @property
    def mask_id(self) -> int:
        """The ``[MASK]`` item: the last id, V − 1."""
        return len(self.keys) + FIRST_ITEM

    def encode(self, keys: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Item keys → ids; keys outside the vocabulary → 1 (unknown)."""
        index = self.keys.get_indexer(pd.Index(np.asarray(keys, dtype=object)))
        return np.where(index < 0, UNKNOWN, index + FIRST_ITEM).astype(np.int64)

    def decode(self, ids: Tensor | np.ndarray) -> list[str]:
        """Ids → keys; padding, unknown and [MASK] come back as ``"<pad>"`` / ``"<unk>"`` / ``"<mask>"``."""
        ids = np.asarray(ids).reshape(-1)
        special = {PAD: "<pad>", UNKNOWN: "<unk>", self.mask_id: "<mask>"}
        return [special.get(int(i)) or str(self.keys[int(i) - FIRST_ITEM]) for i in ids]


@dataclass(frozen=True, eq=False)
class SequenceSplit:
    """Padded item sequences; row ``r`` belongs to user ``users[r]``.

    Attributes:
        items: chronological item ids, right-padded with 0.
        mask: True at real items.
        users: row → user index (into ``LeaveOneOut.users``).
        targets: the item to predict after ``items`` (evaluation splits only).
        seen: every item of the user before the target, untruncated and
            right-padded with 0, for excluding seen items from the ranking.

    Shape:
        items, mask: (N, T); users, targets: (N,); seen: (N, S) with S >= T.
    """

    items: Tensor
    mask: Tensor
    users: Tensor
    targets: Tensor | None = None
    seen: Tensor | None = None

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def batch(self, index: Tensor | slice) -> dict[str, Tensor]:
        """The rows at ``index`` as a batch dict (``items``, ``mask``, ``users``, and
        ``targets`` / ``seen`` where present). One index operation per tensor."""
        fields = {"items": self.items, "mask": self.mask, "users": self.users, "targets": self.targets, "seen": self.seen}
        return {k: v[index] for k, v in fields.items() if v is not None}


@dataclass(frozen=True, eq=False)
class LeaveOneOut:
    """The three splits of one dataset and the vocabulary built from ``pretrain``.

    ``stats`` counts what the split did (users, rows, users kept out of
    validation/test, unknown targets), to be logged with every run.
    """

    vocab: ItemVocab
    users: pd.Index
    pretrain: SequenceSplit
    valid: SequenceSplit
    test: SequenceSplit
    stats: dict[str, int] = field(default_factory=dict)


def leave_one_out(interactions: Interactions, *, max_len: int | None = 200) -> LeaveOneOut:
    """Split each user's chronological log: last → test, previous → valid, rest → pretrain.

    ``max_len`` bounds the sequence length T. Evaluation inputs keep the
    ``max_len`` most recent items (seen-item exclusion still uses the whole
    history). Pretraining histories longer than ``max_len`` become several rows
    of at most ``max_len`` items, cut from the most recent end, so no
    pretraining interaction is lost. ``None`` means no bound. The default 200 is
    SASRec's for ML-1M; it keeps >80% of ML-100k users in one row.
    """
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
    log = interactions.log
    if log.empty:
        raise ValueError(f"{interactions.source or 'the log'}: no interactions to split")
    codes, users = pd.factorize(log["user"], sort=False)
    length = np.bincount(codes)[codes]
    pos = log.groupby(codes, sort=False).cumcount().to_numpy()
    is_test = (pos == length - 1) & (length >= 2)
    is_valid = (pos == length - 2) & (length >= 3)
    is_pre = ~(is_test | is_valid)
    vocab = ItemVocab.from_items(log["item"][is_pre])
    ids = vocab.encode(log["item"].to_numpy())
    n_users = len(users)
    pretrain = _chunked_rows(codes[is_pre], pos[is_pre], np.bincount(codes[is_pre], minlength=n_users), ids[is_pre], max_len)
    valid = _eval_rows(codes, pos, ids, is_valid, max_len)
    test = _eval_rows(codes, pos, ids, is_test, max_len)
    stats = {
        "users": n_users,
        "items": len(vocab.keys),
        "pretrain_interactions": int(is_pre.sum()),
        "pretrain_rows": len(pretrain),
        "valid_users": len(valid),
        "test_users": len(test),
        "single_interaction_users": int(interactions.n_single_interaction_users),
        "users_without_valid": int(n_users - len(valid)),
        "duplicates_dropped": int(interactions.n_duplicates),
        "unknown_valid_targets": int((valid.targets == UNKNOWN).sum()),
        "unknown_test_targets": int((test.targets == UNKNOWN).sum()),
    }
    return LeaveOneOut(vocab=vocab, users=pd.Index(users), pretrain=pretrain, valid=valid, test=test, stats=stats)


def pad_rows(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, width: int) -> tuple[Tensor, Tensor]:
    """Scatter ``values`` to (rows, cols) of a zero (padding) matrix.

    Shape:
        rows, cols, values: (M,); returns items (n_rows, width) long and mask (n_rows, width) bool.
    """
    items = torch.zeros(n_rows, width, dtype=torch.long)
    mask = torch.zeros(n_rows, width, dtype=torch.bool)
    index = (torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long))
    items.index_put_(index, torch.as_tensor(values, dtype=torch.long))
    mask.index_put_(index, torch.ones(len(values), dtype=torch.bool))
    return items, mask


def _chunked_rows(user: np.ndarray, pos: np.ndarray, n_per_user: np.ndarray, ids: np.ndarray, max_len: int | None) -> SequenceSplit:
    """Rows of at most ``max_len`` items per user, cut from the most recent end, oldest row first."""
    length = n_per_user[user]
    step = int(n_per_user.max()) if max_len is None else max_len
    back = (length - 1 - pos) // step  # 0 = the most recent chunk
    start = np.maximum(length - (back + 1) * step, 0)
    n_chunks = -(-n_per_user // step)
    first_row = np.concatenate([[0], np.cumsum(n_chunks)[:-1]])
    row = first_row[user] + (n_chunks[user] - 1 - back)
    items, mask = pad_rows(row, pos - start, ids, int(n_chunks.sum()), min(step, int(n_per_user.max())))
    row_user = np.repeat(np.arange(len(n_per_user)), n_chunks)
    return SequenceSplit(items=items, mask=mask, users=torch.as_tensor(row_user, dtype=torch.long))


def _eval_rows(codes: np.ndarray, pos: np.ndarray, ids: np.ndarray, is_target: np.ndarray, max_len: int | None) -> SequenceSplit:
    """One row per user with a target: input = the ``max_len`` items before it, seen = all of them."""
    target_user = codes[is_target]
    n_rows, n_users = len(target_user), int(codes.max()) + 1
    row_of_user = np.full(n_users, -1)
    row_of_user[target_user] = np.arange(n_rows)
    history = np.zeros(n_users, dtype=np.int64)
    history[target_user] = pos[is_target]  # the target's position = how many items precede it
    before = (row_of_user[codes] >= 0) & (pos < history[codes])
    row, col, value, length = row_of_user[codes][before], pos[before], ids[before], history[codes][before]
    width_seen = max(int(history.max()), 1)
    seen, _ = pad_rows(row, col, value, n_rows, width_seen)
    width = width_seen if max_len is None else min(max_len, width_seen)
    start = np.maximum(length - width, 0)  # keep the most recent ``width`` items
    keep = col >= start
    items, mask = pad_rows(row[keep], (col - start)[keep], value[keep], n_rows, width)
    return SequenceSplit(
        items=items,
        mask=mask,
        users=torch.as_tensor(target_user, dtype=torch.long),
        targets=torch.as_tensor(ids[is_target], dtype=torch.long),
        seen=seen,
    )
