"""sslbench: a plugin-based benchmark suite for self-supervised learning.

The public API a plugin uses::

    from sslbench import hookimpl, TaskSpec, EncoderOutput

Everything importable from this module is public and stable within a minor version.
"""
from __future__ import annotations

import os as _os
import sys as _sys

try:  # importing torch takes seconds: Ctrl-C then must end `sslbench ...` in one line, not a traceback
    import pluggy

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
    from sslbench.data_api import Batch, LoadedDataset, TensorSplit, fingerprint, label_key
    from sslbench.errors import ConfigError, PluginError, UnknownComponentError, UsageError
    from sslbench.options import NoOptions
    from sslbench.specs import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec
except KeyboardInterrupt:
    if _sys.argv and (_sys.argv[0] == "-m" or _os.path.basename(_sys.argv[0]) == "sslbench"):
        _sys.stderr.write("sslbench: interrupted\n")
        raise SystemExit(130) from None
    raise  # imported by another program: its Ctrl-C is its own

hookimpl = pluggy.HookimplMarker("sslbench")
"""Marker for plugin hook implementations: ``@hookimpl def sslbench_register_tasks(): ...``."""

__all__ = [
    "Batch", "ConfigError", "DatasetContext", "DatasetSpec", "EncoderOutput", "EvalContext",
    "EvaluatorSpec", "embed_split", "fingerprint", "label_key", "LoadedDataset", "Modality", "ModalitySpec", "ModelContext", "ModelSpec",
    "NoOptions", "PluginError", "TaskContext", "TaskSpec", "TensorSplit", "UnknownComponentError",
    "UsageError", "distributed", "hookimpl",
]
