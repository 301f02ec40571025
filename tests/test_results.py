"""Rows: schema, atomic appends from concurrent writers, torn lines, dedupe."""
import json
import multiprocessing as mp

import pytest

from sslbench.results import IDENTITY_KEYS, ROWS_FILE, append_rows, dedupe, make_row, read_rows


def identity(seed=0, metric="top1", **over):
    base = dict(suite="s", dataset="d", task="t", model="m", evaluator="e", label_set="l", metric=metric, seed=seed)
    return {**base, **over}


def _writer(out_dir, worker):
    for i in range(50):
        append_rows(out_dir, [make_row(identity(seed=worker, metric=f"m{i}"), float(i), message="x" * 5000)])


def test_concurrent_writers_lose_and_tear_nothing(tmp_path):
    procs = [mp.get_context("fork").Process(target=_writer, args=(tmp_path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    rows = read_rows(tmp_path)
    assert len(rows) == 200 and len({(r["seed"], r["metric"]) for r in rows}) == 200


def test_a_torn_last_line_is_skipped_but_a_torn_middle_line_is_an_error(tmp_path):
    append_rows(tmp_path, [make_row(identity(), 1.0)])
    with open(tmp_path / ROWS_FILE, "a") as f:
        f.write('{"suite": "s", "data')
    assert len(read_rows(tmp_path)) == 1
    with open(tmp_path / ROWS_FILE, "a") as f:
        f.write("\n" + json.dumps(make_row(identity(seed=1), 2.0)) + "\n")
    with pytest.raises(ValueError, match=r"rows.jsonl:2: not a JSON row"):
        read_rows(tmp_path)


def test_non_finite_values_are_stored_as_null_and_status_checked():
    assert make_row(identity(), float("nan"))["value"] is None
    with pytest.raises(ValueError, match="status 'weird'"):
        make_row(identity(), 1.0, status="weird")
    with pytest.raises(ValueError, match="row identity lacks"):
        make_row({"suite": "s"}, 1.0)


def test_dedupe_keeps_the_last_row_per_identity():
    rows = [make_row(identity(), 1.0), make_row(identity(seed=1), 2.0), make_row(identity(), 3.0)]
    kept = dedupe(rows)
    assert [r["value"] for r in kept] == [3.0, 2.0]
    assert set(IDENTITY_KEYS) <= set(kept[0])
