"""Segments: cutting against a naive reference, BERT input layout, NSP sampling, caching."""

import pytest
import torch

from sslbench_text import segments as sg
from sslbench_text import tokenizer as tk

CLS, SEP, PAD = 2, 3, 0


def naive_cut(docs, L, min_tokens):
    out = []
    for d, ids in enumerate(docs):
        for p, start in enumerate(range(0, len(ids), L)):
            piece = ids[start:start + L]
            if len(piece) == L or len(piece) >= min_tokens:
                out.append((d, p, piece))
    return out


def store_of(docs, L, min_tokens=1):
    flat = torch.tensor([i for d in docs for i in d], dtype=torch.long)
    lengths = torch.tensor([len(d) for d in docs])
    return sg.cut_segments(flat, lengths, L, cls_id=CLS, sep_id=SEP, pad_id=PAD, min_tokens=min_tokens)


DOCS = [[], list(range(10, 13)), list(range(20, 30)), list(range(40, 47))]  # 0, 3, 10, 7 tokens


@pytest.mark.parametrize("min_tokens", [1, 2, 3])
def test_cut_matches_naive_reference(min_tokens):
    store = store_of(DOCS, 4, min_tokens)
    expected = naive_cut(DOCS, 4, min_tokens)
    assert len(store) == len(expected)
    for s, (d, p, piece) in enumerate(expected):
        assert (int(store.doc[s]), int(store.position[s]), int(store.lengths[s])) == (d, p, len(piece))
        assert store.tokens[s].tolist() == piece + [PAD] * (4 - len(piece))
    assert store.stats.short_documents == 1  # the 3-token document, kept padded
    assert store.stats.dropped_documents == 1  # the empty one
    assert store.stats.dropped_tokens == (2 if min_tokens == 3 else 0)  # doc 2's 2-token tail
    assert store.stats.tokens == 20 and store.stats.segments == len(store)


def test_cut_rejects_bad_options():
    with pytest.raises(ValueError, match="min_tokens=5 must be in 1..segment_length=4"):
        store_of(DOCS, 4, 5)
    with pytest.raises(ValueError, match="no segments"):
        store_of([[], []], 4)


def test_single_and_pair_layout_match_bert():
    store = store_of(DOCS, 4)  # segments: [10 11 12] [20..23] [24..27] [28 29] [40..43] [44 45 46]
    single = sg.single_inputs(store, torch.tensor([0, 1]))
    assert single["input_ids"].tolist() == [[CLS, 10, 11, 12, SEP, PAD], [CLS, 20, 21, 22, 23, SEP]]
    assert single["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 0], [1] * 6]
    assert single["token_type_ids"].abs().sum() == 0
    pair = sg.pair_inputs(store, torch.tensor([3, 1]), torch.tensor([5, 2]))
    assert pair["input_ids"].tolist() == [
        [CLS, 28, 29, SEP, 44, 45, 46, SEP, PAD, PAD, PAD],
        [CLS, 20, 21, 22, 23, SEP, 24, 25, 26, 27, SEP],
    ]
    assert pair["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0], [0] * 6 + [1] * 5]
    assert pair["attention_mask"].tolist() == [[1] * 8 + [0] * 3, [1] * 11]
    assert all(v.dtype == torch.long for v in pair.values())
    assert sg.pair_segment_length(128) == 62 and sg.single_segment_length(128) == 126


def test_nsp_pairs_half_true_continuations_rest_other_documents():
    docs = [list(range(100 * d, 100 * d + 4 * (d + 2))) for d in range(6)]  # 2..7 segments each
    store = store_of(docs, 4)
    pairs = sg.sample_nsp_pairs(store, torch.Generator().manual_seed(0))
    assert store.has_next()[pairs.a].all()  # A always has a continuation
    pos, neg = pairs.label == 0, pairs.label == 1
    assert (pairs.b[pos] == pairs.a[pos] + 1).all()
    assert (store.doc[pairs.b[pos]] == store.doc[pairs.a[pos]]).all()
    assert (store.doc[pairs.b[neg]] != store.doc[pairs.a[neg]]).all()
    # over many epochs: balanced labels, every other segment reachable as a negative
    gen = torch.Generator().manual_seed(1)
    epochs = [sg.sample_nsp_pairs(store, gen) for _ in range(300)]
    labels = torch.cat([p.label for p in epochs]).float()
    assert abs(labels.mean().item() - 0.5) < 0.02
    negatives = torch.cat([p.b[(p.a == 0) & (p.label == 1)] for p in epochs])
    assert set(negatives.tolist()) == set(range(2, len(store)))  # all segments outside doc 0
    again = sg.sample_nsp_pairs(store, torch.Generator().manual_seed(0))
    assert torch.equal(again.b, pairs.b) and torch.equal(again.label, pairs.label)
    batch = sg.nsp_batch(store, pairs, torch.tensor([0, 2]))
    assert batch["next_sentence_label"].tolist() == pairs.label[[0, 2]].tolist()
    assert batch["input_ids"].shape == (2, 11)


def test_nsp_needs_two_documents_with_continuations():
    with pytest.raises(ValueError, match="no segment has a continuation"):
        sg.sample_nsp_pairs(store_of([[5, 6], [7]], 4))
    with pytest.raises(ValueError, match="one document"):
        sg.sample_nsp_pairs(store_of([list(range(10, 22))], 4))


def test_build_from_tokenizer_tokenises_once_and_caches(tmp_path, monkeypatch):
    texts = ["the cat sat on the mat and the dog sat too", "", "a dog", "cats and dogs and mats"] * 3
    tok = tk.train_wordpiece(texts, tk.TokenizerSettings(vocab_size=60, min_frequency=1))
    store = sg.load_or_build_segments(texts, tok, 4, tmp_path)
    for d, text in enumerate(texts):
        rows = store.doc == d
        ids = [t for row, n in zip(store.tokens[rows], store.lengths[rows]) for t in row[:n].tolist()]
        assert ids == tok(text, add_special_tokens=False)["input_ids"]
    assert store.stats.dropped_documents == 3  # the empty texts
    assert store.first_segments().tolist() == torch.nonzero(store.position == 0).squeeze(1).tolist()

    def no_tokenising(*args, **kwargs):
        raise AssertionError("segments rebuilt although cached")

    monkeypatch.setattr(sg, "tokenize_texts", no_tokenising)
    cached = sg.load_or_build_segments(texts, tok, 4, tmp_path)
    assert torch.equal(cached.tokens, store.tokens) and cached.stats == store.stats
    assert (cached.cls_id, cached.sep_id, cached.pad_id) == (2, 3, 0)
