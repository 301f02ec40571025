"""Recommendation: ``cooccurrence`` training pairs/s vs a per-pair Python loop; full-ranking evaluation time.

**Pairs/s.** The ``cooccurrence`` task (item2vec: skip-gram with negative sampling)
built through the registry on MovieLens-100k with ``item-embedding``, the quick
grid's settings (window 5, 5 negatives, uniform negatives, batch 64 user rows,
AdamW lr 1e-2). One training step = pair extraction + negatives + SGNS loss +
backward + AdamW step:

* **sslbench**: ``task(batch)`` — pairs by shifting the padded (B, T) batch once per
  distance (``skipgram_pairs``), one vectorised loss (``sgns_loss``);
* **loop**: the same pairs found by a Python loop over rows, positions and distances,
  the same negatives (one draw from the task's sampler), and the loss summed pair by
  pair (one dot product per positive and per negative), as a plain reimplementation
  of word2vec's inner loop in PyTorch would do. It runs on the first ``LOOP_ROWS``
  rows of each batch only (the per-pair cost does not depend on the batch), so a
  step stays within seconds.

Both sides' pairs and loss are checked equal on a batch before timing. Pairs/s =
pairs in the step ÷ seconds of the step.

**Full ranking.** The ``next-item`` evaluator (dot scoring, every item a candidate,
seen items excluded) on all 943 test users, timed from the frozen encoder to HR@10 /
NDCG@10 (user embeddings included), vs a per-user loop that embeds one user, scores
every item, masks the seen ones and ranks the target; the metrics are checked equal.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_recsys.py --benchmark-only -s
"""
from __future__ import annotations

import math
import os
import statistics
import time
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import synchronize

BATCH = 64  # user rows per step (the quick grid's)
STEPS = 20  # timed sslbench steps per round
LOOP_ROWS = 4  # rows of each batch the per-pair loop trains on
LOOP_STEPS = 2  # timed loop steps per round
ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "3"))


@pytest.fixture(scope="module")
def movielens(registry: Any, data_ctx: Any) -> Any:
    spec = registry.get("dataset", "movielens-100k")
    return spec.build(data_ctx, spec.options())


def build_cell(registry: Any, dataset: Any, device: torch.device, seed: int = 0) -> tuple[Any, Any, Any]:
    """Modality, encoder and cooccurrence task (power 0, as the quick grid) from the registry, seeded."""
    from sslbench import ModelContext, TaskContext
    from sslbench.data import cache_root
    from sslbench.run.cells import seed_everything

    seed_everything(seed)
    modality = registry.get("modality", "recsys")
    modality = modality.build(dataset.info, modality.options())
    encoder = registry.get("model", "item-embedding").build(
        ModelContext("movielens-100k", "recsys", dataset.info), registry.get("model", "item-embedding").options())
    task_spec = registry.get("task", "cooccurrence")
    task = task_spec.build(TaskContext(encoder, modality, dataset, cache_root() / "artifacts"), task_spec.options(power=0.0))
    return modality, encoder, task.to(device)


def loop_pairs(items: list[list[int]], mask: list[list[bool]], window: int) -> list[tuple[int, int]]:
    """(center, context) pairs at distance 1..window in both directions, one Python step per pair."""
    pairs = []
    for row, real in zip(items, mask):
        for t in range(len(row)):
            for d in range(1, window + 1):
                if t + d < len(row) and real[t] and real[t + d]:
                    pairs += [(row[t], row[t + d]), (row[t + d], row[t])]
    return pairs


def loop_loss(table: torch.Tensor, pairs: list[tuple[int, int]], negatives: list[list[int]]) -> torch.Tensor:
    """Mean SGNS loss summed pair by pair: −log σ(u·v) − Σ_k log σ(−u·v_k)."""
    total = table.new_zeros(())
    for (center, context), negs in zip(pairs, negatives):
        u = table[center]
        total = total - F.logsigmoid(u @ table[context])
        for n in negs:
            total = total - F.logsigmoid(-(u @ table[n]))
    return total / len(pairs)


def loop_step(task: Any, optimizer: Any, batch: dict[str, torch.Tensor]) -> int:
    """One training step of the per-pair loop on ``batch``; returns its number of pairs."""
    ids, real = task.modality.tokens(batch)
    pairs = loop_pairs(ids.tolist(), real.tolist(), task.options.window)
    negatives = task.sampler.sample((len(pairs), task.options.negatives)).tolist()
    loss = loop_loss(task.encoder.token_embeddings().weight, pairs, negatives)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return len(pairs)


def task_step(task: Any, optimizer: Any, batch: dict[str, torch.Tensor]) -> int:
    """One training step of the task as sslbench trains it; returns its number of pairs."""
    out = task(batch)
    optimizer.zero_grad(set_to_none=True)
    out["loss"].backward()
    optimizer.step()
    return int(out["pairs"])


def pairs_per_s(step: Any, task: Any, batches: list[dict[str, torch.Tensor]], device: torch.device) -> float:
    """Pairs per second of ``step`` over ``batches`` (one optimizer per run, as in training)."""
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-2, weight_decay=0.0)
    step(task, optimizer, batches[0])  # warm up
    synchronize(device)
    start, pairs = time.perf_counter(), 0
    for batch in batches[1:]:
        pairs += step(task, optimizer, batch)
    synchronize(device)
    return pairs / (time.perf_counter() - start)


