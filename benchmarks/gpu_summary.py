"""Summarise one ``benchmarks/gpu.sh`` call: ``benchmarks.json``, and ``README.md`` generated from it.

Reads what the stages left in the output folder — ``env.json``, ``stages.tsv``,
``rows.jsonl`` (the grid), ``mfu-rows.jsonl``, ``bench/*.json`` (the benchmarks' records)
and ``ESTIMATE.md`` — and writes ``benchmarks.json`` (everything measured, one place) and
``README.md`` (its tables). A part that did not run is ``null`` / a line saying why, never
a missing file.

Run: ``python benchmarks/gpu_summary.py results/gpu --config benchmarks/full.toml``.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

MFU_TASKS = {"mlm-nsp", "simclr"}  # the cells of gpu-mfu.toml whose MFU is reported


def read_json(path: Path) -> Any:
    """The JSON at ``path``, or None when it is missing or torn."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Result rows of a ``rows.jsonl`` ([] when missing); torn lines are skipped."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def stages(path: Path) -> list[dict[str, Any]]:
    """The stage log written by gpu.sh."""
    if not path.exists():
        return []
    with path.open() as f:
        return [{**r, "seconds": int(r["seconds"] or 0)} for r in csv.DictReader(f, delimiter="\t")]


def grid_summary(rows: list[dict[str, Any]], estimate: float | None) -> dict[str, Any]:
    """Cells, seeds, failures and training time of the grid's rows."""
    runs = {(r["dataset"], r["task"], r["model"], r["seed"]): r for r in rows}
    trained = [r for r in runs.values() if (r.get("cost") or {}).get("steps")]
    return {
        "rows": len(rows),
        "cell_seeds": len(runs),
        "pretrained_cell_seeds": len(trained),
        "failed_rows": sum(r.get("status") != "ok" for r in rows),
        "train_seconds": round(sum(r["cost"].get("train_seconds") or 0.0 for r in trained), 1),
        "estimate_seconds": estimate,
    }


def mfu_entries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per pretrained (cell, seed): MFU, achieved TFLOP/s, FLOPs per step, speed."""
    out = {}
    for r in rows:
        cost = r.get("cost") or {}
        if not cost.get("steps"):
            continue
        seconds = cost.get("train_seconds") or 0.0
        out[(r["dataset"], r["task"], r["model"], r["seed"])] = {
            "cell": f"{r['dataset']}/{r['task']}/{r['model']}", "seed": r["seed"], "steps": cost["steps"],
            "batch_size": (r.get("budget") or {}).get("batch_size"), "flops_per_step": cost.get("flops_per_step"),
            "train_seconds": seconds, "samples_per_s": cost.get("samples_per_s"),
            "achieved_tflops": round(cost["flops"] / seconds / 1e12, 3) if seconds and cost.get("flops") else None,
            "mfu": cost.get("mfu"), "device": (r.get("provenance") or {}).get("device"),
        }
    return list(out.values())


def estimate_total(path: Path, part: str = "grid") -> float | None:
    """The seconds a generated ESTIMATE.md gives for ``part`` (``grid``, or ``total``: the whole
    device call), or None. An estimate written before the device call had only ``total`` (the grid)."""
    text = path.read_text() if path.exists() else ""
    match = re.search(rf"\*\*{part}\*\* \| \*\*(\d+)\*\*", text)
    if match is None and part == "grid" and "**grid**" not in text:
        match = re.search(r"\*\*total\*\* \| \*\*(\d+)\*\*", text)
    return float(match.group(1)) if match else None


def summarise(out: Path, config: str, budget: int, elapsed: int) -> dict[str, Any]:
    """Everything one gpu.sh call measured, as one JSON-able dict."""
    bench = {p.stem: read_json(p) for p in sorted((out / "bench").glob("bench_*.json"))}
    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config,
        "budget_seconds": budget,
        "elapsed_seconds": elapsed,
        "environment": read_json(out / "env.json"),
        "stages": stages(out / "stages.tsv"),
        "grid": grid_summary(read_rows(out / "rows.jsonl"), estimate_total(out / "ESTIMATE.md")),
        "call_estimate_seconds": estimate_total(out / "ESTIMATE.md", "total") if "**grid**" in _text(
            out / "ESTIMATE.md") else None,
        "mfu": mfu_entries(read_rows(out / "mfu-rows.jsonl")),
        "eval": (bench.get("bench_eval") or {}).get("results", {}),
        "text": (bench.get("bench_text") or {}).get("results", {}),
    }


def _text(path: Path) -> str:
    """The file's text, or "" when it is missing."""
    return path.read_text() if path.exists() else ""


def _or_none(rows: list[str], columns: int) -> list[str]:
    """Table rows, or one row saying that nothing was measured in this call."""
    return rows or ["| (not measured in this call: see the stage table) " + "| " * (columns - 1) + "|"]


def _fmt(value: Any, spec: str = "") -> str:
    """A table cell: blank for None."""
    return "" if value is None else format(value, spec)


