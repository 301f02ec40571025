"""The names of what a result folder holds, defined once for the run that writes them and
for every reader (leaderboard, merge, compare, report).

A folder written by ``sslbench run --out DIR``::

    DIR/manifest.json     the config as run, its hash, the plan, provenance
    DIR/rows.jsonl        one result row per (cell, seed, evaluator, label set, metric)
    DIR/curves.jsonl      one loss curve per (cell, seed)
    DIR/commits.jsonl     which (cell, seed) pairs are complete (rows and curve together)
    DIR/pending/ locks/ checkpoints/ tracebacks/   the run's working folders
    DIR/tensorboard/      live curves and metrics, when [run] loggers names tensorboard
    DIR/workers/          ``--launcher``'s submitit folder: each worker's log, pickled call and result
"""
from __future__ import annotations

MANIFEST_FILE = "manifest.json"
ROWS_FILE = "rows.jsonl"
CURVES_FILE = "curves.jsonl"
COMMITS_FILE = "commits.jsonl"
PENDING_DIR = "pending"
LOCKS_DIR = "locks"
CHECKPOINTS_DIR = "checkpoints"
TRACEBACKS_DIR = "tracebacks"
TENSORBOARD_DIR = "tensorboard"  # one TensorBoard run per (cell, seed), with [run] loggers = ["tensorboard"]
WORKERS_DIR = "workers"

CURVE_KEYS = ("suite", "dataset", "task", "model", "seed")
"""Two curves with equal values here are the same cell's; a folder holds at most one."""