def check_same_pairs_and_loss(task: Any, batch: dict[str, torch.Tensor]) -> None:
    """The loop finds the task's pairs, and its loss equals ``sgns_loss`` on the same pairs and negatives."""
    from sslbench_recsys.cooccurrence import sgns_loss, skipgram_pairs

    ids, real = task.modality.tokens(batch)
    centers, contexts = skipgram_pairs(ids, real, task.options.window)
    pairs = loop_pairs(ids.tolist(), real.tolist(), task.options.window)
    assert sorted(pairs) == sorted(zip(centers.tolist(), contexts.tolist()))
    negatives = task.sampler.sample((len(pairs), task.options.negatives))
    table = task.encoder.token_embeddings().weight.detach()
    c, o = torch.tensor(pairs).T.to(table.device)
    expected = sgns_loss(table[c], table[o], table[negatives])
    assert loop_loss(table, pairs, negatives.tolist()).item() == pytest.approx(expected.item(), rel=1e-5)


def test_cooccurrence_pairs_per_s(benchmark, registry, movielens, device, record):
    from sslbench.run.train import epoch_batches

    split = movielens.pretrain
    order = epoch_batches(len(split), BATCH, seed=0)
    batches = [{k: v.to(device) for k, v in split.batch(next(order)).items()} for _ in range(STEPS + 1)]
    loop_batches = [{k: v[:LOOP_ROWS] for k, v in b.items()} for b in batches[: LOOP_STEPS + 1]]
    _, _, task = build_cell(registry, movielens, device)
    check_same_pairs_and_loss(task, loop_batches[0])
    ours, theirs = [], []

    def one_round() -> None:
        for side in ("ours", "theirs") if len(ours) % 2 else ("theirs", "ours"):
            task = build_cell(registry, movielens, device)[2]
            if side == "ours":
                ours.append(pairs_per_s(task_step, task, batches, device))
            else:
                theirs.append(pairs_per_s(loop_step, task, loop_batches, device))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratio = statistics.median(o / t for o, t in zip(ours, theirs))
    record(
        "recsys-cooccurrence-pairs",
        f"cooccurrence/item-embedding B={BATCH}: sslbench {statistics.median(ours):,.0f} pairs/s, per-pair Python loop "
        f"{statistics.median(theirs):,.0f} pairs/s, ratio {ratio:,.0f}x",
        batch_size=BATCH, loop_rows=LOOP_ROWS, steps=STEPS, loop_steps=LOOP_STEPS, window=task.options.window,
        negatives=task.options.negatives, sslbench_pairs_per_s=[round(x) for x in ours],
        loop_pairs_per_s=[round(x, 1) for x in theirs], ratio=round(ratio, 1),
    )


def per_user_metrics(encoder: Any, rows: Any, blocked: tuple[int, ...], k: int, device: torch.device) -> dict[str, float]:
    """HR@k and NDCG@k by a loop over users: embed, score every item, mask, rank the target."""
    items = encoder.item_embeddings().float()
    hr = ndcg = 0.0
    with torch.no_grad():
        for r in range(len(rows)):
            user = encoder({"items": rows.items[r : r + 1].to(device), "mask": rows.mask[r : r + 1].to(device)}).pooled[0]
            scores = (items @ user).clone()
            target = int(rows.targets[r])
            target_score = scores[target].item()
            seen = rows.seen[r][rows.seen[r] > 0].to(device)
            scores[seen] = -math.inf
            scores[:2] = -math.inf  # padding and unknown
            scores[list(blocked)] = -math.inf
            scores[target] = -math.inf  # not its own competitor
            if target < 2 or not math.isfinite(target_score):
                continue
            rank = int((scores > target_score).sum())  # continuous random scores: no ties
            if rank < k:
                hr, ndcg = hr + 1.0, ndcg + 1.0 / math.log2(rank + 2)
    return {f"hr@{k}": hr / len(rows), f"ndcg@{k}": ndcg / len(rows)}


def test_next_item_full_ranking_time(benchmark, registry, movielens, device, record):
    from sslbench_recsys.datasets import eval_rows

    from sslbench import EvalContext

    modality, encoder, _ = build_cell(registry, movielens, device)
    encoder = encoder.to(device).eval().requires_grad_(False)
    spec = registry.get("evaluator", "next-item")
    options = spec.options(scoring="dot")
    rows = eval_rows(movielens, options.split)
    blocked = (int(movielens.info["mask_token_id"]),)

    def evaluator() -> dict[str, float]:
        ctx = EvalContext(encoder=encoder, task=None, dataset=movielens, modality=modality, label_set=None,
                          device=device, seed=0)  # fresh context: user embeddings computed inside the timing
        return spec.run(ctx, options)

    ours, theirs, metrics = [], [], {}
    for r in range(ROUNDS):
        for side in ("ours", "theirs") if r % 2 else ("theirs", "ours"):
            start = time.perf_counter()
            metrics[side] = evaluator() if side == "ours" else per_user_metrics(encoder, rows, blocked, options.k, device)
            synchronize(device)
            (ours if side == "ours" else theirs).append(time.perf_counter() - start)
    benchmark.pedantic(evaluator, rounds=1, iterations=1)
    ratio = statistics.median(t / o for o, t in zip(ours, theirs))
    record(
        "recsys-next-item-full-ranking",
        f"next-item dot, {len(rows)} users x {encoder.item_embeddings().shape[0]} items: sslbench "
        f"{statistics.median(ours) * 1e3:.0f} ms, per-user loop {statistics.median(theirs) * 1e3:.0f} ms, "
        f"speed-up {ratio:.0f}x",
        users=len(rows), items=int(encoder.item_embeddings().shape[0]), sslbench_s=[round(t, 4) for t in ours],
        per_user_loop_s=[round(t, 4) for t in theirs], speedup=round(ratio, 1), metrics=metrics["ours"],
    )
    assert metrics["ours"] == pytest.approx(metrics["theirs"], abs=1e-6)
