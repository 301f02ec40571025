"""Each modality's no-encoder reference against a naive or scikit-learn computation, fitted on pretrain only."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.feature_extraction.text import TfidfTransformer

from sslbench import EvalContext, LoadedDataset, TensorSplit
from sslbench_audio import examples as audio_plugin  # the example() builders live in examples.py
from sslbench_audio.reference import build_frame_stats
from sslbench_image import examples as image_plugin
from sslbench_image.reference import build_raw_pixels
from sslbench_recsys import datasets as recsys_datasets
from sslbench_recsys import evaluators, interactions
from sslbench_recsys.next_item import NextItemOptions
from sslbench_recsys.reference import build_item_knn
from sslbench_text.reference import build_tfidf


class Forbidden:
    """A split no reference may touch while it fits: any attribute access fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the reference read .{name} of a split other than pretrain")


def pretrain_only(dataset: LoadedDataset, keep_extras=()) -> LoadedDataset:
    """``dataset`` with its train, test and extra splits (and extras not named) replaced by Forbidden."""
    return LoadedDataset(pretrain=dataset.pretrain, train=Forbidden(), test=Forbidden(), info=dataset.info,
                         extras={k: dataset.extras[k] for k in keep_extras},
                         extra_splits={name: Forbidden() for name in dataset.extra_splits})