def render(s: dict[str, Any]) -> str:
    """README.md: the tables of ``benchmarks.json``."""
    env, grid = s["environment"] or {}, s["grid"]
    lines = [
        "# GPU check: the whole grid and the benchmarks in one call",
        "",
        "Generated by `benchmarks/gpu_summary.py` from `benchmarks.json` (written by `bash benchmarks/gpu.sh`;"
        " docs/gpu.md explains the stages). Do not edit by hand.",
        "",
        f"Device: {env.get('device')} (driver {env.get('driver')}, bf16 {env.get('bf16')}, "
        f"{env.get('free_gib')} of {env.get('total_gib')} GiB free, bf16 peak {env.get('bf16_peak_tflops')} TFLOP/s); "
        f"torch {env.get('torch')}, CUDA {env.get('cuda')}, {env.get('nproc')} CPU cores"
        + (" — **dry run on the CPU**" if env.get("dry_run") else "") + ".",
        f"Config `{s['config']}`; {s['elapsed_seconds']} s of the {s['budget_seconds']} s budget;"
        f" generated {s['generated']}.",
        "",
        "| stage | status | seconds | limit | note |",
        "|---|---|---|---|---|",
        *(f"| {t['stage']} | {t['status']} | {t['seconds']} | {t['limit']} | {t['note'].replace('|', '/')} |"
          for t in s["stages"]),
        "",
        "## Grid",
        "",
        "| rows | (cell, seed) | pretrained (cell, seed) | failed rows | train s (sum) | grid stage s |"
        " estimate s (ESTIMATE.md) |",
        "|---|---|---|---|---|---|---|",
        f"| {grid['rows']} | {grid['cell_seeds']} | {grid['pretrained_cell_seeds']} | {grid['failed_rows']} | "
        f"{grid['train_seconds']} | {_fmt(next((t['seconds'] for t in s['stages'] if t['stage'] == 'grid'), None))} | "
        f"{_fmt(grid['estimate_seconds'])} |",
        "",
        f"The whole device call was estimated at {_fmt(s.get('call_estimate_seconds'))} s before it ran"
        " (ESTIMATE.md's total); gpu.sh took the seconds above, the wrapper's own steps are in wrapper.log."
        if s.get("call_estimate_seconds") else "No call estimate in this folder (ESTIMATE.md).",
        "",
        "The leaderboard is `LEADERBOARD.md` (and `leaderboard.csv`, `report.html`) beside this file.",
        "",
        "## MFU (training FLOPs / train seconds / the device's bf16 peak)",
        "",
        "| cell | seed | batch | steps | GFLOPs/step | train s | samples/s | achieved TFLOP/s | MFU |",
        "|---|---|---|---|---|---|---|---|---|",
        *_or_none([f"| {m['cell']} | {m['seed']} | {m['batch_size']} | {m['steps']} | "
                   f"{_fmt(m['flops_per_step'] and m['flops_per_step'] / 1e9, '.1f')} | {m['train_seconds']} | "
                   f"{_fmt(m['samples_per_s'])} | {_fmt(m['achieved_tflops'])} | {_fmt(m['mfu'], '.2%')} |"
          for m in s["mfu"]], 9),
        "",
        "## Evaluators: torch on the device vs scikit-learn on the CPU (goal: >= 10x, top-1 within 0.5 points)",
        "",
        "| entry | train | test | torch s | scikit-learn s | speed-up | top-1 gap (points) | met |",
        "|---|---|---|---|---|---|---|---|",
        *_or_none([f"| {k} | {'x'.join(map(str, e.get('train', [])))} | {e.get('test')} | {e.get('torch_s')} | "
          f"{e.get('sklearn_s')} | {e.get('speedup')} | {e.get('top1_gap_points')} | {e.get('met')} |"
          for k, e in s["eval"].items()], 8),
        "",
        "## Text training throughput vs transformers' Trainer",
        "",
        "| entry | batch x width | sslbench tokens/s | Trainer tokens/s | ratio |",
        "|---|---|---|---|---|",
        *_or_none([f"| {k} | {e.get('batch')}x{e.get('width')} | {(e.get('tokens_per_s') or {}).get('sslbench')} | "
          f"{(e.get('tokens_per_s') or {}).get('trainer')} | {e.get('ratio_sslbench_over_trainer')} |"
          for k, e in s["text"].items()], 5),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``benchmarks.json`` and ``README.md`` into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", default="benchmarks/full.toml")
    parser.add_argument("--budget", type=int, default=0)
    parser.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        print(f"gpu_summary: {args.out}: not a folder; pass the output folder of benchmarks/gpu.sh", file=sys.stderr)
        return 2
    summary = summarise(args.out, args.config, args.budget, args.elapsed)
    (args.out / "benchmarks.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "README.md").write_text(render(summary))
    print(f"wrote {args.out / 'benchmarks.json'} and {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
