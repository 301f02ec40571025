"""sslbench: a plugin-based benchmark suite for self-supervised learning.

The public API a plugin uses::

    from sslbench import hookimpl, TaskSpec, EncoderOutput

Everything importable from this module is public and stable within a minor version.
"""
from __future__ import annotations

import importlib
import os as _os
import sys as _sys
from typing import TYPE_CHECKING, Any

try:  # Ctrl-C during start-up must end `sslbench ...` in one line, not a traceback
    import pluggy

    from sslbench.errors import (
        ConfigError,
        PluginError,
        UnknownComponentError,
        UsageError,
        WeightsError,
    )
    from sslbench.logs import warn_once
    from sslbench.options import NoOptions
    from sslbench.specs import (
        DatasetSpec,
        EvaluatorSpec,
        ModalitySpec,
        ModelSpec,
        TaskSpec,
    )
except KeyboardInterrupt:
    if _sys.argv and (_sys.argv[0] == "-m" or _os.path.basename(_sys.argv[0]) == "sslbench"):
        _sys.stderr.write("sslbench: interrupted\n")
        raise SystemExit(130) from None
    raise  # imported by another program: its Ctrl-C is its own

if TYPE_CHECKING:
    from sslbench import distributed
    from sslbench.contexts import (
        DatasetContext,
        EncoderOutput,
        EvalContext,
        Modality,
        ModelContext,
        TaskContext,
        embed_split,
    )
    from sslbench.data_api import (
        Batch,
        LoadedDataset,
        TensorSplit,
        fingerprint,
        label_key,
    )

# Names whose modules import torch, imported on first access (PEP 562) so that `import sslbench`,
# `sslbench --help` and `sslbench list` start without torch.
_LAZY = {
    **dict.fromkeys(("DatasetContext", "EncoderOutput", "EvalContext", "Modality", "ModelContext", "TaskContext",
                     "autocast_for", "embed_split"), "sslbench.contexts"),
    **dict.fromkeys(("Batch", "LoadedDataset", "TensorSplit", "fingerprint", "label_key", "move_batch"),
                    "sslbench.data_api"),
    "count_step_flops": "sslbench.flops",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in ("distributed", "weights"):  # submodules of the contract, imported when first used
        return importlib.import_module(f"sslbench.{name}")
    raise AttributeError(f"module 'sslbench' has no attribute {name!r}")


hookimpl = pluggy.HookimplMarker("sslbench")
"""Marker for plugin hook implementations: ``@hookimpl def sslbench_register_tasks(): ...``."""

__all__ = [
    "Batch", "ConfigError", "DatasetContext", "DatasetSpec", "EncoderOutput", "EvalContext", "EvaluatorSpec",
    "LoadedDataset", "Modality", "ModalitySpec", "ModelContext", "ModelSpec", "NoOptions", "PluginError",
    "TaskContext", "TaskSpec", "TensorSplit", "UnknownComponentError", "UsageError", "WeightsError",
    "autocast_for", "count_step_flops", "distributed", "embed_split", "fingerprint", "hookimpl", "label_key",
    "move_batch", "warn_once", "weights",
]
