"""What a (cell, seed) pair costs, estimated from the config and the specs alone (nothing built),
and dealing pairs to ``--shard`` shards by that cost.

cost = size × (training samples × task passes + evaluations × ``EVAL_SAMPLES``), where

- size is ``ModelSpec.cost`` (by convention the encoder's parameters in millions at default
  options); a ``no-encoder`` reference has no network and counts ``REFERENCE_SIZE``;
- training samples are ``steps × batch_size`` for a steps budget; a FLOPs budget counts
  ``flops / 6e6`` (6 FLOPs per parameter per sample for forward and backward, Kaplan et al., 2020,
  with size in millions of parameters: so size × samples = flops / 6e6); a seconds budget counts
  ``seconds × SAMPLES_PER_SECOND / size`` (its cells run for the same time whatever the model);
  ``random-init`` and ``no-encoder`` cells do not train;
- task passes are ``TaskSpec.cost`` (2.0 for a task that encodes two views of each sample);
- each planned evaluation counts ``EVAL_SAMPLES`` samples' worth of training compute.

The constants come from the committed text-cpu run (results/text-cpu/rows.jsonl: bert-tiny, 2,500
steps of 32 samples): training took 550-1,240 s per cell (≈ 80 samples/s), and each cell's
evaluation 40-140 s for 3-4 evaluators (≈ 3,000 samples' worth each); the tf-idf reference
took 14-18 s against random-init bert-tiny's 124-142 s (≈ 0.1 of bert-tiny's 1.43 M parameters).
The estimate is rough and only ranks pairs against each other; it never changes what runs.
"""
from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from typing import Any

from sslbench.anchors import NO_ENCODER, UNTRAINED_TASKS

EVAL_SAMPLES = 3_000  # training samples' worth of compute per planned evaluation of a cell
REFERENCE_SIZE = 0.15  # size of a no-encoder reference (text-cpu: tf-idf ≈ 0.1 × bert-tiny's 1.43)
SAMPLES_PER_SECOND = 80 * 1.43  # size × samples per second of training, text-cpu's pace on 2 CPU cores


def cell_cost(cell: Any, registry: Any) -> float:
    """The estimated cost of one seed of ``cell`` (a :class:`~sslbench.plan.grid.Cell`), in
    size × samples (see the module doc); always > 0."""
    if cell.task == NO_ENCODER:
        size = REFERENCE_SIZE
    else:
        size = float(registry.get("model", cell.model).cost)
    evaluations = max(len(cell.evaluations) + len(cell.references), 1)
    return size * (_training_samples(cell, registry, size) + evaluations * EVAL_SAMPLES)


def _training_samples(cell: Any, registry: Any, size: float) -> float:
    if cell.task in UNTRAINED_TASKS:  # random-init, no-encoder, as-loaded: nothing trains here
        return 0.0
    passes = float(registry.get("task", cell.task).cost)
    run = cell.run
    if run.budget_unit == "flops":
        return run.flops / 6e6 / size
    if run.budget_unit == "seconds":
        return run.seconds * SAMPLES_PER_SECOND / size
    return float(run.steps * run.batch_size) * passes


def deal(costs: Iterable[tuple[str, float]], n: int) -> list[set[str]]:
    """Deal named pairs to ``n`` shards, the costliest first, each to the least-loaded shard.

    Pairs are ordered by (cost, descending; then a SHA-256 of the name), so the result depends only
    on the set of pairs and their costs, never on the order of the config's lists. Ties in load go
    to the shard with fewer pairs, then the lowest index. Every cost being > 0, the first n pairs
    go to n different shards: no shard is empty while another holds two. Greedy
    longest-processing-time dealing (Graham, 1969) keeps the largest shard within 4/3 of the best
    possible split.
    """
    order = sorted(costs, key=lambda item: (-item[1], hashlib.sha256(item[0].encode()).digest()))
    shards: list[set[str]] = [set() for _ in range(n)]
    heap = [(0.0, 0, k) for k in range(n)]
    for name, cost in order:
        load, count, k = heapq.heappop(heap)
        shards[k].add(name)
        heapq.heappush(heap, (load + cost, count + 1, k))
    return shards
