"""compare (CI regression check) and merge (dedupe, warnings, atomic output), as functions and commands."""
import json
import os

import pandas as pd
import pytest
from rows import row, seeds

from sslbench.cli import main
from sslbench.results import append_rows
from sslbench.results.compare import compare, load_entries
from sslbench.results.leaderboard import render, summarize
from sslbench.results.merge import Folder, merge, read_folder, write_merged


def folder(path, rows, manifest=None, curves=()):
    path.mkdir(parents=True, exist_ok=True)
    append_rows(path, rows)
    if manifest is not None:
        (path / "manifest.json").write_text(json.dumps(manifest))
    if curves:
        (path / "curves.jsonl").write_text("".join(json.dumps(c) + "\n" for c in curves))
    return path


def base_rows():
    return [*seeds("random-init", [0.50, 0.52, 0.54]), *seeds("simclr", [0.80, 0.81, 0.82]),
            *seeds("mae", [0.60, 0.62, 0.64])]


def test_a_drop_below_the_interval_regresses_and_tolerance_forgives_it():
    old = summarize(base_rows())
    new = summarize([*seeds("random-init", [0.50, 0.52, 0.54]), *seeds("simclr", [0.78, 0.78, 0.78]),
                     *seeds("mae", [0.70, 0.71, 0.72])])
    result = compare(old, new)
    assert [c.name for c in result.regressions] == ["d / simclr / m / knn / y / top1"]
    assert [c.name for c in result.improvements] == ["d / mae / m / knn / y / top1"]
    assert result.unchanged == 1 and result.exit_code == 1
    assert compare(old, new, tolerance=0.03).exit_code == 0
    with pytest.raises(ValueError, match="tolerance: must be >= 0"):
        compare(old, new, tolerance=-1)


def test_new_vanished_changed_and_newly_failing_entries():
    old = summarize([*base_rows(), *seeds("byol", [0.7, 0.7])])
    new = summarize([*seeds("random-init", [0.50, 0.52, 0.54]), *seeds("mae", [0.6, 0.62], protocol={"k": 5}),
                     *seeds("dino", [0.9]), row("simclr", 0, None, status="failed", message="boom", metric="")])
    result = compare(old, new)
    assert [c.name for c in result.new] == ["d / dino / m / knn / y / top1"]
    assert [c.name for c in result.vanished] == ["d / byol / m / knn / y / top1"]
    assert [c.name for c in result.changed] == ["d / mae / m / knn / y / top1"]
    assert "protocol.k=20; protocol.k=5" in result.changed[0].detail
    assert [c.name for c in result.regressions] == ["d / simclr / m / knn / y / top1"]
    assert "now fails (failed: boom)" in result.regressions[0].detail


def test_lower_is_better_metrics_regress_upwards():
    old = summarize(seeds("a", [1.0, 1.1], metric="loss"), direction=lambda e, m: False)
    new = summarize(seeds("a", [1.5, 1.5], metric="loss"), direction=lambda e, m: False)
    assert compare(old, new).exit_code == 1 and compare(new, old).improvements


def test_a_committed_csv_is_a_baseline_equal_to_its_rows(tmp_path):
    rows = [*base_rows(), *seeds("popularity", [0.3, 0.3], label_set="", steps=0)]
    csv = tmp_path / "leaderboard.csv"
    csv.write_text(render(summarize(rows), "csv"))
    result = compare(load_entries(csv), load_entries(folder(tmp_path / "run", rows)))
    assert result.unchanged == 4 and not (result.regressions or result.new or result.vanished or result.changed)
    with pytest.raises(ValueError, match="not a leaderboard table; missing columns"):
        (tmp_path / "other.csv").write_text("a,b\n1,2\n")
        load_entries(tmp_path / "other.csv")