def test_raw_pixels_are_the_batch_standardised_with_the_pretrain_moments():
    dataset = image_plugin.tiny_images("digit", 8, False)(None, None)
    reference = build_raw_pixels(pretrain_only(dataset), None)
    batch = dataset.test.batch(torch.arange(8))
    images = batch["image"].numpy()  # (8, 1, 8, 8) in [0, 1]
    mean, std = dataset.info["mean"][0], dataset.info["std"][0]
    expected = np.stack([((image - mean) / std).ravel() for image in images])
    assert reference.embed_dim == 64
    np.testing.assert_allclose(reference(batch).pooled.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_frame_stats_are_numpys_mean_and_std_over_real_frames_only():
    dataset = audio_plugin.tiny_clips("digit", 13)(None, None)
    reference = build_frame_stats(pretrain_only(dataset), None)
    batch = dataset.test.batch(torch.arange(len(dataset.test)))
    lengths = batch["lengths"].numpy()
    padded = batch["features"].clone()
    for row, length in enumerate(lengths):
        padded[row, length:] = 1e3  # padding that leaked into the statistics would show
    features = padded.numpy()
    expected = np.stack([np.concatenate([f[:n].mean(0), f[:n].std(0)]) for f, n in zip(features, lengths)])
    assert reference.embed_dim == 26 and (lengths < features.shape[1]).any()  # the premise: some clips are padded
    np.testing.assert_allclose(reference({**batch, "features": padded}).pooled.numpy(), expected, rtol=1e-4, atol=1e-5)


SPECIAL = [0, 1, 2, 3, 4]  # [PAD] [UNK] [CLS] [SEP] [MASK]
VOCAB = 30


def token_split(rows: int, seed: int, labels: bool = False) -> TensorSplit:
    """Rows of [CLS] tokens [SEP] [PAD]... with real tokens drawn from a skewed distribution (some [UNK])."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 12, (rows,), generator=generator)
    weights = torch.linspace(2.0, 0.1, VOCAB - 5)  # frequent and rare ids
    ids = torch.zeros(rows, 14, dtype=torch.long)
    mask = torch.zeros(rows, 14, dtype=torch.long)
    for r, n in enumerate(lengths.tolist()):
        body = torch.multinomial(weights, n, replacement=True, generator=generator) + 5
        body[torch.rand(n, generator=generator) < 0.1] = 1  # [UNK] is special: never counted
        ids[r, : n + 2] = torch.cat([torch.tensor([2]), body, torch.tensor([3])])
        mask[r, : n + 2] = 1
    return TensorSplit({"input_ids": ids, "attention_mask": mask}, {"topic": torch.arange(rows) % 2} if labels else {})


def naive_counts(split: TensorSplit) -> np.ndarray:
    """(N, V) counts of real, non-special tokens, one Python loop per token."""
    counts = np.zeros((len(split), VOCAB))
    for r, (ids, mask) in enumerate(zip(split.data["input_ids"].tolist(), split.data["attention_mask"].tolist())):
        for token, real in zip(ids, mask):
            if real and token not in SPECIAL:
                counts[r, token] += 1
    return counts


def test_tfidf_matches_scikit_learns_tfidf_transformer_fitted_on_the_pretrain_rows():
    pretrain, test = token_split(40, 0), token_split(12, 1, labels=True)
    dataset = LoadedDataset(pretrain=pretrain, train=test, test=test,
                            info={"vocab_size": VOCAB, "special_ids": SPECIAL})
    reference = build_tfidf(pretrain_only(dataset), None)
    sklearn = TfidfTransformer().fit(naive_counts(pretrain))  # norm l2, smooth_idf, raw tf: the defaults
    expected = sklearn.transform(naive_counts(test)).toarray()
    np.testing.assert_allclose(reference.idf.numpy(), sklearn.idf_, rtol=1e-6)
    assert reference.embed_dim == VOCAB
    np.testing.assert_allclose(reference(test.batch(torch.arange(12))).pooled.numpy(), expected, atol=1e-6)


def hand_log() -> pd.DataFrame:
    """Seven users over items a-g; every user has >= 3 interactions, some more than max_len = 3."""
    histories = {"u1": "abcde", "u2": "abcf", "u3": "bcdg", "u4": "acefgb", "u5": "defa", "u6": "gfedcb", "u7": "abg"}
    return pd.DataFrame([(u, i, str(t)) for u, items in histories.items() for t, i in enumerate(items)],
                        columns=["user", "item", "time"])


def naive_item_knn_hr(frame: pd.DataFrame, keys: list[str], max_len: int, k: int) -> float:
    """Expected HR@k of item-based CF (cosine over pretrain user sets, score = Σ over the input history),
    one Python loop per user: pretrain = all but the last two items, test input = the max_len items
    before the last, candidates = real items not seen (the target always), ties broken in expectation."""
    histories = {u: list(g["item"]) for u, g in frame.groupby("user", sort=False)}
    users_of: dict[str, set[str]] = {}
    for user, items in histories.items():
        for item in items[:-2]:
            users_of.setdefault(item, set()).add(user)

    def cosine(a: str, b: str) -> float:
        ua, ub = users_of.get(a, set()), users_of.get(b, set())
        return len(ua & ub) / math.sqrt(len(ua) * len(ub)) if ua and ub else 0.0

    hits = []
    for items in histories.values():
        target, before = items[-1], items[:-1]
        if target not in users_of:
            hits.append(0.0)  # an item pretraining never saw is a miss
            continue
        score = {j: sum(cosine(i, j) for i in before[-max_len:]) for j in keys}
        others = [j for j in keys if j != target and j not in before]
        greater = sum(score[j] > score[target] + 1e-9 for j in others)
        ties = sum(abs(score[j] - score[target]) <= 1e-9 for j in others)
        hits.append(min(max(k - greater, 0), ties + 1) / (ties + 1))
    return sum(hits) / len(hits)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_item_knn_hit_rate_matches_a_naive_per_user_loop(k):
    log = interactions.clean_log(hand_log(), "hand", user_col="user", item_col="item", time_col="time")
    dataset = recsys_datasets.to_loaded_dataset("hand", log, max_len=3)
    assert len(dataset.pretrain) > len(set(dataset.extras["pretrain_users"].tolist()))  # the premise: chunked users
    reference = build_item_knn(pretrain_only(dataset, keep_extras=["pretrain_users"]), None)
    ctx = EvalContext(encoder=reference.eval(), task=None, dataset=dataset, modality=None, label_set=None,
                      device=torch.device("cpu"), seed=0)
    found = evaluators.run_next_item(ctx, NextItemOptions(k=k))[f"hr@{k}"]
    assert found == pytest.approx(naive_item_knn_hr(hand_log(), list(dataset.extras["item_keys"]), 3, k), abs=1e-6)


def test_item_knn_item_vectors_give_cosine_similarities_of_pretrain_user_sets():
    log = interactions.clean_log(hand_log(), "hand", user_col="user", item_col="item", time_col="time")
    dataset = recsys_datasets.to_loaded_dataset("hand", log, max_len=3)
    table = build_item_knn(pretrain_only(dataset, keep_extras=["pretrain_users"]), None).item_embeddings()
    keys = list(dataset.extras["item_keys"])
    a, b = 2 + keys.index("a"), 2 + keys.index("b")
    # pretrain = all but the last two: u1 abc, u2 ab, u3 bc, u4 acef, u5 de, u6 gfed, u7 a
    users = {"a": {"u1", "u2", "u4", "u7"}, "b": {"u1", "u2", "u3"}}  # shared: u1 u2 (u4's b is in its test)
    assert float(table[a] @ table[b]) == pytest.approx(2 / math.sqrt(len(users["a"]) * len(users["b"])))
    assert float(table[0].abs().sum()) == 0.0 and float(table[-1].abs().sum()) == 0.0  # padding, [MASK]
