"""Leave-one-out by time, vocabulary from pretraining only, padded tensors, max_len."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from sslbench_recsys.interactions import clean_log
from sslbench_recsys.splits import UNKNOWN, leave_one_out


def make(rows: list[tuple[str, str, int]]):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).astype(str)
    return clean_log(frame, "mem", user_col="user_id", item_col="item_id", time_col="timestamp")


LOG = make(
    [("a", "i1", 1), ("a", "i2", 2), ("a", "i3", 3), ("a", "i4", 4), ("a", "new", 5),
     ("b", "i4", 1), ("b", "i9", 2),
     ("c", "i2", 1)]
)  # fmt: skip


def keys(data, ids) -> list[str]:
    return [k for k in data.vocab.decode(ids) if k != "<pad>"]


def test_last_is_test_previous_is_valid_rest_pretrains():
    data = leave_one_out(LOG, max_len=None)
    users = list(data.users)
    pre = {users[u]: keys(data, data.pretrain.items[r]) for r, u in enumerate(data.pretrain.users.tolist())}
    assert pre == {"a": ["i1", "i2", "i3"], "b": ["i4"], "c": ["i2"]}
    valid = {users[u]: (keys(data, data.valid.items[r]), keys(data, data.valid.targets[r : r + 1])) for r, u in enumerate(data.valid.users.tolist())}
    assert valid == {"a": (["i1", "i2", "i3"], ["i4"])}  # b has 2 interactions: no validation row
    test = {users[u]: (keys(data, data.test.items[r]), keys(data, data.test.targets[r : r + 1])) for r, u in enumerate(data.test.users.tolist())}
    # c has one interaction: kept out of test; targets never seen in pretraining are unknown
    assert test == {"a": (["i1", "i2", "i3", "i4"], ["<unk>"]), "b": (["i4"], ["<unk>"])}
    assert data.stats["single_interaction_users"] == 1 and data.stats["users_without_valid"] == 2
    assert data.stats["unknown_test_targets"] == 2 and data.stats["unknown_valid_targets"] == 0
    assert data.stats["pretrain_interactions"] == 5


def test_vocabulary_comes_from_pretraining_and_counts_it():
    data = leave_one_out(LOG, max_len=None)
    assert list(data.vocab.keys) == ["i1", "i2", "i3", "i4"]  # "new" and i9 occur only as test targets
    assert data.vocab.encode(["i3", "new", "zzz"]).tolist() == [4, UNKNOWN, UNKNOWN]
    assert data.vocab.counts.tolist() == [0, 0, 1, 2, 1, 1, 0]  # a's i4 is a validation target, b's pretrains
    assert len(data.vocab) == 7 and data.vocab.mask_id == 6  # [MASK] last, never counted
    assert data.vocab.decode([0, 1, 2, 6]) == ["<pad>", "<unk>", "i1", "<mask>"]


def test_padding_is_right_and_mask_marks_real_items():
    data = leave_one_out(LOG, max_len=None)
    split = data.pretrain
    assert split.items.dtype == torch.long and split.mask.dtype == torch.bool
    assert torch.equal(split.mask, split.items != 0)
    lengths = split.mask.sum(1)
    assert torch.equal(split.mask, torch.arange(split.items.shape[1]) < lengths.unsqueeze(1))


def test_max_len_keeps_the_most_recent_items_and_seen_keeps_all():
    log = make([("u", f"i{t}", t) for t in range(10)] + [("v", f"i{t}", t) for t in range(3)])
    data = leave_one_out(log, max_len=3)
    u = list(data.users).index("u")
    row = data.test.users.tolist().index(u)
    assert keys(data, data.test.items[row]) == ["i6", "i7", "<unk>"]  # i8 (valid) is unknown to the vocab
    assert keys(data, data.test.seen[row]) == [f"i{t}" for t in range(8)] + ["<unk>"]
    assert keys(data, data.test.targets[row : row + 1]) == ["<unk>"]
    assert data.test.items.shape[1] == 3


def test_long_pretraining_histories_become_chunks_oldest_first_without_loss():
    log = make([("u", f"i{t}", t) for t in range(9)] + [("v", "i0", 0), ("v", "i1", 1), ("v", "i2", 2)])
    data = leave_one_out(log, max_len=3)
    users = list(data.users)
    rows = [(users[u], keys(data, data.pretrain.items[r])) for r, u in enumerate(data.pretrain.users.tolist())]
    assert rows == [("u", ["i0"]), ("u", ["i1", "i2", "i3"]), ("u", ["i4", "i5", "i6"]), ("v", ["i0"])]
    assert int(data.pretrain.mask.sum()) == data.stats["pretrain_interactions"] == 8


def test_a_batch_is_one_index_operation():
    data = leave_one_out(LOG, max_len=None)
    index = torch.tensor([1, 0, 1])
    batch = data.test.batch(index)
    assert set(batch) == {"items", "mask", "users", "targets", "seen"}
    for name in batch:
        assert torch.equal(batch[name], getattr(data.test, name)[index])
    assert set(data.pretrain.batch(slice(0, 2))) == {"items", "mask", "users"}


def test_bad_max_len_is_rejected():
    with pytest.raises(ValueError, match="max_len"):
        leave_one_out(LOG, max_len=0)


def test_an_empty_log_is_refused():
    with pytest.raises(ValueError, match="no interactions"):
        leave_one_out(make([]))


def test_real_movielens_100k_splits(recbole_wheel):
    from sslbench_recsys.interactions import read_movielens_100k

    data = leave_one_out(read_movielens_100k(recbole_wheel), max_len=50)
    stats = data.stats
    assert stats["test_users"] == stats["valid_users"] == 943
    assert stats["pretrain_interactions"] == 100_000 - 2 * 943 == int(data.pretrain.mask.sum())
    assert data.test.items.shape[1] == 50 and int(data.test.mask.sum(1).max()) == 50
    # seen = the whole history before the target: every interaction but the last, per user
    assert int((data.test.seen > 0).sum()) == 100_000 - 943
    assert len(data.vocab) - 3 == stats["items"] <= 1682
