"""Estimate how long a grid config (default ``benchmarks/full.toml``) takes on one H200.

The estimate is arithmetic on measurements committed in this repository, with every
assumption printed beside the table:

- **FLOPs per step** of each cell kind come from committed result rows, counted by the
  runner with ``torch.utils.flop_counter`` on the first step: ``results/text-gpu/rows.jsonl``
  (an H200 run of bert-tiny at ``max_length`` 128, batch 256) and ``results/leaderboard.csv``
  (the quick grid on the CPU, batch 32-64, text at ``max_length`` 64). They are scaled
  linearly to the config's batch size; text cells measured at length 64 are scaled to 128
  by the ratio measured on the ``nsp`` cell, which both runs hold. A cell kind neither run
  holds gets a stated upper bound (marked ``bound``).
- **Achieved FLOP/s** is the slowest one measured on the H200 (``results/text-gpu``:
  FLOPs ÷ train seconds per cell), and a step never takes less than the fastest measured
  H200 step (small cells are bound by per-step overhead, not by arithmetic):
  ``step seconds = max(floor, FLOPs per step / achieved FLOP/s)``.
- **Evaluation** costs, per (cell, seed), the median summed ``eval_seconds`` of one
  (cell, seed) in the H200 run, plus the largest one's excess once (warm-up); **start-up
  and loading** cost a fixed, assumed (not measured) number of seconds per dataset and per run.

Run ``python benchmarks/estimate_full.py [CONFIG] [--write FILE]``; exit status 1 when the
estimate exceeds ``--limit`` seconds (default 420, the 7 minutes full.toml is sized for).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
GPU_ROWS = ROOT / "results" / "text-gpu" / "rows.jsonl"
CPU_BOARD = ROOT / "results" / "leaderboard.csv"
TEXT_CALIBRATION_TASK = "nsp"  # held by both runs: gives the length-64 → length-128 factor
STARTUP_SECONDS = 15.0  # assumed: interpreter, plugins, CUDA context (not measured)
DATASET_LOAD_SECONDS = 15.0  # assumed per dataset: cache read, tokenizer / k-means fits (not measured)
# Cell kinds without a committed measurement: (dataset, task, model) -> (measured kind, factor, why).
BOUNDS = {
    ("fashion-mnist", "supervised", "patch-transformer"):
        (("fashion-mnist", "masked-frames", "patch-transformer"), 1.0, "one encoder pass like masked-frames"),
    ("movielens-100k", "simclr", "item-embedding"):
        (("movielens-100k", "simclr", "item-transformer"), 1.0, "the same views without the transformer"),
    ("movielens-100k", "mlm", "item-transformer"):
        (("movielens-100k", "simclr", "item-transformer"), 10.0, "assumed at most 10x simclr's"),
    ("movielens-100k", "cooccurrence", "item-transformer"):
        (("movielens-100k", "simclr", "item-transformer"), 10.0, "assumed at most 10x simclr's"),
}


@dataclass(frozen=True)
class Throughput:
    """What the H200 run measured. Rates in FLOP/s, times in seconds."""

    achieved_flops: float  # the slowest cell's training FLOPs / train seconds
    floor_step_seconds: float  # the fastest step
    eval_seconds: float  # the median summed eval_seconds of one (cell, seed)
    warmup_seconds: float  # the largest minus the median: the first evaluation's CUDA warm-up, paid once
    peak_flops: float  # the device's bf16 peak, for the MFU it implies


@dataclass(frozen=True)
class CellEstimate:
    """One pretrained cell of the config: FLOPs per step and the time its seeds take."""

    cell: str
    source: str
    batch_size: int
    steps: int
    seeds: int
    flops_per_step: float
    step_seconds: float

    @property
    def train_seconds(self) -> float:
        """Training time over all seeds."""
        return self.steps * self.seeds * self.step_seconds


def measured_gpu(path: Path = GPU_ROWS) -> tuple[Throughput, dict[tuple[str, str, str], tuple[float, int]]]:
    """The H200 throughput and its cells' (FLOPs per step, batch size), from committed rows."""
    from sslbench.run.hardware import BF16_PEAK_FLOPS

    rates, steps, evals, flops = [], [], {}, {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        cost, key = row.get("cost") or {}, (row["dataset"], row["task"], row["model"], row["seed"])
        evals[key] = evals.get(key, 0.0) + float(cost.get("eval_seconds") or 0.0)
        if cost.get("steps"):
            rates.append(cost["flops"] / cost["train_seconds"])
            steps.append(cost["train_seconds"] / cost["steps"])
            flops[key[:3]] = (float(cost["flops_per_step"]), int(row["budget"]["batch_size"]))
    per_pair = sorted(evals.values())
    median = per_pair[len(per_pair) // 2]
    return Throughput(min(rates), min(steps), median, per_pair[-1] - median, BF16_PEAK_FLOPS["H200"]), flops


def measured_cpu(path: Path = CPU_BOARD) -> dict[tuple[str, str, str], tuple[float, int, int]]:
    """The quick grid's (FLOPs per step, batch size, max_length or 0) per cell kind, from the CPU run."""
    board = pd.read_csv(path)
    board = board[board["steps"] > 0].drop_duplicates(["dataset", "task", "model"])
    out = {}
    for row in board.itertuples():
        settings = json.loads(row.settings)
        length = int((settings.get("dataset") or {}).get("max_length") or 0)
        batch = int(json.loads(row.budget)["batch_size"])
        out[(row.dataset, row.task, row.model)] = (row.flops / row.steps, batch, length)
    return out


def flops_per_sample(kind: tuple[str, str, str], gpu: dict, cpu: dict, length: int) -> tuple[float, str]:
    """FLOPs per sample of one cell kind at ``length`` tokens (text) and where the number comes from."""
    if kind in gpu:
        value, batch = gpu[kind]
        return value / batch, "H200 rows"
    if kind in cpu:
        value, batch, cpu_length = cpu[kind]
        if cpu_length and length and cpu_length != length:
            cal = (kind[0], TEXT_CALIBRATION_TASK, kind[2])
            factor = (gpu[cal][0] / gpu[cal][1]) / (cpu[cal][0] / cpu[cal][1])
            return value / batch * factor, f"CPU rows x{factor:.2f} (length {cpu_length}->{length})"
        return value / batch, "CPU rows"
    if kind in BOUNDS:
        base, factor, why = BOUNDS[kind]
        per_sample, _ = flops_per_sample(base, gpu, cpu, length)
        return per_sample * factor, f"bound: {why}"
    raise KeyError(f"no committed FLOPs measurement or bound for {'/'.join(kind)}: add it to BOUNDS")


def finetune_seconds(config, plan, cells: list[CellEstimate], throughput: Throughput) -> tuple[float, int]:
    """Seconds of the ``finetune`` evaluator over every (cell, seed) that runs it, and how many.

    Each runs ``steps`` optimizer steps per learning rate of ``lr_grid`` at its own batch size;
    a step costs what a pretraining step of the same (dataset, model) costs per sample (the
    encoder's forward and backward dominate), never less than the measured floor step.
    """
    from sslbench_eval.finetune import FinetuneOptions

    options = config.options.get(("evaluator", "finetune"), FinetuneOptions())
    per_sample = {}
    for c in cells:
        dataset, _, model = c.cell.split("/")
        per_sample.setdefault((dataset, model), c.flops_per_step / c.batch_size)
    runs = [cell for cell in plan.cells if any(e.evaluator == "finetune" for e in cell.evaluations)]
    seconds = 0.0
    for cell in runs:
        flops = per_sample.get((cell.dataset, cell.model), 0.0) * options.batch_size
        step = max(throughput.floor_step_seconds, flops / throughput.achieved_flops)
        seconds += step * options.steps * len(options.lr_grid) * len(config.run.seeds)
    return seconds, len(runs) * len(config.run.seeds)


def estimate(config_path: Path) -> tuple[list[CellEstimate], Throughput, int, int, int, tuple[float, int]]:
    """Per-cell estimates, the throughput used, counts (datasets, (cell, seed) pairs, seeds) and
    the fine-tuning evaluator's (seconds, runs)."""
    from sslbench.plan.config import load_config
    from sslbench.plan.grid import plan_grid
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager())
    config = load_config(config_path, registry)
    plan = plan_grid(config, registry)
    throughput, gpu = measured_gpu()
    cpu = measured_cpu()
    seeds = len(config.run.seeds)
    cells = []
    for cell in plan.pretrained:
        length = _max_length(config_path, cell.dataset)
        per_sample, source = flops_per_sample((cell.dataset, cell.task, cell.model), gpu, cpu, length)
        flops = per_sample * cell.run.batch_size
        step = max(throughput.floor_step_seconds, flops / throughput.achieved_flops)
        cells.append(CellEstimate(f"{cell.dataset}/{cell.task}/{cell.model}", source, cell.run.batch_size,
                                  cell.run.steps, seeds, flops, step))
    datasets = len({c.dataset for c in plan.cells})
    return cells, throughput, datasets, len(plan.cells) * seeds, seeds, finetune_seconds(config, plan, cells, throughput)


def _max_length(config_path: Path, dataset: str) -> int:
    """The dataset's ``max_length`` in the config (text cells), else 0."""
    import tomllib

    raw = tomllib.loads(config_path.read_text())
    return int(raw.get("datasets", {}).get(dataset, {}).get("max_length", 0))


def render(config_path: Path, limit: float) -> tuple[str, float]:
    """The Markdown estimate for ``config_path`` and its total in seconds."""
    cells, tp, datasets, pairs, seeds, (tuning, tuned) = estimate(config_path)
    train = sum(c.train_seconds for c in cells)
    evaluation = pairs * tp.eval_seconds + tp.warmup_seconds
    fixed = STARTUP_SECONDS + datasets * DATASET_LOAD_SECONDS
    total = train + evaluation + tuning + fixed
    lines = [
        f"# Time estimate of `{config_path.name}` on one H200",
        "",
        f"Generated by `python benchmarks/estimate_full.py {_rel(config_path)}`; do not edit by hand.",
        "",
        "| cell | FLOPs/step from | batch | steps | seeds | GFLOPs/step | s/step | train s (all seeds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(f"| {c.cell} | {c.source} | {c.batch_size} | {c.steps} | {c.seeds} | "
                     f"{c.flops_per_step / 1e9:.1f} | {c.step_seconds * 1e3:.1f} ms | {c.train_seconds:.1f} |")
    lines += [
        "",
        "| part | seconds |",
        "|---|---|",
        f"| training: {len(cells)} pretrained cells x {seeds} seeds | {train:.0f} |",
        f"| evaluation: {pairs} (cell, seed) pairs incl. random-init x {tp.eval_seconds:.2f} s"
        f" + {tp.warmup_seconds:.2f} s warm-up once | {evaluation:.0f} |",
        f"| fine-tuning evaluator: {tuned} (cell, seed) runs, steps × lr_grid at its batch (see finetune_seconds)"
        f" | {tuning:.0f} |",
        f"| start-up {STARTUP_SECONDS:.0f} s + {datasets} datasets x {DATASET_LOAD_SECONDS:.0f} s (assumed)"
        f" | {fixed:.0f} |",
        f"| **total** | **{total:.0f}** ({total / 60:.1f} min; limit {limit:.0f} s) |",
        "",
        "Assumptions (measured ones from `results/text-gpu/rows.jsonl`, an H200, bf16 autocast):",
        "",
        f"- achieved training throughput {tp.achieved_flops / 1e12:.2f} TFLOP/s, the slowest bert-tiny cell measured"
        f" (MFU {tp.achieved_flops / tp.peak_flops:.2%} of the {tp.peak_flops / 1e12:.0f} TFLOP/s bf16 peak); larger"
        " steps usually run at a higher rate, so cells above bert-tiny's FLOPs are over-estimated;",
        f"- no step is faster than {tp.floor_step_seconds * 1e3:.1f} ms, the fastest step measured (per-step"
        " overhead: optimizer, batch gathering, launches) — it decides every cell below"
        f" {tp.floor_step_seconds * tp.achieved_flops / 1e9:.0f} GFLOPs/step, so a `bound` below that"
        " changes nothing;",
        "- FLOPs per step scale linearly with the batch size (true of every layer here; the contrastive"
        " similarity matrix grows with B² but is a negligible part);",
        f"- evaluation {tp.eval_seconds:.2f} s per (cell, seed): the median measured (kNN + probe + mlm-accuracy"
        f" on 2,000 / 2,000 posts), plus {tp.warmup_seconds:.2f} s once for the first one (CUDA warm-up); probes on"
        " more samples (Fashion-MNIST's 10,000) take longer, which the start-up margin has to absorb;",
        f"- start-up and dataset loading are not measured on a GPU: {STARTUP_SECONDS:.0f} s"
        f" + {DATASET_LOAD_SECONDS:.0f} s per dataset assumed (the data cache must already hold the files;"
        " `gpu.sh` prepares them first, outside this estimate).",
    ]
    return "\n".join(lines) + "\n", total


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the estimate; exit 1 when it exceeds the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, default=ROOT / "benchmarks" / "full.toml")
    parser.add_argument("--write", type=Path, help="also write the Markdown to this file")
    parser.add_argument("--limit", type=float, default=420.0, help="seconds the estimate must stay within")
    args = parser.parse_args(argv)
    text, total = render(args.config, args.limit)
    print(text, end="")
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    return 0 if math.isfinite(total) and total <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
