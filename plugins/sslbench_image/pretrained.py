"""timm encoders from outside weights, with the preprocessing the weights were trained under.

Sources (the ``weights`` option of ``timm`` and ``resnet18``):

- a local ``.safetensors`` file (or a ``weights_only`` state dict);
- a folder with ``model.safetensors`` and a ``config.json``: timm's Hub layout (``pretrained_cfg``
  with ``input_size``, ``mean``, ``std``) or an ``sslbench export`` folder (the same, written by it);
- ``hf-hub:org/name``: that layout downloaded from the Hugging Face Hub (``huggingface_hub``);
- ``timm:<tag>`` (e.g. ``timm:a1_in1k`` or ``timm:resnet18.a1_in1k``): timm's own pretrained weights
  for the architecture, from the Hub repository timm's pretrained config names.

The stem follows the weights: a 3×3 ``conv1`` is the small-image stem (sslbench's, for < 64 px),
a 7×7 one timm's original. The input follows the weights too (:class:`~sslbench_image.models.TimmEncoder`):
their normalisation (from their config; for a bare file with the original stem, timm's default
pretrained config of the architecture), their input size (images resized to it), and a grey
dataset's one channel repeated when the weights take three. Any other channel mismatch is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sslbench import ModelContext
from sslbench.errors import WeightsError
from sslbench.weights import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    Weights,
    check_fit,
    hub_file,
    mark,
    read_state_dict,
    resolve,
    use,
)
from sslbench_image.models import TimmEncoder, image_facts
from sslbench_image.options import TimmOptions

TIMM_TAG = "timm:"


def build_timm_from_weights(ctx: ModelContext, options: TimmOptions, name: str) -> TimmEncoder:
    """``timm``/``resnet18`` with ``weights`` set: the encoder those weights make, strictly loaded."""
    import timm

    where = f"[models.{name}] weights"
    weights, cfg = resolve_timm(options.weights, options.arch, where)
    state = read_state_dict(weights, where)
    default = _default_cfg(timm, options.arch)
    classifier = str(cfg.get("classifier") or default.get("classifier") or "")
    if classifier:  # the classifier is not part of the encoder (built with num_classes=0): timm drops it too
        state = {k: v for k, v in state.items() if not k.startswith(classifier + ".")}
    first_conv = str(cfg.get("first_conv") or default.get("first_conv") or "conv1") + ".weight"
    if first_conv not in state:
        raise WeightsError(f"{where}: the weights hold no {first_conv} (the first convolution of {options.arch}); "
                           "are they for another architecture?")
    in_chans, kernel = int(state[first_conv].shape[1]), int(state[first_conv].shape[-1])
    small = kernel == 3 and first_conv == "conv1.weight" and kernel != _default_kernel(timm, options.arch)
    if (options.small_stem == "on" and not small) or (options.small_stem == "off" and small):
        raise WeightsError(f"{where}: small_stem = {options.small_stem!r} but the weights' {first_conv} is "
                           f"{kernel}×{kernel}; leave small_stem = \"auto\" to follow the weights")
    channels, data_mean, data_std = image_facts(ctx.info)
    if channels != in_chans and not (channels == 1 and in_chans == 3):
        raise WeightsError(f"{where}: the weights take {in_chans}-channel images, dataset {ctx.dataset!r} has "
                           f"{channels}; only 1 → 3 (grey repeated) is adapted")
    if small and not cfg:  # sslbench's own small-stem weights, without a config: the dataset's statistics
        mean, std, size = (data_mean, data_std, 0) if in_chans == channels else ((0.5,) * 3, (0.25,) * 3, 0)
    else:
        source = cfg or default
        mean, std = source.get("mean", (0.5,) * in_chans), source.get("std", (0.25,) * in_chans)
        size = int((source.get("input_size") or (0, 0, 0))[-1])
    if len(mean) != in_chans or len(std) != in_chans:
        raise WeightsError(f"{where}: the weights' config has {len(mean)} means for {in_chans} input channels")
    size = 0 if size == int(ctx.info.get("image_size", 0)) else size
    encoder = TimmEncoder(options.arch, in_chans, mean, std, small, input_size=size)
    own = encoder.body.state_dict()
    check_fit(own, state, where)
    encoder.body.load_state_dict(state, strict=True)
    encoder.weights_license = str(cfg.get("license", ""))
    return mark(encoder, weights)


def resolve_timm(source: str, arch: str, where: str) -> tuple[Weights, dict[str, Any]]:
    """The weights file and the pretrained config (input size, mean, std, classifier; {} if none)."""
    if source.startswith(TIMM_TAG):
        tag = source[len(TIMM_TAG):]
        full = tag if "." in tag else f"{arch}.{tag}"
        import timm

        cfg = timm.models.get_pretrained_cfg(full)
        if cfg is None or not getattr(cfg, "hf_hub_id", None):
            raise WeightsError(f"{where}: timm knows no Hub weights {full!r}; see timm.list_pretrained({arch!r})")
        try:
            file = hub_file(cfg.hf_hub_id, WEIGHTS_FILE, where)
        except WeightsError:  # older timm repositories hold only the torch.save file (read with weights_only)
            file = hub_file(cfg.hf_hub_id, "pytorch_model.bin", where)
        return use(source, file, None), cfg.to_dict()
    weights = resolve(source, where)
    folder = weights.folder
    if folder is None and source.startswith("hf-hub:"):  # the repository's config.json beside its weights
        folder = Path(hub_file(source[len("hf-hub:"):], CONFIG_FILE, where)).parent
        weights = Weights(weights.source, weights.file, weights.sha256, folder)
    config = weights.folder_config()
    if config and config.get("architecture", arch) != arch:
        raise WeightsError(f"{where}: the weights are for {config['architecture']!r}, the model is {arch!r}; "
                           f"use model timm with arch = {config['architecture']!r}")
    return weights, dict(config.get("pretrained_cfg") or {})


def _default_cfg(timm: Any, arch: str) -> dict[str, Any]:
    cfg = timm.models.get_pretrained_cfg(arch)
    return cfg.to_dict() if cfg is not None else {}


def _default_kernel(timm: Any, arch: str) -> int:
    """The kernel of the architecture's own first convolution (7 for ResNets)."""
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    conv = getattr(model, "conv1", None)
    return int(conv.kernel_size[0]) if conv is not None and hasattr(conv, "kernel_size") else 0
