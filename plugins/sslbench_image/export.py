"""``ModelSpec.export`` of the timm-backed image encoders: timm's Hub layout (``model.safetensors`` of
the backbone, ``config.json`` with ``architecture``, ``model_args`` and ``pretrained_cfg``: input size,
mean, std), which ``timm.create_model`` loads and ``weights = DIR`` loads back.

With the original stem the folder loads with timm's own loader (``pretrained=True`` and
``pretrained_cfg_overlay=dict(file=…)``); with sslbench's small-image stem (3×3 stride 1, no
max-pool) timm has no argument that builds it, so the card shows the two lines that swap it in
before ``load_state_dict``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sslbench.weights import CONFIG_FILE, WEIGHTS_FILE


def export_timm(encoder: Any, options: Any, dataset: Any, folder: Path) -> dict[str, Any]:
    """Write the backbone and its timm config; return the card's facts (the exact load call)."""
    import timm
    from safetensors.torch import save_file

    facts = encoder.export_facts
    arch, channels, small = facts["arch"], int(facts["channels"]), bool(facts["small_stem"])
    size = int(facts["input_size"] or dataset.info.get("image_size", 224))
    mean = [round(float(v), 8) for v in encoder.normalize.mean.flatten()]
    std = [round(float(v), 8) for v in encoder.normalize.std.flatten()]
    default = timm.models.get_pretrained_cfg(arch)
    default = default.to_dict() if default is not None else {}
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in encoder.body.state_dict().items()},
              str(folder / WEIGHTS_FILE))
    license_ = str(getattr(encoder, "weights_license", "") or "")
    config = {
        "architecture": arch, "num_classes": 0, "num_features": int(encoder.embed_dim), "global_pool": "",
        "model_args": {"in_chans": channels, "num_classes": 0, "global_pool": ""},
        "pretrained_cfg": {"input_size": [channels, size, size], "mean": mean, "std": std, "num_classes": 0,
                           "first_conv": default.get("first_conv", "conv1"), "classifier": default.get("classifier", "fc"),
                           "interpolation": "bilinear", "crop_pct": 1.0, **({"license": license_} if license_ else {})},
        "sslbench_small_stem": small,
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
    return {"library_name": "timm", "tags": ["timm", "image-feature-extraction"], "weights_license": license_,
            "load": load_code(arch, channels, small, mean, std, size, int(dataset.info.get("channels", channels)))}


def load_code(arch: str, channels: int, small: bool, mean: list[float], std: list[float], size: int,
              data_channels: int) -> str:
    """Python that loads the folder with timm and embeds images as sslbench does (``DIR`` = the folder)."""
    kwargs = f'num_classes=0, global_pool="", in_chans={channels}'
    if small:
        create = (f'model = timm.create_model("{arch}", pretrained=False, {kwargs})\n'
                  f"# sslbench's small-image stem: 3×3 stride-1 conv1, no max-pool\n"
                  f"model.conv1 = torch.nn.Conv2d({channels}, model.conv1.out_channels, 3, 1, 1, bias=False)\n"
                  "model.maxpool = torch.nn.Identity()\n"
                  'model.load_state_dict(load_file("DIR/model.safetensors"))')
    else:
        create = (f'model = timm.create_model("{arch}", pretrained=True, '
                  f'pretrained_cfg_overlay=dict(file="DIR/model.safetensors"), {kwargs})')
    grey = "images = images.expand(-1, 3, -1, -1)  # grey → the weights' 3 channels\n" if data_channels != channels else ""
    return ("import timm, torch\nfrom safetensors.torch import load_file\n\n" + create + "\nmodel.eval()\n"
            f"mean = torch.tensor({mean}).view(1, -1, 1, 1)\nstd = torch.tensor({std}).view(1, -1, 1, 1)\n"
            f"# images: (B, C, H, W) floats as the dataset gives them, resized to {size}×{size}\n" + grey +
            "embedding = model.forward_features((images - mean) / std).mean(dim=(2, 3))  # (B, D): sslbench's pooled")
