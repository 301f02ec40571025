"""The recsys headline check: item2vec pretraining beats popularity on MovieLens-100k.

Pretrains ``item-embedding`` with the ``cooccurrence`` task (SGNS) on the
leave-one-out pretraining split, freezes it, and compares next-item HR@10 /
NDCG@10 (full ranking, seen items excluded) against the same encoder at random
init and against the popularity baseline. Too slow for the test suite; run::

    PYTHONPATH=plugins python -m sslbench_recsys.quality_check --wheel PATH/recbole-1.2.1-py3-none-any.whl

A stand-in for the core's runner until it exists: the loop here is the plainest
possible one (Adam, random rows, fixed steps). Exits 1 if pretrained dot HR@10
does not beat popularity.

Measured (test split, defaults below, 2 shared CPU cores, 300 steps in 33-63 s):
popularity HR@10 0.085 / NDCG@10 0.044; random init, dot 0.005 / 0.002;
pretrained, dot 0.129 / 0.068, 0.116 / 0.056, 0.127 / 0.061 for seeds 0, 1, 2.
What it takes (chosen on the validation split): a tied table (the evaluator sees
only the encoder's), uniform negatives (power 0; 0.75 removes the popularity
that next-item targets carry: dot 0.080 on test), and short rows (max_len 20:
the user is the mean of recent items; with 200 the mean blurs the recent taste).
Word2vec's NLP settings (untied, power 0.75, max_len 200) give dot 0.024.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from .cooccurrence import CooccurrenceTask
from .genre_probe import ProbeSettings, label_matrix, multilabel_probe
from .interactions import read_movielens_100k
from .models import ItemEmbeddingEncoder
from .next_item import (
    NextItemSettings,
    evaluate_next_item,
    next_item,
    popularity_scorer,
)
from .splits import leave_one_out


def pretrain(task: torch.nn.Module, data, *, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Adam on random pretraining rows for ``steps`` steps; returns seconds."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(task.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(len(data.pretrain), (batch_size,), generator=generator)
        loss = task(data.pretrain.batch(index))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", default="/work/cache-wheels/recbole-1.2.1-py3-none-any.whl")
    # defaults: the headline setting, chosen on the validation split (see the plugin notes)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64, help="pretraining rows per step")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--power", type=float, default=0.0, help="negatives ~ count**power (word2vec: 0.75)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--max-len", type=int, default=20, help="rows and evaluation histories keep the most recent items")
    parser.add_argument("--untied", action="store_true", help="separate context table (dot scoring then ignores it)")
    parser.add_argument("--scoring", nargs="+", default=["dot", "cosine", "linear-probe"])
    parser.add_argument("--split", default="test", choices=["test", "valid"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    interactions = read_movielens_100k(args.wheel)
    data = leave_one_out(interactions, max_len=args.max_len)
    genres, labelled = label_matrix(interactions.labels["genre"], data.vocab)
    split = data.test if args.split == "test" else data.valid
    rows: dict[str, object] = {"settings": vars(args), "stats": data.stats}
    rows["popularity"] = evaluate_next_item(popularity_scorer(data.vocab.counts), split)

    def evaluate(stage: str, encoder: torch.nn.Module) -> None:
        for scoring in args.scoring:
            start = time.perf_counter()
            rows[f"{stage}/{scoring}"] = next_item(encoder, data, NextItemSettings(scoring=scoring, split=args.split))
            rows[f"{stage}/{scoring}"]["seconds"] = time.perf_counter() - start
        rows[f"{stage}/genre_micro_f1"] = multilabel_probe(encoder.item_embeddings(), genres, labelled, ProbeSettings())["micro_f1"]

    encoder = ItemEmbeddingEncoder(len(data.vocab), args.dim)
    evaluate("random-init", encoder)
    task = CooccurrenceTask(
        encoder, data.vocab.counts, window=args.window, negatives=args.negatives, power=args.power, tied=not args.untied
    )
    task.train()
    rows["pretrain_seconds"] = pretrain(task, data, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    evaluate("pretrained", encoder)
    print(json.dumps(rows, indent=1, default=float))
    return rows


def beats_popularity(rows: dict[str, object], scoring: str = "dot") -> bool:
    """The headline claim: pretrained HR@10 above popularity's."""
    return rows[f"pretrained/{scoring}"]["hr@10"] > rows["popularity"]["hr@10"]


if __name__ == "__main__":
    raise SystemExit(0 if beats_popularity(main()) else 1)
