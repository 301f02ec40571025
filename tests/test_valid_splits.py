"""Every built-in dataset's ``valid`` split: present, class-balanced, disjoint from train and test.

Checked on each dataset's ``example()`` builder (what the conformance kit loads) and
on scikit-learn's bundled digits; the real files' splits are checked in the
modality test folders (image, text, audio) where their data is available.
"""
import pytest
import torch

from sslbench import DatasetContext
from sslbench.options import OptionError, build_options


def rows(split) -> set[tuple]:
    """Each sample as a tuple of its batch's numbers (the examples' samples are random, so rows identify them)."""
    batch = split.batch(torch.arange(len(split)))
    keys = sorted(k for k in batch if not k.startswith("label:"))
    return {tuple(x for k in keys for x in batch[k][i].flatten().tolist()) for i in range(len(split))}


def class_datasets(registry):
    return [s for s in registry.specs("dataset") if s.example is not None and "class" in s.label_sets.values()]


@pytest.fixture
def registry(make_registry):
    import sslbench_audio.plugin
    import sslbench_example.hooks
    import sslbench_recsys.plugin
    import sslbench_text.plugin

    return make_registry(sslbench_text.plugin, sslbench_audio.plugin, sslbench_recsys.plugin, sslbench_example.hooks)


def test_every_builtin_labelled_dataset_example_has_a_balanced_disjoint_valid_split(registry, tmp_path):
    specs = class_datasets(registry)
    assert {"digits", "mnist-5k", "fashion-mnist", "20newsgroups", "reuters-r8", "textfiles", "fsdd-mfcc",
            "audiofolder", "klettres", "wine"} <= {s.name for s in specs}
    for spec in specs:
        data = spec.example(DatasetContext(data_root=tmp_path), spec.options())
        assert data.valid is not None and data.split("valid") is data.valid, spec.name
        for label_set, kind in spec.label_sets.items():
            counts = torch.bincount(data.valid.labels[label_set])
            assert int(counts.max() - counts.min()) <= 1, (spec.name, counts.tolist())
        valid = rows(data.valid)
        assert not valid & rows(data.train) and not valid & rows(data.test), spec.name


def test_recsys_valid_is_the_leave_one_out_validation_rows(registry, tmp_path):
    for name in ("movielens-100k", "interactions-csv"):
        spec = registry.get("dataset", name)
        data = spec.example(DatasetContext(data_root=tmp_path), spec.options())
        targets = data.extras["next_item"]
        assert data.valid is not None and len(targets["valid"]["targets"]) == len(data.valid)
        assert len(targets["test"]["targets"]) == len(data.test)


def test_digits_valid_split_is_stratified_fixed_and_in_the_fingerprint(registry, tmp_path):
    spec = registry.get("dataset", "digits")
    ctx = DatasetContext(data_root=tmp_path)
    data = spec.build(ctx, spec.options())
    assert (len(data.train), len(data.valid), len(data.test)) == (1068, 189, 540)
    counts = torch.bincount(data.valid.labels["digit"])
    assert int(counts.max() - counts.min()) <= 1
    valid = rows(data.valid)
    assert not valid & rows(data.train) and not valid & rows(data.test) and not valid & rows(data.pretrain)
    again = spec.build(ctx, spec.options())
    assert torch.equal(again.valid.data["image"], data.valid.data["image"]) and again.fingerprint == data.fingerprint
    none = spec.build(ctx, build_options(spec.options, {"valid_fraction": 0}))
    assert none.valid is None and len(none.train) == 1257 and none.fingerprint != data.fingerprint
    with pytest.raises(OptionError, match="valid_fraction"):
        build_options(spec.options, {"valid_fraction": 0.9})
