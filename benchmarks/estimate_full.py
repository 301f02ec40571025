"""Estimate how long a grid config (default ``benchmarks/full.toml``) and its whole device call
take on one H100 (or H200: ``--device H200``).

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
  ``step seconds = max(floor, FLOPs per step / achieved FLOP/s)``; a cell kind the H200 run
  measured at the config's batch size takes its slowest measured step instead.
- **The H100**: no run of this suite on an H100 is committed, so its step times are the
  H200's times ``DEVICE_SCALE["H100"]`` (1.0): the H100 SXM has the H200's GH100 compute
  (132 SMs, the same bf16 peak) and the steps measured are bound by per-step overhead
  (launches, host work; ≤ 0.8% MFU), not by the H200's larger HBM bandwidth. That is an
  assumption; the estimate also prints the call as if every GPU second were HBM-bound
  (× ``HBM_RATIO``, 4.8 / 3.35 TB/s), and the call's ``benchmarks.json`` gives the actual.
- **Evaluation** costs, per (cell, seed), the median summed ``eval_seconds`` of one
  (cell, seed) in the H200 run, plus the largest one's excess once (warm-up); the
  ``finetune`` evaluator is estimated from its steps and its head's probe fit
  (``finetune_seconds``); **start-up
  and loading** cost a fixed, assumed (not measured) number of seconds per dataset and per run.
- **The call** (``benchmarks/device/run.sh`` → ``benchmarks/gpu.sh``): the grid plus the
  other stages at their caps, read from ``gpu.sh`` and ``run.sh`` (the time limits those
  scripts enforce), plus assumed seconds for the uncapped steps (install, unpack, env, data).

Run ``python benchmarks/estimate_full.py [CONFIG] [--write FILE]``; exit status 1 when the
call's estimate exceeds ``--limit`` seconds (default 570: one device call of 9.5 minutes).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
GPU_ROWS = ROOT / "results" / "text-gpu" / "rows.jsonl"
CPU_BOARD = ROOT / "results" / "leaderboard.csv"
TEXT_POSITIONS = 126  # token positions of one text sample at max_length 128 (two 62-token NSP segments + 2)
TEXT_CALIBRATION_TASK = "nsp"  # held by both runs: gives the length-64 → length-128 factor
GPU_SH = ROOT / "benchmarks" / "gpu.sh"
RUN_SH = ROOT / "benchmarks" / "device" / "run.sh"
CALL_LIMIT_SECONDS = 570.0  # one device call of at most 9.5 minutes (the lent machine's 10-minute command limit)
DEVICE_SCALE = {"H200": 1.0, "H100": 1.0}  # step time relative to the measured H200: see the module docstring
HBM_RATIO = 4.8 / 3.35  # H200 / H100 SXM HBM bandwidth (TB/s, the vendor's data sheets): the worst case for the H100
INSTALL_UNPACK_SECONDS = 20.0  # assumed: pip install of 4 wheels, the import check, 34 MiB of xz unpacked
ENV_DATA_ESTIMATE_SECONDS = 25.0  # assumed: gpu.sh's env (torch import, CUDA init), data and estimate stages
STARTUP_SECONDS = 15.0  # assumed: interpreter, plugins, CUDA context (not measured)
DATASET_LOAD_SECONDS = 5.0  # assumed per dataset, warm cache (20newsgroups, the slowest: 2.5 s on the 2-core CPU)
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


def measured_gpu(path: Path = GPU_ROWS) -> tuple[Throughput, dict[tuple[str, str, str], tuple[float, int, float]]]:
    """The H200 throughput and its cells' (FLOPs per step, batch size, slowest seconds per step),
    from committed rows."""
    from sslbench.run.hardware import BF16_PEAK_FLOPS

    rates, steps, evals, cells = [], [], {}, {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        cost, key = row.get("cost") or {}, (row["dataset"], row["task"], row["model"], row["seed"])
        evals[key] = evals.get(key, 0.0) + float(cost.get("eval_seconds") or 0.0)
        if cost.get("steps"):
            rates.append(cost["flops"] / cost["train_seconds"])
            steps.append(cost["train_seconds"] / cost["steps"])
            slowest = max(steps[-1], cells.get(key[:3], (0, 0, 0.0))[2])
            cells[key[:3]] = (float(cost["flops_per_step"]), int(row["budget"]["batch_size"]), slowest)
    per_pair = sorted(evals.values())
    median = per_pair[len(per_pair) // 2]
    return Throughput(min(rates), min(steps), median, per_pair[-1] - median, BF16_PEAK_FLOPS["H200"]), cells


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
        value, batch, _ = gpu[kind]
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
    encoder's forward and backward dominate), never less than the measured floor step. Before
    them, with ``head_init = "probe"`` (LP-FT), the head's start is one linear-probe fit: counted
    as one whole measured evaluation of a (cell, seed) (kNN + probe + mlm-accuracy), a bound.
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
        head_fit = throughput.eval_seconds if options.head_init == "probe" else 0.0
        seconds += (step * options.steps * len(options.lr_grid) + head_fit) * len(config.run.seeds)
    return seconds, len(runs) * len(config.run.seeds)


def estimate(config_path: Path, device: str = "H100",
             ) -> tuple[list[CellEstimate], Throughput, int, int, int, tuple[float, int]]:
    """Per-cell estimates on ``device``, the throughput used, counts (datasets, (cell, seed) pairs,
    seeds) and the fine-tuning evaluator's (seconds, runs)."""
    from sslbench.plan.config import load_config
    from sslbench.plan.grid import plan_grid
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    registry = Registry(make_plugin_manager())
    config = load_config(config_path, registry)
    plan = plan_grid(config, registry)
    measured, gpu = measured_gpu()
    throughput = scaled(measured, DEVICE_SCALE[device])
    cpu = measured_cpu()
    seeds = len(config.run.seeds)
    cells = []
    for cell in plan.pretrained:
        length = _max_length(config_path, cell.dataset)
        per_sample, source = flops_per_sample((cell.dataset, cell.task, cell.model), gpu, cpu, length)
        flops = per_sample * cell.run.batch_size
        step = max(throughput.floor_step_seconds, flops / throughput.achieved_flops)
        kind = (cell.dataset, cell.task, cell.model)
        if kind in gpu and gpu[kind][1] == cell.run.batch_size:  # measured at this batch: its slowest step
            step, source = gpu[kind][2] * DEVICE_SCALE[device], "H200 rows, measured step"
        cells.append(CellEstimate(f"{cell.dataset}/{cell.task}/{cell.model}", source, cell.run.batch_size,
                                  cell.run.steps, seeds, flops, step))
    datasets = len({c.dataset for c in plan.cells})
    return cells, throughput, datasets, len(plan.cells) * seeds, seeds, finetune_seconds(config, plan, cells, throughput)


