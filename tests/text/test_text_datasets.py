"""Text datasets: splits and their layout, NSP pairs redrawn per batch, caches, one-line errors."""

import pytest
import torch
from sslbench_text import datasets
from sslbench_text import segments as sg
from sslbench_text import tokenizer as tk

from sslbench import DatasetContext, UsageError
from sslbench.options import OptionError, build_options


def test_splits_follow_bert_layout_and_documents(load, topics):
    ds = load(test_fraction=0.2)
    info = ds.info
    assert info["documents"] == {"pretrain": 20, "train": 20, "test": 6, "valid": 4}  # a fifth of 24 is valid
    assert (info["segment_length"], info["pair_segment_length"], info["max_length"]) == (14, 6, 16)
    assert info["classes"] == ["food", "pets", "space"] and set(ds.train.labels["label"].tolist()) == {0, 1, 2}
    assert len(ds.pretrain) == info["segments"] > len(ds.train)  # every segment vs the first of each document
    batch = ds.pretrain.batch(torch.arange(len(ds.pretrain)))
    lengths = batch["attention_mask"].sum(1)
    assert (batch["input_ids"][:, 0] == info["cls_token_id"]).all()
    assert (batch["input_ids"].gather(1, (lengths - 1)[:, None]) == info["sep_token_id"]).all()
    assert (batch["token_type_ids"] == 0).all() and batch["input_ids"].shape[1] <= 16
    # the labelled splits are first segments: their tokens open a document of the matching topic
    tok = ds.extras["tokenizer"]
    first = ds.train.batch(torch.arange(len(ds.train)))
    for row, label in zip(first["input_ids"][:5], ds.train.labels["label"][:5]):
        words = tok.decode(row, skip_special_tokens=True).split()[:-1]  # the last may be cut mid-word
        assert words and set(words) <= set(topics[info["classes"][label]].split())
    # counts of pretraining tokens for the unigram baseline skip the special tokens
    counts = ds.extras["pretrain_token_counts"]
    assert counts[info["special_ids"]].sum() == 0 and counts.sum() == (lengths - 2).sum()


def rows_of(split):
    """Each sample's input ids as a tuple (documents are random word strings, so rows identify them)."""
    batch = split.batch(torch.arange(len(split)))
    return [tuple(r[: int(n)].tolist()) for r, n in zip(batch["input_ids"], batch["attention_mask"].sum(1))]


def test_valid_split_is_fixed_balanced_and_disjoint_from_train_test_and_pretraining(load):
    a = load(valid_docs=3, test_fraction=0.2)
    assert len(a.valid) == 3 and a.info["documents"]["valid"] == 3
    assert torch.bincount(a.valid.labels["label"]).tolist() == [1, 1, 1]
    valid = set(rows_of(a.valid))
    assert not valid & set(rows_of(a.train)) and not valid & set(rows_of(a.test))
    assert not valid & set(rows_of(a.pretrain))  # not even pretrained on
    b = load(valid_docs=3, test_fraction=0.2, train_docs=5)  # another probe subset, the same valid
    assert set(rows_of(b.valid)) == valid
    c = load(valid_docs=2, test_fraction=0.2)
    assert c.fingerprint != a.fingerprint and len(c.valid) == 2
    assert len(load(valid_docs=100).valid) == 4  # at most a fifth of the 24 labelled training documents
    assert load(valid_docs=0).valid is None


def test_subsets_are_fixed_seeded_draws_and_probe_docs_are_pretraining_docs(load):
    a = load(pretrain_docs=12, train_docs=5, test_docs=3)
    b = load(pretrain_docs=12, train_docs=5, test_docs=3)
    c = load(pretrain_docs=12, train_docs=5, test_docs=3, subset_seed=1)
    assert a.info["documents"] == {"pretrain": 12, "train": 5, "test": 3, "valid": 4}
    assert a.fingerprint == b.fingerprint != c.fingerprint
    pretrain = a.pretrain.batch(torch.arange(len(a.pretrain)))["input_ids"].tolist()
    for row in a.train.batch(torch.arange(5))["input_ids"].tolist():  # each probe row is a pretraining segment
        assert any(r[: len(row)] == row for r in pretrain)


