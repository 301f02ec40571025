"""Outside weights for encoders: a model's ``weights`` option resolved to a local file, read
without pickle, and fitted strictly, every mismatch one line.

A source is a local ``.safetensors`` file (or a ``.pt``/``.pth``/``.bin`` state dict, read with
``torch.load(weights_only=True)``), a folder holding ``model.safetensors`` (a ``save_pretrained``
folder, an ``sslbench export`` folder), or ``hf-hub:org/name`` (its ``model.safetensors``,
downloaded through ``huggingface_hub``). Plugins call :func:`load_into` from their builders;
library-specific sources (a timm pretrained tag, a transformers hub id) stay in the plugins
and hand the file they resolved to :func:`use`. The file's SHA-256 lands on the encoder as
``weights_sha256`` (and ``weights_provenance``), which the runner records in each row's settings,
identity and provenance. Modality-free: no plugin's layout is known here.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslbench.errors import WeightsError

WEIGHTS_FILE = "model.safetensors"
"""The file a weights folder (and an ``sslbench export`` folder) holds its tensors in."""
CONFIG_FILE = "config.json"
HUB_PREFIX = "hf-hub:"
PICKLE_FREE = (".pt", ".pth", ".bin")  # torch.save files, read with weights_only=True


@dataclass(frozen=True)
class Weights:
    """A resolved source: the local file read, its SHA-256, and the folder it came in (if any)."""

    source: str
    file: Path
    sha256: str
    folder: Path | None = None

    def provenance(self) -> dict[str, Any]:
        """What a row's provenance records about the weights."""
        return {"source": self.source, "file": self.file.name, "sha256": self.sha256}

    def folder_config(self) -> dict[str, Any]:
        """The folder's ``config.json`` ({} when there is none)."""
        path = None if self.folder is None else self.folder / CONFIG_FILE
        if path is None or not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise WeightsError(f"{path.name} beside the weights {self.source!r} is no JSON: {err}") from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(source: str, where: str) -> Weights:
    """``source`` → the local weights file (downloaded for ``hf-hub:``).

    Raises:
        WeightsError: one line naming ``where`` (e.g. ``[models.resnet18] weights``) and what is allowed.
    """
    if source.startswith(HUB_PREFIX):
        return use(source, hub_file(source[len(HUB_PREFIX):], WEIGHTS_FILE, where), None)
    path = Path(source).expanduser()
    if path.is_dir():
        file = path / WEIGHTS_FILE
        if not file.is_file():
            raise WeightsError(f"{where}: folder {source!r} holds no {WEIGHTS_FILE}; give a folder written by "
                               "save_pretrained or sslbench export, or the weights file itself")
        return use(source, file, path)
    if path.is_file():
        return use(source, path, None)
    raise WeightsError(f"{where}: {source!r} is no file or folder here; give a .safetensors file, a folder with "
                       f"{WEIGHTS_FILE}, or {HUB_PREFIX}org/name")


def use(source: str, file: Path, folder: Path | None) -> Weights:
    """A :class:`Weights` for a file already on disk (e.g. one a library downloaded)."""
    return Weights(source, Path(file), sha256_file(Path(file)), folder)


def hub_file(repo: str, filename: str, where: str) -> Path:
    """Download ``filename`` of Hugging Face Hub repository ``repo`` (cached by ``huggingface_hub``)."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo, filename))
    except Exception as err:  # offline, unknown repository, missing file: the library says which
        raise WeightsError(f"{where}: cannot fetch {filename} of hub repository {repo!r}: "
                           f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None


def read_state_dict(weights: Weights, where: str) -> dict[str, Any]:
    """The tensors of a weights file: safetensors, or a ``torch.save`` state dict read with
    ``weights_only=True`` (never pickle's code); a ``{"state_dict": …}`` wrapper is unwrapped."""
    import torch

    name = weights.file.name
    try:
        if name.endswith(".safetensors"):
            from safetensors.torch import load_file

            return dict(load_file(str(weights.file), device="cpu"))
        if name.endswith(PICKLE_FREE):
            state = torch.load(weights.file, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, Mapping) else state
            if isinstance(state, Mapping) and all(isinstance(v, torch.Tensor) for v in state.values()):
                return dict(state)
            raise ValueError("it holds no state dict (name → tensor)")
    except Exception as err:
        raise WeightsError(f"{where}: cannot read {weights.source!r}: {type(err).__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else ''}") from None
    raise WeightsError(f"{where}: {weights.source!r} is neither .safetensors nor a state dict ({', '.join(PICKLE_FREE)})")


def first(keys: Iterable[str], n: int = 3) -> str:
    """The first ``n`` keys, and how many more."""
    keys = list(keys)
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def check_fit(own: Mapping[str, Any], state: Mapping[str, Any], where: str) -> None:
    """Every tensor the module has, with its shape, and nothing else; else one line naming the first keys."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} is {tuple(state[k].shape)}, the model's {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = [f"missing {len(missing)} keys ({first(missing)})" if missing else "",
                f"{len(unexpected)} unexpected keys ({first(unexpected)})" if unexpected else "",
                f"wrong shapes ({first(shapes, 2)})" if shapes else ""]
    problems = [p for p in problems if p]
    if problems:
        raise WeightsError(f"{where}: the weights do not fit this model: {'; '.join(problems)}")


def load_into(module: Any, source: str, where: str, *, prefix: str = "") -> Any:
    """Resolve ``source``, fit its tensors strictly into ``module`` (under ``prefix``, e.g. ``body.``, if
    every key lacks it) and record the file's SHA-256 on ``module``; returns ``module``. "" loads nothing."""
    if not source:
        return module
    weights = resolve(source, where)
    state = read_state_dict(weights, where)
    own = module.state_dict()
    if prefix and not any(k in own for k in state):
        state = {prefix + k: v for k, v in state.items()}
    check_fit(own, state, where)
    module.load_state_dict(state, strict=True)
    return mark(module, weights)


def mark(module: Any, weights: Weights) -> Any:
    """Record on an encoder which weights it was built from (read by the runner into each row)."""
    module.weights_sha256 = weights.sha256
    module.weights_provenance = weights.provenance()
    return module
