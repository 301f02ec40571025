"""Peak arithmetic rates of accelerators, for model FLOPs utilisation (MFU)."""
from __future__ import annotations

import torch

# Dense bf16 tensor-core peaks from the vendors' data sheets, in FLOP/s (no sparsity).
BF16_PEAK_FLOPS = {
    "H200": 989e12,
    "H100": 989e12,  # SXM; the PCIe card is lower (756e12) and is matched first below
    "H100 PCIe": 756e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10": 125e12,
}


def bf16_peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, or None when unknown (CPU, or a GPU not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key in sorted(BF16_PEAK_FLOPS, key=len, reverse=True):  # "H100 PCIe" before "H100"
        if key in name:
            return BF16_PEAK_FLOPS[key]
    return None


def mfu(flops: float | None, seconds: float, device: torch.device) -> float | None:
    """Achieved training FLOP/s over the device's bf16 peak (None off CUDA or when unknown)."""
    peak = bf16_peak_flops(device)
    if peak is None or not flops or seconds <= 0:
        return None
    return flops / seconds / peak
