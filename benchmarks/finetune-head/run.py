"""The full matrix behind the finetune head's peer check: every built-in encoder of every modality, at its
random init and after a short self-supervised pretraining, 3 seeds: frozen-head ``finetune`` (AdamW on
standardised features) against the ``linear-probe`` (L-BFGS, L2 chosen on valid) on the same frozen features —
with the head starting from the probe's fit (``head_init = "probe"``, LP-FT, finetune's default) and with a
randomly drawn head (``head_init = "random"``, the protocol before LP-FT), on the same encoders.

The data and the head's settings are the peer test's (tests/eval/test_finetune_peers.py: scikit-learn's digits
for images; fabricated topics, clips and sessions with a class signal for text, audio and recsys), so the
test's cases are a corner of this matrix. Pretraining: ``--steps`` steps (default 100) of the modality's own
self-supervised task (simclr, mlm, masked-frames, cooccurrence) at batch 32, lr 1e-3. The generic ``timm``
model is left out (its architecture is whatever the user names).

Run from the repository root (writes benchmarks/finetune-head/RESULTS.md)::

    OMP_NUM_THREADS=1 PYTHONPATH=.:plugins .venv/bin/python benchmarks/finetune-head/run.py
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "eval"))  # the peer test's data builders, shared so both read the same data

import test_finetune_peers as peers  # noqa: E402

from sslbench import EvalContext, ModelContext, TaskContext  # noqa: E402
from sslbench.plan.config import RunConfig  # noqa: E402
from sslbench.run.train import pretrain  # noqa: E402
from sslbench_eval.finetune import run_finetune  # noqa: E402
from sslbench_eval.linear_probe import LinearProbeOptions, run_linear_probe  # noqa: E402

MODELS = peers.BUILT_IN_MODELS  # every built-in model but `timm`; the peer test checks it against the registry


def encoder(registry, modality: str, model: str, data, seed: int, steps: int, root: Path) -> torch.nn.Module:
    """``model`` at the random init of ``seed``, or after ``steps`` of the modality's self-supervised task."""
    torch.manual_seed(seed)
    spec = registry.get("model", model)
    net = spec.build(ModelContext(dataset="peer", modality=modality, info=data.info), spec.options())
    if steps:
        task_name = peers.CASES[modality][2]
        modality_spec, task_spec = registry.get("modality", modality), registry.get("task", task_name)
        views = modality_spec.build(data.info, modality_spec.options())
        task = task_spec.build(TaskContext(encoder=net, modality=views, dataset=data, cache_dir=root), task_spec.options())
        pretrain(task, data.split(task_spec.split), RunConfig(steps=steps, batch_size=32, lr=1e-3, pin_memory=False),
                 torch.device("cpu"), seed=seed)
    return net.requires_grad_(False).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="self-supervised steps of the pretrained rows")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    registry = peers.Registry(peers.make_plugin_manager(autoload=False, modules=peers.MODULES))
    lines, gaps_by_init = [], {"probe": [], "random": []}
    for modality, models in MODELS.items():
        root = Path(tempfile.mkdtemp())
        data, label_set = peers.CASES[modality][0](root, registry)
        for model in models:
            for steps in (0, args.steps):
                probes, heads = [], {"probe": [], "random": []}
                start = time.perf_counter()
                for seed in args.seeds:
                    net = encoder(registry, modality, model, data, seed, steps, root)
                    ctx = EvalContext(encoder=net, task=None, dataset=data, modality=None, label_set=label_set,
                                      device=torch.device("cpu"), seed=seed)
                    probes.append(run_linear_probe(ctx, LinearProbeOptions())["top1"])
                    for init in heads:
                        heads[init].append(run_finetune(ctx, dataclasses.replace(peers.HEAD, head_init=init))["top1"])
                cells = []
                for init, values in heads.items():
                    gaps = [h - p for h, p in zip(values, probes)]
                    gaps_by_init[init].append(gaps)
                    cells.append(f"{statistics.mean(values):.4f} | {statistics.mean(gaps):+.4f} | "
                                 f"{min(gaps):+.4f} … {max(gaps):+.4f}")
                row = (f"| {modality} | {model} | {'random-init' if not steps else f'{steps} steps'} | "
                       f"{statistics.mean(probes):.4f} | {' | '.join(cells)} | {time.perf_counter() - start:.0f} |")
                print(row, flush=True)
                lines.append(row)
    head = peers.HEAD
    text = [
        "# Frozen-head `finetune` against the linear probe, every built-in encoder",
        "",
        "Generated by `benchmarks/finetune-head/run.py` (its docstring says what is measured); regenerate with:",
        "",
        "```bash",
        "OMP_NUM_THREADS=1 PYTHONPATH=.:plugins .venv/bin/python benchmarks/finetune-head/run.py",
        "```",
        "",
        f"Seeds {args.seeds}; head: `finetune` with `freeze_encoder = true`, steps {head.steps}, batch {head.batch_size}, "
        f"lr_grid {list(head.lr_grid)} (chosen on valid), starting from the probe's fit (`head_init = \"probe\"`, "
        "LP-FT, the default) or from `nn.Linear`'s random draw (`head_init = \"random\"`); probe: `linear-probe` at its "
        "defaults. Accuracy is test top-1, mean over seeds; gap = head − probe per seed (min … max). The peer test "
        "(tests/eval/test_finetune_peers.py) asserts |gap| ≤ 0.02 for every built-in encoder at its random init "
        "(seed 0) and for one per modality after 15 steps.",
        "",
        "| modality | model | encoder | probe | head from probe | mean gap | gap range "
        "| head from random | mean gap | gap range | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        "## Counts (generated)",
        "",
        *[f"- `head_init = \"{init}\"`: {sum(abs(statistics.mean(g)) <= 0.02 for g in rows)} of {len(rows)} rows "
          f"within 2 points of the probe on the mean over seeds, {sum(max(map(abs, g)) <= 0.02 for g in rows)} of "
          f"{len(rows)} on every seed; largest |gap| of one seed {max(max(map(abs, g)) for g in rows):.4f}."
          for init, rows in gaps_by_init.items()],
        "",
    ]
    args.out.write_text("\n".join(text))


if __name__ == "__main__":
    main()