def scaled(tp: Throughput, factor: float) -> Throughput:
    """``tp`` on a device whose step and evaluation times are ``factor`` times the measured ones."""
    return Throughput(tp.achieved_flops / factor, tp.floor_step_seconds * factor, tp.eval_seconds * factor,
                      tp.warmup_seconds * factor, tp.peak_flops)


def call_plan(gpu_sh: Path = GPU_SH, run_sh: Path = RUN_SH) -> list[tuple[str, float]]:
    """The device call's parts other than the grid: (what, seconds), the capped ones read from the
    scripts that enforce them (gpu.sh's GPU caps, its summary reserve, run.sh's pack reserve)."""
    text = gpu_sh.read_text()
    line = next(ln for ln in text.splitlines() if "# docs/gpu.md: the call plan" in ln)
    caps = {k: float(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    summary = float(re.search(r"SUMMARY_RESERVE=(\d+)", text).group(1))
    pack = float(re.search(r"PACK_RESERVE=(\d+)", run_sh.read_text()).group(1))
    return [
        ("run.sh: install the carried wheels, check the import, unpack the data cache (assumed)", INSTALL_UNPACK_SECONDS),
        ("gpu.sh: env, data and estimate stages (assumed)", ENV_DATA_ESTIMATE_SECONDS),
        ("gpu.sh: mfu stage (its cap)", caps["CAP_MFU"]),
        ("gpu.sh: eval stage, probe and kNN vs scikit-learn (its cap)", caps["CAP_EVAL"]),
        ("gpu.sh: text stage, tokens/s vs Trainer (its cap)", caps["CAP_TEXT"]),
        ("gpu.sh: report stage (the grid's reserve)", caps["GRID_RESERVE"]),
        ("gpu.sh: summary (its reserve)", summary),
        ("run.sh: pack (its reserve)", pack),
    ]


def _max_length(config_path: Path, dataset: str) -> int:
    """The dataset's ``max_length`` in the config (text cells), else 0."""
    import tomllib

    raw = tomllib.loads(config_path.read_text())
    return int(raw.get("datasets", {}).get(dataset, {}).get("max_length", 0))


def render(config_path: Path, limit: float, device: str = "H100") -> tuple[str, float]:
    """The Markdown estimate for ``config_path`` on ``device`` and the whole call's total in seconds."""
    cells, tp, datasets, pairs, seeds, (tuning, tuned) = estimate(config_path, device)
    train = sum(c.train_seconds for c in cells)
    evaluation = pairs * tp.eval_seconds + tp.warmup_seconds
    fixed = STARTUP_SECONDS + datasets * DATASET_LOAD_SECONDS
    grid = train + evaluation + tuning + fixed
    others = call_plan()
    total = grid + sum(seconds for _, seconds in others)
    gpu_seconds = train + evaluation + tuning
    worst = total + gpu_seconds * (HBM_RATIO - 1)
    text_cells = [c for c in cells if c.cell.startswith("20newsgroups/")]
    lines = [
        f"# Time estimate of `{config_path.name}` on one {device}, and of its device call",
        "",
        f"Generated by `python benchmarks/estimate_full.py {_rel(config_path)}"
        f"{'' if device == 'H100' else ' --device ' + device}`, before the call; do not edit by hand.",
        "",
        "| cell | FLOPs/step from | batch | steps | seeds | GFLOPs/step | s/step | train s (all seeds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(f"| {c.cell} | {c.source} | {c.batch_size} | {c.steps} | {c.seeds} | "
                     f"{c.flops_per_step / 1e9:.1f} | {c.step_seconds * 1e3:.1f} ms | {c.train_seconds:.1f} |")
    lines += [
        "",
        "| part of the grid | seconds |",
        "|---|---|",
        f"| training: {len(cells)} pretrained cells x {seeds} seeds | {train:.0f} |",
        f"| evaluation: {pairs} (cell, seed) pairs incl. random-init x {tp.eval_seconds:.2f} s"
        f" + {tp.warmup_seconds:.2f} s warm-up once | {evaluation:.0f} |",
        f"| fine-tuning evaluator: {tuned} (cell, seed) runs, steps × lr_grid at its batch + the head's probe fit (see finetune_seconds)"
        f" | {tuning:.0f} |",
        f"| start-up {STARTUP_SECONDS:.0f} s + {datasets} datasets x {DATASET_LOAD_SECONDS:.0f} s (assumed)"
        f" | {fixed:.0f} |",
        f"| **grid** | **{grid:.0f}** |",
        "",
        "| part of the call (`benchmarks/device/run.sh`) | seconds |",
        "|---|---|",
        *(f"| {what} | {seconds:.0f} |" for what, seconds in others),
        f"| the grid (above) | {grid:.0f} |",
        f"| **total** | **{total:.0f}** ({total / 60:.1f} min; limit {limit:.0f} s) |",
        "",
        "Assumptions (measured ones from `results/text-gpu/rows.jsonl`, an H200, bf16 autocast):",
        "",
        f"- {device}: step and evaluation times are the H200's x {DEVICE_SCALE[device]:g}"
        + (" (no H100 run is committed: the same GH100 compute as the H200, and the measured steps are"
           " bound by per-step overhead, not HBM bandwidth; an estimate, not a measurement). Were every GPU"
           f" second bound by HBM bandwidth instead (x {HBM_RATIO:.2f}, 4.8 / 3.35 TB/s), the call would take"
           f" {worst:.0f} s ({worst / 60:.1f} min): the grid runs last, on whatever the capped stages before"
           " it left, so an overrun cuts its last cells (text runs first), not the benchmarks;"
           if device == "H100" else ";"),
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
        f" + {DATASET_LOAD_SECONDS:.0f} s per dataset assumed (the data cache already holds the files:"
        " `run.sh` unpacks the carried archive first);",
        f"- text cells: {', '.join(sorted({f'{c.steps * c.batch_size * TEXT_POSITIONS / 1e6:.1f} M' for c in text_cells}))}"
        f" token positions each (steps x batch x {TEXT_POSITIONS});",
        "- the other stages of the call count at their caps, the time limits gpu.sh and run.sh enforce;"
        " what they leave unused goes to the grid.",
    ]
    return "\n".join(lines) + "\n", total


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the estimate; exit 1 when the call exceeds the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, default=ROOT / "benchmarks" / "full.toml")
    parser.add_argument("--write", type=Path, help="also write the Markdown to this file")
    parser.add_argument("--device", choices=sorted(DEVICE_SCALE), default="H100", help="the GPU (default H100)")
    parser.add_argument("--limit", type=float, default=CALL_LIMIT_SECONDS, help="seconds the call must stay within")
    args = parser.parse_args(argv)
    text, total = render(args.config, args.limit, args.device)
    print(text, end="")
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    return 0 if math.isfinite(total) and total <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
