"""Many processes, one cell: gathered contrastive gradients, trajectory parity, shards.

Runs on the CPU with gloo, 2 processes, as CI can.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sslbench_image.simclr import nt_xent_loss

from sslbench import distributed
from sslbench.results import read_rows

TESTS = Path(__file__).resolve().parent


def _grad_worker(rank: int, world: int, init_file: str, z_a: torch.Tensor, z_b: torch.Tensor, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    b = len(z_a) // world
    local_a = z_a[rank * b : (rank + 1) * b].clone().requires_grad_()
    local_b = z_b[rank * b : (rank + 1) * b].clone().requires_grad_()
    loss = nt_xent_loss(local_a, local_b, temperature=0.3)
    loss.backward()
    # DDP averages parameter gradients over ranks; apply the same 1/W to these leaves
    torch.save({"loss": loss.detach(), "a": local_a.grad / world, "b": local_b.grad / world}, f"{out}.{rank}")
    distributed.shutdown()


def test_gathered_nt_xent_gradients_equal_the_single_process_ones(tmp_path):
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    out = str(tmp_path / "grads")
    mp.start_processes(_grad_worker, args=(2, str(tmp_path / "init"), z_a, z_b, out), nprocs=2, start_method="spawn")
    ref_a, ref_b = z_a.clone().requires_grad_(), z_b.clone().requires_grad_()
    reference = nt_xent_loss(ref_a, ref_b, temperature=0.3)
    reference.backward()
    parts = [torch.load(f"{out}.{r}") for r in range(2)]
    assert torch.allclose(torch.cat([p["a"] for p in parts]), ref_a.grad, atol=1e-6)
    assert torch.allclose(torch.cat([p["b"] for p in parts]), ref_b.grad, atol=1e-6)
    assert torch.allclose(torch.stack([p["loss"] for p in parts]).mean(), reference, atol=1e-6)


def _mlm_worker(rank: int, world: int, init_file: str, sequence: torch.Tensor, labels: torch.Tensor, out: str) -> None:
    from sslbench_text.tasks import mlm_terms

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    head = torch.nn.Linear(sequence.shape[-1], 7)
    b = len(sequence) // world
    loss, _ = mlm_terms(head, sequence[rank * b : (rank + 1) * b], labels[rank * b : (rank + 1) * b])
    loss.backward()
    torch.save({"loss": loss.detach(), "grad": head.weight.grad / world}, f"{out}.{rank}")  # DDP's 1/W
    distributed.shutdown()


def test_mlm_loss_over_two_ranks_with_unequal_masks_is_the_global_mean(tmp_path):
    g = torch.Generator().manual_seed(0)
    sequence = torch.randn(4, 6, 5, generator=g)
    labels = torch.full((4, 6), -100)
    labels[0, :5] = torch.arange(5)  # rank 0: 6 masked tokens, rank 1: 2
    labels[1, 0] = 3
    labels[2, 1], labels[3, 4] = 2, 6
    out = str(tmp_path / "mlm")
    mp.start_processes(_mlm_worker, args=(2, str(tmp_path / "init"), sequence, labels, out), nprocs=2, start_method="spawn")
    torch.manual_seed(0)
    head = torch.nn.Linear(5, 7)
    selected = labels != -100
    reference = torch.nn.functional.cross_entropy(head(sequence[selected]), labels[selected])
    reference.backward()
    parts = [torch.load(f"{out}.{r}") for r in range(2)]
    assert torch.stack([p["loss"] for p in parts]).mean() == pytest.approx(reference.item(), abs=1e-6)
    assert torch.allclose(parts[0]["grad"] + parts[1]["grad"], head.weight.grad, atol=1e-6)


def _bn_worker(rank: int, world: int, init_file: str, x: torch.Tensor, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    bn = distributed.sync_batchnorm(torch.nn.BatchNorm1d(3))
    b = len(x) // world
    local = x[rank * b : (rank + 1) * b].clone().requires_grad_()
    y = bn(local)
    (y * torch.arange(1.0, 4.0)).sum().backward()
    torch.save({"y": y.detach(), "grad": local.grad, "rm": bn.running_mean, "rv": bn.running_var}, f"{out}.{rank}")
    distributed.shutdown()


def test_global_batchnorm_matches_batchnorm_over_the_global_batch(tmp_path):
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1)) * 3 + 1
    out = str(tmp_path / "bn")
    mp.start_processes(_bn_worker, args=(2, str(tmp_path / "init"), x, out), nprocs=2, start_method="spawn")
    bn = torch.nn.BatchNorm1d(3)
    ref = x.clone().requires_grad_()
    y = bn(ref)
    (y * torch.arange(1.0, 4.0)).sum().backward()
    parts = [torch.load(f"{out}.{r}") for r in range(2)]
    assert torch.allclose(torch.cat([p["y"] for p in parts]), y.detach(), atol=1e-5)
    assert torch.allclose(torch.cat([p["grad"] for p in parts]), ref.grad, atol=1e-5)
    assert torch.allclose(parts[0]["rm"], bn.running_mean, atol=1e-6) and torch.allclose(parts[1]["rv"], bn.running_var, atol=1e-5)


CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 30
batch_size = 32
lr = 0.003
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["mlp"]
evaluators = ["knn"]
[modalities.vector]     # deterministic views: parity needs draws that do not depend on the split
noise = 0.0
drop = 0.0
[tasks.simclr]
hidden_dim = 32
projection_dim = 16
"""


