"""Hook implementations of the built-in recsys plugin (entry point ``recsys``).

Builders are ``"module:function"`` strings, imported when a cell uses them; options and
data sources come from torch-free modules; so this module (and ``sslbench list``)
imports no torch.
"""
from __future__ import annotations

from sslbench import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from . import options, sources

ITEM_TABLE = {"item-embeddings", "token-embeddings"}  # what both encoders expose: their item table
RECSYS_DATA = {"modality": "recsys", "provides": {"next-item", "item-labels"}}
ITEM2VEC = ("Barkan & Koenigstein, 2016, Item2Vec: Neural Item Embedding for Collaborative Filtering; "
            "Mikolov et al., 2013 (skip-gram with negative sampling)")


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="recsys", build="sslbench_recsys.modality:build_recsys_modality", options=options.RecsysViewOptions,
            reference_build="sslbench_recsys.reference:build_item_knn", reference_name="item-knn",
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
            name="movielens-100k", build="sslbench_recsys.datasets:load_movielens_100k", options=options.MovieLens100kOptions,
            example="sslbench_recsys.examples:example_movielens_100k",  # a few synthetic users for sslbench.testing
            data=sources.MOVIELENS_100K, license=sources.MOVIELENS_100K.license,
            size="100,000 interactions, 943 users, 1,682 items", **RECSYS_DATA,
            reference="Harper & Konstan, 2015, The MovieLens Datasets: History and Context",
            description="MovieLens-100k from RecBole's example files, leave-one-out by time; "
            "item label set genre (multi-label, 19 genres)",
        ),
        DatasetSpec(
            name="interactions-csv", build="sslbench_recsys.datasets:load_interactions_csv", options=options.InteractionsCSVOptions,
            example="sslbench_recsys.examples:example_interactions_csv",  # a few synthetic users for sslbench.testing
            license="yours", size="yours", **RECSYS_DATA,
            description="your log: user, item, timestamp columns (names configurable), leave-one-out by time; "
            "optional item labels file",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="item-embedding", modalities={"recsys"}, build="sslbench_recsys.models:build_item_embedding",
            options=options.ItemEmbeddingOptions, provides=ITEM_TABLE, reference=ITEM2VEC,
            cost=0.11,  # cost hints (--shard): millions of parameters at default options, MovieLens-100k's items
            description="an item table; a user is the mean of their history's item vectors",
        ),
        ModelSpec(
            name="item-transformer", modalities={"recsys"}, build="sslbench_recsys.models:build_item_transformer",
            options=options.ItemTransformerOptions, provides=ITEM_TABLE | {"sequence"}, cost=0.21,
            reference="Sun et al., 2019 (BERT4Rec); Kang & McAuley, 2018 (SASRec)",
            description="item + position embeddings, pre-norm transformer (2 layers, D = 64); "
            "pooled = last real position",
        ),
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="cooccurrence", build="sslbench_recsys.cooccurrence:build_cooccurrence", options=options.CooccurrenceOptions,
            needs={"tokens", "token-embeddings"}, reference=ITEM2VEC,
            description="skip-gram with negative sampling over tokens within a window (item2vec / word2vec); "
            "negatives ~ unigram ** power",
        )
    ]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [
        EvaluatorSpec(
            name="next-item", run="sslbench_recsys.evaluators:run_next_item", options=options.NextItemOptions,
            needs={"item-embeddings", "next-item"}, baselines="sslbench_recsys.evaluators:popularity_baseline",
            reference="Krichene & Rendle, 2020, On Sampled Metrics for Item Recommendation (full ranking)",
            description="leave-one-out HR@K / NDCG@K over the full item ranking, seen items excluded; "
            "reference row popularity",
        ),
        EvaluatorSpec(
            name="genre-probe", run="sslbench_recsys.evaluators:run_genre_probe", options=options.GenreProbeOptions,
            needs={"item-embeddings", "item-labels"},
            description="multi-label linear probe on the frozen item table for an item label set; metric micro_f1",
        ),
    ]
