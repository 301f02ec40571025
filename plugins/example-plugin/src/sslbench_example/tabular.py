"""The ``tabular`` modality: rows of standardised numeric features, and an MLP encoder for them.

A batch is ``{"x": (B, F) float}``. Views follow SCARF (Bahri et al., 2022, Self-supervised
Contrastive Learning using Random Feature Corruption): view a is the row itself, view b
replaces a random ``corruption`` share of its features by the same feature of another,
random row — a draw from the feature's empirical marginal, here the batch's (SCARF draws
from the training set's). A little Gaussian noise on both views is this plugin's addition.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sslbench import Batch, EncoderOutput, Modality, ModelContext
from sslbench_example.options import TabularViewOptions, TabularMLPOptions  # noqa: F401  # torch-free: re-exported


def scarf_corrupt(x: Tensor, rate: float) -> Tensor:
    """Replace each entry with probability ``rate`` by the same column of a random row (global torch RNG).

    Shape:
        x (B, F) → (B, F)
    """
    replace = torch.rand(x.shape, device=x.device) < rate
    donor = torch.randint(0, x.shape[0], x.shape, device=x.device)  # (B, F) row to copy each entry from
    return torch.where(replace, x.gather(0, donor), x)


class TabularModality(Modality):
    """Rows ``{"x": (B, F)}``; provides ``views`` (SCARF corruption + noise)."""

    name = "tabular"

    def __init__(self, options: TabularViewOptions) -> None:
        self.options = options

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """(row + noise, corrupted row + noise). Shape: x (B, F) → two (B, F)."""
        x, noise = batch["x"], self.options.noise
        view_a = x + noise * torch.randn_like(x)
        view_b = scarf_corrupt(x, self.options.corruption) + noise * torch.randn_like(x)
        return {**batch, "x": view_a}, {**batch, "x": view_b}


def build_tabular_modality(info: Mapping[str, Any], options: TabularViewOptions) -> TabularModality:
    """The ``ModalitySpec.build`` factory."""
    return TabularModality(options)


class TabularMLP(nn.Module):
    """``depth`` Linear+ReLU layers of ``width``; pooled = the last layer's output, no sequence.

    Shape:
        batch["x"] (B, F) → pooled (B, width)
    """

    def __init__(self, num_features: int, options: TabularMLPOptions) -> None:
        super().__init__()
        dims = [num_features] + [options.width] * options.depth
        self.net = nn.Sequential(*(m for a, b in zip(dims, dims[1:]) for m in (nn.Linear(a, b), nn.ReLU())))
        self.embed_dim = options.width

    def forward(self, batch: Batch) -> EncoderOutput:
        return EncoderOutput(sequence=None, pooled=self.net(batch["x"]))


def build_tabular_mlp(ctx: ModelContext, options: TabularMLPOptions) -> TabularMLP:
    """The ``ModelSpec.build`` factory: input width from the dataset's ``info["num_features"]``."""
    return TabularMLP(int(ctx.info["num_features"]), options)


class RawFeatures(nn.Module):
    """The ``raw-features`` reference: the standardised feature row itself, no encoder.

    Shape:
        batch["x"] (B, F) → pooled (B, F)
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.embed_dim = num_features

    def forward(self, batch: Batch) -> EncoderOutput:
        return EncoderOutput(sequence=None, pooled=batch["x"].float())


def build_raw_features(dataset: Any, options: TabularViewOptions) -> RawFeatures:
    """``ModalitySpec.reference_build``: nothing to fit; F from the dataset's ``info["num_features"]``."""
    return RawFeatures(int(dataset.info["num_features"]))