def run_cli(args, nproc=1):
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sslbench", "-p", "fake_plugin", *args]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def curve(out: Path) -> list[float]:
    lines = [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]
    return [loss for _, loss in lines[0]["losses"]]


@pytest.mark.slow
def test_two_processes_follow_the_one_process_loss_trajectory(tmp_path):
    config = tmp_path / "cfg.toml"
    config.write_text(textwrap.dedent(CONFIG))
    run_cli(["run", str(config), "--out", str(tmp_path / "one")])
    two = run_cli(["run", str(config), "--out", str(tmp_path / "two")], nproc=2)
    assert "## blobs / knn" in two.stdout  # rank 0 reports
    one_curve, two_curve = curve(tmp_path / "one"), curve(tmp_path / "two")
    assert len(one_curve) == len(two_curve) > 2
    assert one_curve == pytest.approx(two_curve, rel=1e-4, abs=1e-5)
    rows = read_rows(tmp_path / "two")
    assert len(rows) == 2  # evaluated once (random-init + simclr, one evaluator), by rank 0 alone


def test_shards_partition_the_cells_stably(tmp_path, make_registry):
    import fake_plugin

    from sslbench.plan.config import load_config
    from sslbench.plan.grid import plan_grid
    from sslbench.run.runner import in_shard, shard_pairs

    config = tmp_path / "cfg.toml"
    config.write_text(textwrap.dedent(CONFIG).replace("seeds = [0]", "seeds = [0, 1, 2, 3, 4, 5]"))
    registry = make_registry(fake_plugin)
    plan = plan_grid(load_config(config, registry), registry)
    seeds = tuple(range(6))
    pairs = [(c, s) for c in plan.cells for s in seeds]
    shards = [[(c.key, s) for c, s in pairs if in_shard(c, s, (k, 3), plan, seeds)] for k in range(3)]
    assert sorted(sum(shards, [])) == sorted((c.key, s) for c, s in pairs)  # a partition
    assert [len(s) for s in shards] == [4, 4, 4]  # balanced: 12 pairs over 3 shards
    reversed_plan = dataclasses.replace(plan, cells=list(reversed(plan.cells)))
    assert shard_pairs(reversed_plan, seeds[::-1], (1, 3)) == shard_pairs(plan, seeds, (1, 3))


def test_global_mean_without_distribution_is_a_plain_mean():
    assert distributed.global_mean(torch.tensor(6.0), 3).item() == 2.0


AUDIO_CONFIG = """
[run]
seeds = [0]
device = "cpu"
steps = 12
batch_size = 8
lr = 0.003
[grid]
datasets = ["audiofolder"]
tasks = ["masked-frames"]
models = ["audio-transformer-tiny"]
evaluators = ["knn"]
[datasets.audiofolder]
path = "{path}"
[models.audio-transformer-tiny]   # parity needs no random draws that depend on the split:
dropout = 0.0
[tasks.masked-frames]             # every frame masked, so the mask is deterministic
mask_prob = 1.0
"""


@pytest.mark.slow
def test_masked_frames_on_two_processes_follows_one_process(tmp_path):
    """Clips of different lengths give ranks different numbers of masked frames: the loss
    must be the mean over the global batch's frames (distributed.global_mean), not a mean
    of per-rank means."""
    import numpy as np
    import soundfile as sf

    root = tmp_path / "clips"
    for label, freq in (("low", 300.0), ("high", 2500.0)):
        (root / label).mkdir(parents=True)
        for i in range(10):
            t = np.arange(int(8000 * (0.1 + 0.04 * i))) / 8000
            sf.write(root / label / f"{i}.wav", (0.5 * np.sin(2 * np.pi * freq * (1 + 0.03 * i) * t)).astype(np.float32), 8000)
    config = tmp_path / "audio.toml"
    config.write_text(textwrap.dedent(AUDIO_CONFIG.format(path=root)))
    run_cli(["run", str(config), "--out", str(tmp_path / "one")])
    run_cli(["run", str(config), "--out", str(tmp_path / "two")], nproc=2)
    one_curve, two_curve = curve(tmp_path / "one"), curve(tmp_path / "two")
    assert len(one_curve) == len(two_curve) > 1
    assert one_curve == pytest.approx(two_curve, rel=1e-4, abs=1e-5)
