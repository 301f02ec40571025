"""imagefolder: prepare (decode once into the cache) and iterate, against torchvision's ImageFolder.

Generates ``--images`` JPEGs (default 20,000, 10 classes, quality 90) of ``--side``
px (default 96): smooth random images (12×12 noise upsampled bicubically), so that
they compress like photographs rather than like noise. Then, each in a fresh process
so that peak memory is its own:

* **prepare**: ``load_imagefolder`` on an empty cache: list, decode in ``--workers``
  processes into ``images.npy``, and build the splits;
* **iterate (sslbench)**: a warm ``load_imagefolder``, then ``--epochs`` epochs of
  shuffled batches of ``--batch`` over every stored image through the splits'
  ``batch`` (what the runner does, in its own process: no loader workers), images as
  float32 in [0, 1];
* **iterate (torchvision)**: ``torchvision.datasets.ImageFolder`` with ``Resize`` +
  ``CenterCrop`` + ``PILToTensor`` (the same pixels as ``decode_image``, see
  tests/image/test_imagefolder.py) in a ``DataLoader`` with the same ``--workers``
  worker processes, ``shuffle=True``, batches turned into float32 in [0, 1].

Images/s count images delivered as float batches. Peak resident memory is the
iterating process's ``VmHWM`` after ``/proc/self/clear_refs`` reset it at the start of
iteration (Linux), beside its resident memory before iterating; for torchvision the
workers' memory is not included (they hold a prefetch of batches each). Goals: sslbench
iterates at least 2× torchvision's images/s, with a peak well under the decoded size
(N × 3 × side² bytes).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_imagefolder.py --images 20000 --workers 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def generate(folder: Path, images: int, side: int, classes: int = 10) -> float:
    """Write ``images`` smooth random JPEGs into ``folder/<class>/``; returns the seconds it took."""
    import numpy as np
    from PIL import Image

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    for c in range(classes):
        (folder / f"class{c:02d}").mkdir(parents=True, exist_ok=True)
    for i in range(images):
        small = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
        small.resize((side + 8 * (i % 3), side), Image.Resampling.BICUBIC).save(
            folder / f"class{i % classes:02d}" / f"{i:06d}.jpg", quality=90)
    return time.perf_counter() - start


def memory_kib(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of this process in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def phase(args: argparse.Namespace) -> dict:
    """One measured phase, run in its own process (``--phase``)."""
    import torch

    torch.set_num_threads(1)
    from sslbench_image.imagefolder import load_imagefolder
    from sslbench_image.options import ImageFolderOptions

    from sslbench import DatasetContext

    options = ImageFolderOptions(path=str(args.folder), size=args.side, workers=args.workers, valid_fraction=0.0,
                                 test_fraction=0.05)
    ctx = DatasetContext(data_root=args.cache, progress=False)
    if args.phase == "prepare":
        start = time.perf_counter()
        data = load_imagefolder(ctx, options)
        return {"seconds": time.perf_counter() - start, "images": len(data.pretrain) + len(data.test),
                "peak_rss_mib": memory_kib("VmHWM") / 1024}
    if args.phase == "ours":
        data = load_imagefolder(ctx, options)
        splits = [data.pretrain, data.test]
        before = memory_kib("VmRSS")
        reset_peak()
        start, seen = time.perf_counter(), 0
        for _ in range(args.epochs):
            for split in splits:
                order = torch.randperm(len(split))
                for i in range(0, len(split), args.batch):
                    batch = split.batch(order[i:i + args.batch])
                    seen += len(batch["image"])
    else:
        from torch.utils.data import DataLoader
        from torchvision.datasets import ImageFolder
        from torchvision.transforms import v2

        transform = v2.Compose([v2.Resize(args.side), v2.CenterCrop(args.side), v2.PILToTensor()])
        loader = DataLoader(ImageFolder(str(args.folder), transform=transform), batch_size=args.batch, shuffle=True,
                            num_workers=args.workers, persistent_workers=args.workers > 0)
        before = memory_kib("VmRSS")
        reset_peak()
        start, seen = time.perf_counter(), 0
        for _ in range(args.epochs):
            for images, _labels in loader:
                batch = images.float().div_(255.0)
                seen += len(batch)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images": seen, "images_per_s": seen / seconds, "rss_before_mib": before / 1024,
            "peak_rss_mib": memory_kib("VmHWM") / 1024}


def run_phase(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--folder", str(args.folder), "--cache", str(args.cache),
           "--side", str(args.side), "--workers", str(args.workers), "--batch", str(args.batch),
           "--epochs", str(args.epochs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--phase", choices=["prepare", "ours", "torchvision"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-imagefolder-") as tmp:
        args.folder, args.cache = Path(tmp) / "images", Path(tmp) / "cache"
        made = generate(args.folder, args.images, args.side)
        jpeg_mb = sum(p.stat().st_size for p in args.folder.rglob("*.jpg")) / 1e6
        results = {"prepare": run_phase("prepare", args), "ours": run_phase("ours", args),
                   "torchvision": run_phase("torchvision", args)}
    decoded_mib = args.images * 3 * args.side**2 / 2**20
    speedup = results["ours"]["images_per_s"] / results["torchvision"]["images_per_s"]
    print(f"{args.images:,} JPEGs of {args.side} px ({jpeg_mb:.0f} MB, generated in {made:.0f} s); decoded "
          f"{decoded_mib:.0f} MiB; workers {args.workers}, batch {args.batch}, {args.epochs} epochs; {os.cpu_count()} "
          f"CPUs")
    p = results["prepare"]
    print(f"prepare (decode once, {args.workers} workers): {p['seconds']:.1f} s = {p['images'] / p['seconds']:,.0f} "
          f"images/s, peak RSS {p['peak_rss_mib']:.0f} MiB")
    for name in ("ours", "torchvision"):
        r = results[name]
        print(f"iterate {name:<11}: {r['images_per_s']:,.0f} images/s ({r['images']:,} in {r['seconds']:.1f} s), "
              f"RSS {r['rss_before_mib']:.0f} MiB before, peak {r['peak_rss_mib']:.0f} MiB while iterating")
    print(f"speed-up iterating: {speedup:.1f}x (goal >= 2x); sslbench's peak while iterating minus before: "
          f"{results['ours']['peak_rss_mib'] - results['ours']['rss_before_mib']:.0f} MiB of {decoded_mib:.0f} MiB "
          "decoded")
    print(json.dumps({"args": {k: v for k, v in vars(args).items() if k in ("images", "side", "workers", "batch",
                                                                             "epochs")}, **results}))


if __name__ == "__main__":
    main()
