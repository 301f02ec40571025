"""A deterministic WordPiece vocabulary learner (BPE merges with a total tie-break order).

Why not ``tokenizers.trainers.WordPieceTrainer``: it learns the vocabulary with its BPE
trainer, which assigns ids to ``##``-continuation symbols while iterating a hash map whose
order changes from process to process; those ids break ties between equally frequent pairs,
so two trainings on the same text pick different merges (huggingface/tokenizers issue
#1794, open). Measured here: two trainings on 2,000 newsgroup posts differed in ~20 pieces
and gave ~4,900 of 8,000 pieces different ids, so a seed's random embedding rows landed on
different words and random-init rows did not reproduce after a cache rebuild.

This module runs the same procedure the library does (Sennrich et al., 2016, BPE; the
WordPiece vocabulary as ``tokenizers`` derives it from BPE): words split into characters,
non-initial ones with the ``##`` prefix, the alphabet limited to the ``limit_alphabet`` most
frequent characters, then repeatedly the most frequent adjacent pair merged — ties broken
by the pair's strings, so the result is a function of the word counts alone.
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping


def learn_vocabulary(word_counts: Mapping[str, int], vocab_size: int, special_tokens: Iterable[str],
                     min_frequency: int = 2, limit_alphabet: int = 1000, prefix: str = "##") -> list[str]:
    """The vocabulary, in id order: special tokens, the alphabet (sorted), continuation
    characters (sorted), then merged pieces in the order they were learned.

    Stops at ``vocab_size`` pieces or when no pair occurs ``min_frequency`` times.
    """
    vocab: list[str] = []
    ids: dict[str, int] = {}

    def add(piece: str) -> int:
        if piece not in ids:
            ids[piece] = len(vocab)
            vocab.append(piece)
        return ids[piece]

    for token in special_tokens:
        add(token)
    chars: Counter[str] = Counter()
    for word, count in word_counts.items():
        for ch in word:
            chars[ch] += count
    alphabet = {ch for ch, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:limit_alphabet]}
    for ch in sorted(alphabet):
        add(ch)
    words, counts = _symbols(word_counts, alphabet, prefix)
    for piece in sorted({s for w in words for s in w if s not in ids}):
        add(piece)
    coded = [[ids[s] for s in w] for w in words]
    _merge(coded, counts, vocab, ids, vocab_size, min_frequency, prefix)
    return vocab


def _symbols(word_counts: Mapping[str, int], alphabet: set[str], prefix: str) -> tuple[list[list[str]], list[int]]:
    """Each word (sorted, so the order is fixed) as its kept characters, non-initial ones prefixed."""
    words, counts = [], []
    for word in sorted(word_counts):
        kept = [ch for ch in word if ch in alphabet]
        if kept:
            words.append([kept[0], *(prefix + ch for ch in kept[1:])])
            counts.append(word_counts[word])
    return words, counts


def _merge(words: list[list[int]], counts: list[int], vocab: list[str], ids: dict[str, int], vocab_size: int,
           min_frequency: int, prefix: str) -> None:
    """Merge the most frequent pair (ties: smallest strings) until the vocabulary is full."""
    pairs: Counter[tuple[int, int]] = Counter()
    where: dict[tuple[int, int], set[int]] = {}
    for i, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pairs[pair] += counts[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, vocab[a], vocab[b], (a, b)) for (a, b), c in pairs.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        neg, _, _, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -neg:
            continue  # a stale entry: this pair's count changed since it was pushed
        if -neg < min_frequency:
            break
        a, b = pair
        merged = vocab[a] + vocab[b].removeprefix(prefix)
        new = ids.get(merged)
        if new is None:
            new = ids[merged] = len(vocab)
            vocab.append(merged)
        changed: set[tuple[int, int]] = set()
        for i in sorted(where.pop(pair, ())):
            _apply(words, counts, i, pair, new, pairs, where, changed)
        pairs.pop(pair, None)
        for p in changed:
            if pairs.get(p, 0) > 0:
                heapq.heappush(heap, (-pairs[p], vocab[p[0]], vocab[p[1]], p))


def _apply(words: list[list[int]], counts: list[int], i: int, pair: tuple[int, int], new: int,
           pairs: Counter, where: dict, changed: set) -> None:
    """Replace ``pair`` by ``new`` in word ``i``, updating the pair counts and index."""
    word, count = words[i], counts[i]
    for p in zip(word, word[1:]):
        pairs[p] -= count
        changed.add(p)
    out, k = [], 0
    while k < len(word):
        if k + 1 < len(word) and (word[k], word[k + 1]) == pair:
            out.append(new)
            k += 2
        else:
            out.append(word[k])
            k += 1
    words[i] = out
    for p in zip(out, out[1:]):
        pairs[p] += count
        changed.add(p)
        where.setdefault(p, set()).add(i)
