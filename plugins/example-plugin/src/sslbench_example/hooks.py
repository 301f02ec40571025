"""The plugin's hook implementations: what ``sslbench list`` shows after ``pip install``.

Registered by ``[project.entry-points.sslbench] example = "sslbench_example.hooks"``.
"""
from __future__ import annotations

from sslbench import DatasetSpec, EvaluatorSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from sslbench_example import byol, centroid, tabular, wine


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [ModalitySpec(
        name="tabular", build=tabular.build_tabular_modality, options=tabular.TabularViewOptions, provides={"views"},
        reference_build=tabular.build_raw_features, reference_name="raw-features",  # rows beside random-init
        reference="Bahri et al., 2022, SCARF: Self-supervised Contrastive Learning using Random Feature Corruption",
        description="rows of standardised features (B, F); views: SCARF feature corruption + Gaussian noise",
    )]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [DatasetSpec(
        name="wine", modality="tabular", build=wine.load_wine, options=wine.WineOptions, example=wine.example_wine,
        label_sets={wine.LABEL_SET: "class"}, license="BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0",
        size="178 wines × 13 measurements (124 train / 54 test)",
        description="scikit-learn's bundled wine recognition data: 3 cultivars, standardised features",
    )]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [ModelSpec(
        name="tabular-mlp", modalities={"tabular"}, build=tabular.build_tabular_mlp, options=tabular.TabularMLPOptions,
        reference="Bahri et al., 2022 (SCARF's encoder: 4 ReLU layers of 256)",
        description="ReLU MLP on the feature vector; D = width",
    )]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [TaskSpec(
        name="byol", build=byol.build_byol, options=byol.BYOLOptions, needs={"views"},
        reference="Grill et al., 2020, Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
        description="online encoder + projector + predictor regress an EMA target's projection of the other view",
    )]


@hookimpl
def sslbench_register_evaluators() -> list[EvaluatorSpec]:
    return [EvaluatorSpec(
        name="nearest-centroid", run=centroid.run_nearest_centroid, options=centroid.CentroidOptions,
        label_kinds={"class"},
        reference="Mensink et al., 2013 (nearest class mean); Wang et al., 2019, SimpleShot (L2-normalised)",
        description="nearest class mean of the train embeddings (cosine or Euclidean); metric top1",
    )]
