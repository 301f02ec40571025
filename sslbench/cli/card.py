"""The model card (``README.md``) of an exported encoder: YAML front matter as the Hugging Face Hub
reads it (``library_name``, ``tags``, ``datasets``, ``model-index`` with the entry's metrics) and a
body with the entry's leaderboard rows (mean, interval, n, verdicts against random-init and the
no-encoder reference: :mod:`sslbench.results.leaderboard`), how to load it, its budget, its
provenance and the licences of its data and of any weights it started from."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def entry_rows(run_dir: Path, registry: Any, meta: Mapping[str, Any]) -> pd.DataFrame:
    """The leaderboard entries of the exported (dataset, task, model), from the run's rows."""
    from sslbench.cli.results import _direction, _migrated, _read
    from sslbench.results.leaderboard import build

    folder = _read(run_dir)
    table = build(_migrated(folder.rows, registry), _direction(registry)).table
    mine = (table["dataset"] == meta["dataset"]) & (table["task"] == meta["task"]) & (table["model"] == meta["model"])
    return table[mine].reset_index(drop=True)


def model_card(run_dir: Path, registry: Any, meta: Mapping[str, Any], facts: Mapping[str, Any], output: Path) -> str:
    """The card's text; ``DIR`` in the load code becomes ``output``."""
    import yaml

    rows = entry_rows(run_dir, registry, meta)
    name = f"{meta['dataset']}-{meta['task']}-{meta['model']}"
    front = {
        "library_name": facts.get("library_name", "sslbench"),
        "tags": sorted({"sslbench", "self-supervised", meta["modality"], meta["task"], *facts.get("tags", [])}),
        "datasets": [meta["dataset"]],
        "model-index": [{"name": name, "results": [_result(r, meta) for _, r in rows.iterrows() if _number(r["mean"])]}],
    }
    licence = meta.get("data_license") or "unknown"
    load = str(facts.get("load", "")).replace("DIR", str(output))
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        f"# {name}", "",
        f"The {meta['model']} encoder ({meta['embed_dim']}-wide embeddings) pretrained with {meta['task']} on "
        f"{meta['dataset']} by sslbench, seed {meta['seed']}, exported by `sslbench export`.", "",
        "## Load it", "", "```python", load, "```", "",
        "Back in sslbench: `[models." + meta["model"] + "] weights = \"" + str(output) + "\"` (`sslbench.json` "
        "holds the model's options and the dataset's and modality's settings that feed it).", "",
        "## Results", "", _results_table(rows), "",
        "Mean over seeds; the interval is a 95% Student-t interval of the mean (n ≥ 3 seeds); `vs random-init` and "
        "`vs reference` are paired t-tests across seeds at 5% against the same encoder untrained and against "
        "the modality's no-encoder reference.", "",
        "## Budget", "", _budget(rows), "",
        "## Provenance", "", "```json", json.dumps(_provenance(meta), indent=1, sort_keys=True, default=str), "```", "",
        "## Licences", "", f"- Data ({meta['dataset']}): {licence}",
    ]
    if meta.get("imported_weights"):
        weights = meta["imported_weights"]
        lines.append(f"- Weights it started from ({weights.get('source', '')}, sha256 {weights.get('sha256', '')}): "
                     f"{meta.get('weights_license') or 'not stated by the source; check it before you publish'}")
    return "\n".join(lines) + "\n"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))


def _result(row: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    label = " ".join(str(x) for x in (row["evaluator"], row["label_set"], row["metric"]) if x)
    return {"task": {"type": "feature-extraction", "name": str(row["evaluator"])},
            "dataset": {"type": meta["dataset"], "name": meta["dataset"]},
            "metrics": [{"type": str(row["metric"]), "value": round(float(row["mean"]), 6), "name": label}]}


def _results_table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "No rows of this entry in the run's rows.jsonl."
    out = pd.DataFrame({
        "evaluator": rows["evaluator"], "label set": rows["label_set"], "metric": rows["metric"],
        "mean": rows["mean"].map(lambda v: f"{v:.4f}" if _number(v) else ""),
        "95% interval": [f"[{lo:.4f}, {hi:.4f}]" if _number(lo) and _number(hi) else ""
                         for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "n": rows["n"], "vs random-init": rows["vs_baseline"], "vs reference": rows["vs_reference"],
        "rank": ["" if pd.isna(r) else ("=" if t else "") + str(int(r)) for r, t in zip(rows["rank"], rows["tied"])],
    })
    return out.to_markdown(index=False)


def _budget(rows: pd.DataFrame) -> str:
    budgets = sorted(set(rows["budget"])) if not rows.empty else []
    return "\n".join(f"- `{b}`" for b in budgets) or "- not recorded"


def _provenance(meta: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "task", "model", "seed", "model_options", "task_options", "dataset_options", "config_hash",
            "provenance", "imported_weights")
    return {k: meta.get(k) for k in keys}