def test_nsp_pairs_are_redrawn_every_batch_half_true(load):
    ds = load()
    pairs = ds.extra_splits["pretrain-pairs"]
    index = torch.arange(len(pairs))
    torch.manual_seed(0)
    first = pairs.batch(index)
    second = pairs.batch(index)
    torch.manual_seed(0)
    again = pairs.batch(index)
    assert torch.equal(first["input_ids"], again["input_ids"])  # reproducible from the runner's seed
    assert not torch.equal(first["next_sentence_label"], second["next_sentence_label"])  # resampled
    labels = torch.cat([pairs.batch(index)["next_sentence_label"] for _ in range(20)]).float()
    assert labels.mean().item() == pytest.approx(0.5, abs=0.05)
    types = first["token_type_ids"]
    assert ((types == 1).sum(1) > 0).all() and (first["input_ids"][:, 0] == ds.info["cls_token_id"]).all()
    assert (first["input_ids"] == ds.info["sep_token_id"]).sum(1).eq(2).all()


def test_nsp_label_zero_means_b_continues_a():
    store = sg.cut_segments(torch.arange(10, 40), torch.tensor([12, 10, 8]), 4, cls_id=2, sep_id=3, pad_id=0)
    a = sg.nsp_anchors(store)
    pairs = sg.draw_pairs(store, a.repeat(50), torch.Generator().manual_seed(0))
    true = pairs.label == 0
    assert torch.equal(pairs.b[true], pairs.a[true] + 1)
    assert (store.doc[pairs.b[~true]] != store.doc[pairs.a[~true]]).all()


def test_tokenizer_and_segments_are_built_once(load, tmp_path, monkeypatch):
    load()
    assert len(list((tmp_path / "data" / "artifacts" / "text").glob("wordpiece-*"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(tk, "train_wordpiece", fail)
    monkeypatch.setattr(sg, "tokenize_texts", fail)
    assert load().info["segments"] > 0


def test_folder_of_text_files_with_subfolder_labels(load, tmp_path, topics):
    for label, words in topics.items():
        (tmp_path / "docs" / label).mkdir(parents=True)
        for i in range(4):
            (tmp_path / "docs" / label / f"{i}.txt").write_text(" ".join(words.split()[i:] * 3))
    ds = load(path=str(tmp_path / "docs"), labels_from_subfolders=True, label_column="")
    assert ds.info["classes"] == sorted(topics) and len(ds.train) + len(ds.valid) + len(ds.test) == 12


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_bad_input_is_one_line_naming_dataset_and_option(load, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError) as err:
        load(path=str(tmp_path / "empty"), label_column="")
    assert one_line(err).startswith("[datasets.textfiles] path: ") and "empty corpus" in str(err.value)
    with pytest.raises(UsageError) as err:
        load(label_column="Topic")
    message = one_line(err)
    assert message.startswith("[datasets.textfiles] label_column: ") and "'Topic' is not a column" in message
    with pytest.raises(UsageError) as err:
        load(short_documents="error", max_length=1000)
    message = one_line(err)
    assert message.startswith("[datasets.textfiles] short_documents: ") and "max_length=1000" in message
    with pytest.raises(OptionError) as err:
        build_options(datasets.TextFilesOptions, {"vocab_size": 4})
    assert err.value.key == "vocab_size" and "the special tokens [PAD] [UNK] [CLS] [SEP] [MASK]" in one_line(err)
    with pytest.raises(UsageError, match=r"^\[datasets.textfiles\] path: not set"):
        datasets.load_textfiles(DatasetContext(tmp_path), datasets.TextFilesOptions())


def test_vocab_size_error_names_the_config_key(tmp_path, make_registry):
    import sslbench_text.plugin

    from sslbench.errors import ConfigError
    from sslbench.plan.config import load_config

    config = tmp_path / "bad.toml"
    config.write_text('[grid]\ndatasets = ["textfiles"]\ntasks = ["mlm"]\nmodels = ["bert-tiny"]\n'
                      'evaluators = ["knn"]\n[datasets.textfiles]\nvocab_size = 3\n')
    with pytest.raises(ConfigError) as err:
        load_config(config, make_registry(sslbench_text.plugin))
    assert "[datasets.textfiles] vocab_size: must be >= 5" in one_line(err)


def test_corpus_without_nsp_pairs_stops_nsp_with_the_reason(load):
    ds = load(max_length=1000)  # no document fills two 498-token segments
    assert "pretrain-pairs" not in ds.extra_splits
    assert ds.extras["pairs_problem"].startswith("[datasets.textfiles] max_length: no NSP pairs")
    assert len(ds.pretrain) == ds.info["documents"]["pretrain"]  # MLM still has one padded segment per document
