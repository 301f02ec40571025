"""sslbench: a plugin-based benchmark suite for self-supervised learning.

The public API a plugin uses::

    from sslbench import hookimpl, TaskSpec, EncoderOutput

Everything importable from this module is public and stable within a minor version.
"""
from __future__ import annotations

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

hookimpl = pluggy.HookimplMarker("sslbench")
"""Marker for plugin hook implementations: ``@hookimpl def sslbench_register_tasks(): ...``."""

__all__ = [
    "Batch", "ConfigError", "DatasetContext", "DatasetSpec", "EncoderOutput", "EvalContext",
    "EvaluatorSpec", "embed_split", "fingerprint", "label_key", "LoadedDataset", "Modality", "ModalitySpec", "ModelContext", "ModelSpec",
    "NoOptions", "PluginError", "TaskContext", "TaskSpec", "TensorSplit", "UnknownComponentError",
    "UsageError", "distributed", "hookimpl",
]