def test_compare_command_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    old = folder(tmp_path / "old", base_rows())
    worse = folder(tmp_path / "worse", [*seeds("random-init", [0.5, 0.52, 0.54]), *seeds("simclr", [0.5, 0.5, 0.5]),
                                        *seeds("mae", [0.60, 0.62, 0.64])])
    assert main(["compare", str(old), str(old)]) == 0
    assert main(["compare", str(old), str(worse)]) == 1
    assert "regressions: 1\n  d / simclr / m / knn / y / top1: 0.5000" in capsys.readouterr().out
    assert main(["compare", str(old), str(worse), "--tolerance", "0.5"]) == 0
    assert main(["compare", str(old), str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err


def test_merge_dedupes_keeps_order_and_warns_about_data_and_versions(tmp_path):
    newer = {**row("simclr", 0, 0.9), "provenance": {"sslbench": "0.2.0", "plugins": {"eval": "0.1.0"}}}
    a = Folder(tmp_path / "a", [row("simclr", 0, 0.8), row("simclr", 1, 0.7)], manifest={"datasets": {"d": "aaa"}},
               curves=[{"suite": "s", "dataset": "d", "task": "simclr", "model": "m", "seed": 0, "losses": [[0, 1.0]]}])
    b = Folder(tmp_path / "b", [newer, row("mae", 0, 0.6)], manifest={"datasets": {"d": "bbb"}, "config_hash": "h"},
               curves=[{"suite": "s", "dataset": "d", "task": "simclr", "model": "m", "seed": 0, "losses": [[0, 2.0]]}])
    merged = merge([a, b])
    assert [(r["task"], r["seed"], r["value"]) for r in merged.rows] == [("simclr", 0, 0.9), ("simclr", 1, 0.7),
                                                                         ("mae", 0, 0.6)]
    assert merged.curves == b.curves
    assert any(w.startswith("dataset 'd': rows come from different data (fingerprint aaa in") for w in merged.warnings)
    assert any(w.startswith("sslbench: rows come from different versions (0.1.0 in") for w in merged.warnings)
    assert not any(w.startswith("plugin eval") for w in merged.warnings)
    out = tmp_path / "out"
    write_merged(merged, out)
    assert sorted(os.listdir(out)) == ["curves.jsonl", "manifest.json", "rows.jsonl"]
    assert read_folder(out).rows == merged.rows and not [p for p in os.listdir(tmp_path) if p.startswith(".")]
    with pytest.raises(ValueError, match="exists and is not an empty folder"):
        write_merged(merged, out)


def test_merge_leaderboard_and_report_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    a = folder(tmp_path / "a", base_rows()[:6], manifest={"datasets": {"d": "x"}})
    b = folder(tmp_path / "b", base_rows()[6:], manifest={"datasets": {"d": "y"}})
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "m")]) == 0
    assert "warning: dataset 'd': rows come from different data" in capsys.readouterr().err
    assert main(["merge", str(a), "-o", str(tmp_path / "m")]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert main(["leaderboard", str(tmp_path / "m"), "--format", "json"]) == 0
    assert {r["task"] for r in json.loads(capsys.readouterr().out)} == {"random-init", "simclr", "mae"}
    assert main(["leaderboard", str(tmp_path / "m"), "--format", "html", "-o", str(tmp_path / "lb.html")]) == 0
    assert (tmp_path / "lb.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path / "m"), "-o", str(tmp_path / "results")]) == 0
    assert sorted(os.listdir(tmp_path / "results")) == ["LEADERBOARD.md", "leaderboard.csv", "report.html"]


def test_usage_errors_of_the_commands_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    run = folder(tmp_path / "run", base_rows())
    assert main(["compare", str(run), str(run), "--tolerance", "-1"]) == 2
    assert capsys.readouterr().err == "sslbench: error: tolerance: must be >= 0, got -1.0\n"
    assert main(["leaderboard", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("sslbench: error: ")
    assert main(["report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    assert "no rows.jsonl there" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_no_entry_in_common_fails_with_one_line(tmp_path, capsys):
    """A run that lost every row must not pass a CI gate (it did: 0 shared, 62 vanished, exit 0)."""
    from sslbench.cli import main

    old = folder(tmp_path / "old", seeds("simclr", [0.8, 0.81, 0.82]))
    new = folder(tmp_path / "new", seeds("byol", [0.8, 0.81, 0.82]))
    assert main(["compare", str(old), str(new)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no entry in common" in err[0]


def test_vanished_entries_fail_unless_allowed(tmp_path):
    from sslbench.cli import main

    rows = seeds("simclr", [0.8, 0.81, 0.82])
    old = folder(tmp_path / "old", [*rows, *seeds("byol", [0.7, 0.71, 0.72])])
    new = folder(tmp_path / "new", rows)
    assert main(["compare", str(old), str(new)]) == 1
    assert main(["compare", str(old), str(new), "--allow-vanished"]) == 0


def test_markdown_summary_for_a_ci_job(tmp_path, capsys):
    from sslbench.cli import main

    old = folder(tmp_path / "old", [*seeds("simclr", [0.80, 0.81, 0.82]), *seeds("byol", [0.7, 0.71, 0.72])])
    new = folder(tmp_path / "new", [*seeds("simclr", [0.60, 0.61, 0.62]), *seeds("byol", [0.7, 0.71, 0.72])])
    assert main(["compare", str(old), str(new), "--format", "md"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### sslbench compare: **FAIL**")
    assert "1 regressions, 0 improved, 1 unchanged" in out
    assert "#### Regressions" in out and "| d / simclr / m / knn / y / top1 |" in out


def test_a_baseline_without_an_interval_is_judged_by_the_tolerance_around_its_mean():
    old = summarize(seeds("a", [0.80, 0.82]))  # n = 2: no interval
    assert pd.isna(old["ci_low"]).all()
    close = summarize(seeds("a", [0.80, 0.805]))
    far = summarize(seeds("a", [0.70, 0.71]))
    assert compare(old, close, tolerance=0.02).exit_code == 0
    result = compare(old, far, tolerance=0.02)
    assert result.exit_code == 1 and "baseline n < 3" in result.regressions[0].detail
