"""Hook implementations of the built-in recsys plugin (entry point ``recsys``)."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch

from sslbench import (
    DatasetContext, DatasetSpec, EvaluatorSpec, LoadedDataset, ModalitySpec, ModelSpec, TaskSpec, hookimpl,
)

from . import cooccurrence, datasets, evaluators, genre_probe, interactions, modality, models, next_item, reference

ITEM_TABLE = {"item-embeddings", "token-embeddings"}  # what both encoders expose: their item table
RECSYS_DATA = {"modality": "recsys", "provides": {"next-item", "item-labels"}}
ITEM2VEC = ("Barkan & Koenigstein, 2016, Item2Vec: Neural Item Embedding for Collaborative Filtering; "
            "Mikolov et al., 2013 (skip-gram with negative sampling)")


def tiny_log(name: str) -> Callable[[DatasetContext, object], LoadedDataset]:
    """``DatasetSpec.example``: 20 users with 8-15 of 30 items in time order, item label set of 5 genres."""

    def example(ctx: DatasetContext, options: object) -> LoadedDataset:
        generator = torch.Generator().manual_seed(0)
        rows = [(f"u{u}", f"i{i}", str(t)) for u in range(20)
                for t, i in enumerate(torch.randint(0, 30, (8 + u % 8,), generator=generator).tolist())]
        items = pd.DataFrame({"item": [f"i{i}" for i in range(30)],
                              "genre": [f"g{i % 3}|g{3 + i % 2}" for i in range(30)]})
        genres = interactions.multi_hot_labels(items, name, item_col="item", labels_col="genre", sep="|")
        labels = {getattr(options, "label_set", "genre"): genres}
        log = interactions.clean_log(pd.DataFrame(rows, columns=["user", "item", "time"]), name, user_col="user",
                                     item_col="item", time_col="time", labels=labels)
        return datasets.to_loaded_dataset(name, log, options.max_len)  # type: ignore[attr-defined]

    return example


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="recsys", build=modality.build_recsys_modality, options=modality.RecsysViewOptions,
            reference_build=reference.build_item_knn, reference_name=reference.REFERENCE_NAME,
            provides={"views", "tokens"}, reference="Xie et al., 2022, Contrastive Learning for Sequential "
            "Recommendation (CL4SRec views)",
            description="chronological item ids (B, T) + mask; views: crop / mask / reorder (CL4SRec); "
            "tokens: items, [MASK] = V-1",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="movielens-100k", build=datasets.load_movielens_100k, options=datasets.MovieLens100kOptions,
            example=tiny_log("movielens-100k"),  # a few synthetic users for sslbench.testing
            data=datasets.MOVIELENS_100K, license=datasets.MOVIELENS_100K.license,
            size="100,000 interactions, 943 users, 1,682 items", **RECSYS_DATA,
            reference="Harper & Konstan, 2015, The MovieLens Datasets: History and Context",
            description="MovieLens-100k from RecBole's example files, leave-one-out by time; "
            "item label set genre (multi-label, 19 genres)",
        ),
        DatasetSpec(
            name="interactions-csv", build=datasets.load_interactions_csv, options=datasets.InteractionsCSVOptions,
            example=tiny_log("interactions-csv"),  # a few synthetic users for sslbench.testing
            license="yours", size="yours", **RECSYS_DATA,
            description="your log: user, item, timestamp columns (names configurable), leave-one-out by time; "
            "optional item labels file",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="item-embedding", modalities={"recsys"}, build=models.build_item_embedding,
            options=models.ItemEmbeddingOptions, provides=ITEM_TABLE, reference=ITEM2VEC,
            description="an item table; a user is the mean of their history's item vectors",
        ),
        ModelSpec(
            name="item-transformer", modalities={"recsys"}, build=models.build_item_transformer,
            options=models.ItemTransformerOptions, provides=ITEM_TABLE | {"sequence"},
            reference="Sun et al., 2019 (BERT4Rec); Kang & McAuley, 2018 (SASRec)",
            description="item + position embeddings, pre-norm transformer (2 layers, D = 64); "
            "pooled = last real position",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="cooccurrence", build=cooccurrence.build_cooccurrence, options=cooccurrence.CooccurrenceOptions,
            needs={"tokens", "token-embeddings"}, reference=ITEM2VEC,
            description="skip-gram with negative sampling over tokens within a window (item2vec / word2vec); "
            "negatives ~ unigram ** power",
        )
    ]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="next-item", run=evaluators.run_next_item, options=next_item.NextItemOptions,
            needs={"item-embeddings", "next-item"}, baselines=evaluators.popularity_baseline,
            reference="Krichene & Rendle, 2020, On Sampled Metrics for Item Recommendation (full ranking)",
            description="leave-one-out HR@K / NDCG@K over the full item ranking, seen items excluded; "
            "reference row popularity",
        ),
        EvaluatorSpec(
            name="genre-probe", run=evaluators.run_genre_probe, options=genre_probe.GenreProbeOptions,
            needs={"item-embeddings", "item-labels"},
            description="multi-label linear probe on the frozen item table for an item label set; metric micro_f1",
        ),
    ]
