"""``DatasetSpec.example`` functions of the recsys datasets: a few synthetic users, no files.

Its own module (imported only when the conformance kit asks for an example), so that the
plugin's hook module imports no torch.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch

from sslbench import DatasetContext, LoadedDataset

from . import datasets, interactions


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


example_movielens_100k = tiny_log("movielens-100k")
example_interactions_csv = tiny_log("interactions-csv")
