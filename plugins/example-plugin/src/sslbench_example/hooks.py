"""The plugin's hook implementations: what ``sslbench list`` shows after ``pip install``.

Registered by ``[project.entry-points.sslbench] example = "sslbench_example.hooks"``.

Builders are named by ``"module:function"`` strings, imported only when a cell uses them,
and the option dataclasses live in the torch-free :mod:`sslbench_example.options`: so
``sslbench list`` and ``sslbench --help`` never import torch for this plugin.
"""
from __future__ import annotations

from sslbench import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from sslbench_example import options


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [ModalitySpec(
        name="tabular", build="sslbench_example.tabular:build_tabular_modality", options=options.TabularViewOptions, provides={"views"},
        reference_build="sslbench_example.tabular:build_raw_features", reference_name="raw-features",
        reference="Bahri et al., 2022, SCARF: Self-supervised Contrastive Learning using Random Feature Corruption",
        description="rows of standardised features (B, F); views: SCARF feature corruption + Gaussian noise",
    )]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [DatasetSpec(
        name="wine", modality="tabular", build="sslbench_example.wine:load_wine", options=options.WineOptions, example="sslbench_example.wine:example_wine",
        label_sets={options.LABEL_SET: "class"}, license="BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0",
        size="178 wines × 13 measurements (124 train / 54 test)",
        description="scikit-learn's bundled wine recognition data: 3 cultivars, standardised features",
    )]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [ModelSpec(
        name="tabular-mlp", modalities={"tabular"}, build="sslbench_example.tabular:build_tabular_mlp", options=options.TabularMLPOptions,
        reference="Bahri et al., 2022 (SCARF's encoder: 4 ReLU layers of 256)",
        description="ReLU MLP on the feature vector; D = width",
    )]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [TaskSpec(
        name="byol", build="sslbench_example.byol:build_byol", options=options.BYOLOptions, needs={"views"},
        reference="Grill et al., 2020, Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
        description="online encoder + projector + predictor regress an EMA target's projection of the other view",
    )]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [EvaluatorSpec(
        name="nearest-centroid", run="sslbench_example.centroid:run_nearest_centroid", options=options.CentroidOptions,
        label_kinds={"class"},
        reference="Mensink et al., 2013 (nearest class mean); Wang et al., 2019, SimpleShot (L2-normalised)",
        description="nearest class mean of the train embeddings (cosine or Euclidean); metric top1",
    )]
