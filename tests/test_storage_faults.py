"""A full disk stops a run cleanly and --resume finishes it; damaged or misfit checkpoints restart their cell."""
from __future__ import annotations

import errno
import json
import os

import fake_plugin
import pytest
import torch
from test_reliability import values, write_config

from sslbench import safeio
from sslbench.cli import main
from sslbench.plan.config import load_config
from sslbench.run.checkpoint import CellCheckpoint
from sslbench.run.runner import run_grid


@pytest.fixture
def reference(tmp_path, make_registry):
    registry = make_registry(fake_plugin)
    path = write_config(tmp_path, steps=20, every=5)
    run_grid(load_config(path, registry), registry, tmp_path / "reference")
    return registry, path, tmp_path / "reference"


def full_disk_on(target):
    """A ``raw_write`` that fails with ENOSPC for files whose path contains ``target`` (after the first cell)."""
    seen = []

    def write(fd, data):
        path = os.readlink(f"/proc/self/fd/{fd}")
        seen.append(path)
        if target in path and "seed1" in "".join(seen) and "reference" not in path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    return write


@pytest.mark.parametrize("target", ["checkpoints", "pending", "rows.jsonl", "curves.jsonl"])
def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(tmp_path, reference, monkeypatch, capsys, target):
    _, config, ref = reference
    out = tmp_path / "out"
    monkeypatch.setattr(safeio, "raw_write", full_disk_on(target))
    code = main(["-p", "fake_plugin", "run", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [e for e in err.splitlines() if e.startswith("sslbench: error:")]
    assert "No space left on device writing" in line and "the write needed" in line and "--resume" in line
    assert not [p for p in out.rglob("*.tmp")], "temporary files must not hold the space"
    before = values(out)
    assert before and before != values(ref)

    monkeypatch.setattr(safeio, "raw_write", os.write)  # room made
    assert main(["-p", "fake_plugin", "run", str(config), "--out", str(out), "--resume"]) == 0
    assert values(out) == values(ref)
    curves = [json.loads(line) for line in (out / "curves.jsonl").read_text().splitlines()]
    assert len(curves) == len((ref / "curves.jsonl").read_text().splitlines())


def drop_cell_rows(out, seed=1, task="simclr"):
    lines = [line for line in (out / "rows.jsonl").read_text().splitlines()
             if not (json.loads(line)["seed"] == seed and json.loads(line)["task"] == task)]
    (out / "rows.jsonl").write_text("\n".join(lines) + "\n")


def flip_a_weight_bit(ckpt):
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0x01  # somewhere in the tensors' storage: still loads without the hash
    ckpt.write_bytes(bytes(data))


def resave(ckpt, change):
    saved = CellCheckpoint(ckpt, every=0).load()
    change(saved)
    saved.pop("format")
    CellCheckpoint(ckpt, every=0).save(saved)


def wrong_shape(saved):
    name = next(k for k, v in saved["task"].items() if v.ndim == 2)
    saved["task"][name] = torch.zeros(saved["task"][name].shape[0] + 1, saved["task"][name].shape[1])


def missing_key(saved):
    saved["task"].pop(next(iter(saved["task"])))


def bad_rng(saved):
    saved["rng_ranks"][0]["torch"] = torch.zeros(3, dtype=torch.uint8)


@pytest.mark.parametrize("damage", ["bit-rot", "wrong-shape", "missing-key", "bad-rng", "old-format"])
def test_a_damaged_or_misfit_checkpoint_is_moved_aside_and_the_cell_restarts(tmp_path, reference, caplog, damage):
    registry, path, ref = reference
    config = load_config(path, registry)
    out = tmp_path / "b"
    run_grid(config, registry, out)
    ckpt = out / "checkpoints" / "blobs--simclr--mlp--seed1.pt"
    if damage == "bit-rot":
        flip_a_weight_bit(ckpt)
    elif damage == "old-format":
        ckpt.write_bytes(ckpt.read_bytes().partition(b"\n")[2])  # torch bytes without the hashed header
    else:
        resave(ckpt, {"wrong-shape": wrong_shape, "missing-key": missing_key, "bad-rng": bad_rng}[damage])
    drop_cell_rows(out)
    summary = run_grid(config, registry, out, resume=True)
    assert summary.exit_code == 0
    assert "restarting the cell from scratch" in caplog.text
    assert list((out / "checkpoints").glob("*.corrupt-*"))
    assert values(out) == values(ref)


def test_the_checkpoint_hash_catches_rot_that_torch_load_would_accept(tmp_path):
    ckpt = CellCheckpoint(tmp_path / "c.pt", every=0)
    ckpt.save({"w": torch.arange(1000, dtype=torch.float32)})
    data = bytearray(ckpt.path.read_bytes())
    header, _, body = bytes(data).partition(b"\n")
    body = bytearray(body)
    body[len(body) // 2] ^= 0x40
    import io

    assert torch.load(io.BytesIO(bytes(body)), weights_only=True)["w"].shape == (1000,)  # torch alone accepts it
    ckpt.path.write_bytes(header + b"\n" + bytes(body))
    assert ckpt.load() is None
    assert list(tmp_path.glob("c.pt.corrupt-*")) and not ckpt.path.exists()
