"""imagefolder: generated PNG/JPEG files, decoded once into the cache, read back per batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sslbench_image import imagefolder
from sslbench_image.decode import decode_image
from sslbench_image.options import ImageFolderOptions
from sslbench_image.rowstore import ROW_KEY, RowFile, store_moments

from sslbench import DatasetContext
from sslbench.data import DataError

MODES = ("RGB", "L", "RGBA", "P")


def make_image(path, size: tuple[int, int], mode: str, seed: int) -> np.ndarray:
    """Write a random image; return its RGB pixels (H, W, 3) as PIL converts them."""
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    image = {"RGB": rgb, "L": rgb.convert("L"), "RGBA": rgb.convert("RGBA"), "P": rgb.convert("P")}[mode]
    if mode == "RGBA":
        image.putalpha(Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)))
    image.save(path)
    return np.asarray(Image.open(path).convert("RGB"))


def make_folder(root, classes=("cat", "dog", "owl"), per_class=10, suffix=".png"):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            make_image(root / name / f"{i}{suffix}", (20 + i, 16 + 2 * c), MODES[i % 4] if suffix == ".png" else "RGB",
                       seed=100 * c + i)
    return root


def ctx(tmp_path) -> DatasetContext:
    return DatasetContext(data_root=tmp_path / "cache", progress=False)


def test_decode_matches_torchvision_resize_and_centre_crop(tmp_path):
    from torchvision.transforms import v2

    for i, (w, h) in enumerate([(40, 25), (25, 40), (16, 16), (9, 30)]):
        make_image(tmp_path / f"{i}.png", (w, h), "RGB", seed=i)
        reference = v2.Compose([v2.Resize(16), v2.CenterCrop(16)])(Image.open(tmp_path / f"{i}.png").convert("RGB"))
        assert np.array_equal(decode_image(tmp_path / f"{i}.png", 16), np.asarray(reference).transpose(2, 0, 1))


def test_grey_and_rgba_become_rgb(tmp_path):
    grey = make_image(tmp_path / "g.png", (8, 8), "L", seed=0)
    rgba = make_image(tmp_path / "a.png", (8, 8), "RGBA", seed=1)
    g, a = decode_image(tmp_path / "g.png", 8), decode_image(tmp_path / "a.png", 8)
    assert g.shape == a.shape == (3, 8, 8)
    assert np.array_equal(g[0], g[1]) and np.array_equal(g[1], g[2]) and np.array_equal(g, grey.transpose(2, 0, 1))
    assert np.array_equal(a, rgba.transpose(2, 0, 1))  # alpha dropped, colours kept (torchvision's loader)


def test_folder_loads_with_fixed_stratified_splits_and_reads_rows_lazily(tmp_path):
    root = make_folder(tmp_path / "photos")
    options = ImageFolderOptions(path=str(root), size=12, test_fraction=0.2, valid_fraction=0.125)
    data = imagefolder.load_imagefolder(ctx(tmp_path), options)
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (21, 21, 3, 6)
    assert torch.bincount(data.test.labels["label"]).tolist() == [2, 2, 2]
    assert torch.bincount(data.valid.labels["label"]).tolist() == [1, 1, 1]
    rows = torch.cat([data.train.data[ROW_KEY], data.valid.data[ROW_KEY], data.test.data[ROW_KEY]])
    assert sorted(rows.tolist()) == list(range(30))  # disjoint, and every image in one split
    assert set(data.train.data) == {ROW_KEY}
    batch = data.test.batch(torch.tensor([4, 0, 4]))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    for out, index in zip(batch["image"], [4, 0, 4]):
        expected = decode_image(root / files[int(data.test.data[ROW_KEY][index])], 12)
        assert torch.equal(out, torch.from_numpy(expected).float() / 255)
    assert batch["label:label"].tolist() == data.test.labels["label"][[4, 0, 4]].tolist()
    assert data.info["channels"] == 3 and data.info["image_size"] == 12 and data.info["num_classes"] == 3
    again = imagefolder.load_imagefolder(ctx(tmp_path), options)
    assert again.fingerprint == data.fingerprint and torch.equal(again.test.data[ROW_KEY], data.test.data[ROW_KEY])


def test_second_load_decodes_nothing_and_a_changed_folder_decodes_again(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "photos", per_class=4)
    options = ImageFolderOptions(path=str(root), size=8, valid_fraction=0)
    imagefolder.load_imagefolder(ctx(tmp_path), options)
    calls = []
    real = imagefolder.decode_folder
    monkeypatch.setattr(imagefolder, "decode_folder", lambda *a, **k: calls.append(1) or real(*a, **k))
    imagefolder.load_imagefolder(ctx(tmp_path), options)
    assert calls == []
    make_image(root / "cat" / "new.png", (10, 10), "RGB", seed=9)
    data = imagefolder.load_imagefolder(ctx(tmp_path), options)
    assert calls == [1] and len(data.train) + len(data.test) == 13
    folders = sorted((tmp_path / "cache" / "artifacts" / "image").iterdir())
    assert len(folders) == 2 and not any(f.name.endswith(".tmp") for f in folders)


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    make_folder(tmp_path / "photos" / "train", classes=("a", "b"), per_class=6, suffix=".jpg")
    make_folder(tmp_path / "photos" / "test", classes=("a", "b"), per_class=2, suffix=".jpg")
    data = imagefolder.load_imagefolder(ctx(tmp_path), ImageFolderOptions(path=str(tmp_path / "photos"), size=8,
                                                                          valid_fraction=0.2))
    assert (len(data.train), len(data.valid), len(data.test)) == (10, 2, 4)
    assert data.test.labels["label"].tolist() == [0, 0, 1, 1]


def test_parallel_decoding_writes_the_same_rows(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=30, suffix=".jpg")  # 90 files: two jobs of 64
    listing = imagefolder.scan(root)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    imagefolder.decode_folder(listing, one, 10, workers=1, progress=False)
    imagefolder.decode_folder(listing, two, 10, workers=2, progress=False)
    assert np.array_equal(np.load(one / "images.npy"), np.load(two / "images.npy"))


def test_an_unreadable_file_is_named_in_one_line_and_nothing_is_cached(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=3)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError) as err:
        imagefolder.load_imagefolder(ctx(tmp_path), ImageFolderOptions(path=str(root), size=8))
    message = str(err.value)
    assert "\n" not in message and f"cannot read image {root / 'dog' / 'broken.jpg'} (UnidentifiedImageError" in message
    assert list((tmp_path / "cache" / "artifacts" / "image").iterdir()) == []


@pytest.mark.parametrize("setup, expected", [
    (lambda root: None, "is not a folder"),
    (lambda root: make_folder(root, classes=("only",), per_class=2), "has 1 class folder(s)"),
])
def test_layout_mistakes_are_one_line(tmp_path, setup, expected):
    root = tmp_path / "photos"
    setup(root)
    with pytest.raises(DataError, match=r"^\[datasets.imagefolder\] path: .*" + expected.replace("(", r"\(")
                       .replace(")", r"\)")) as err:
        imagefolder.load_imagefolder(ctx(tmp_path), ImageFolderOptions(path=str(root)))
    assert "\n" not in str(err.value)


def test_row_file_reads_any_order_with_repeats_and_refuses_a_short_file(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 2, 3, 3), dtype=np.uint8)
    (tmp_path / "rows.bin").write_bytes(b"head" + images.tobytes())
    store = RowFile(tmp_path / "rows.bin", 4, 7, (2, 3, 3))
    rows = np.array([6, 1, 2, 3, 1, 0])
    assert np.array_equal(store.read(rows), images[rows])
    mean, std = store_moments(store, torch.arange(7), chunk=3)
    assert torch.allclose(mean.double(), torch.from_numpy(images).double().div(255).mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(std.double(), torch.from_numpy(images).double().div(255).transpose(0, 1).reshape(2, -1)
                          .std(dim=1), atol=1e-6)
    with pytest.raises(DataError, match="truncated"):
        RowFile(tmp_path / "rows.bin", 4, 8, (2, 3, 3)).check_size()
