"""A third-party plugin written only against sslbench's public API, used by the tests.

It adds a ``vector`` modality (feature vectors; views = Gaussian noise + feature
dropout), a ``blobs`` dataset of Gaussian clusters and an ``mlp`` encoder. The
built-in ``simclr`` task and ``knn``/``linear-probe`` evaluators run on it unchanged,
because compatibility comes from declarations.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sslbench import (
    DatasetSpec, EncoderOutput, LoadedDataset, Modality, ModalitySpec, ModelSpec, TensorSplit, hookimpl,
)


@dataclass(frozen=True)
class VectorViewOptions:
    noise: float = 0.1  # std of the Gaussian noise added to each feature
    drop: float = 0.1  # probability of zeroing a feature


class VectorModality(Modality):
    name = "vector"

    def __init__(self, options: VectorViewOptions = VectorViewOptions()) -> None:
        self.options = options

    def views(self, batch):
        x, o = batch["x"], self.options

        def view():
            keep = (torch.rand_like(x) >= o.drop).float()
            return {"x": (x + o.noise * torch.randn_like(x)) * keep}

        return view(), view()


@dataclass(frozen=True)
class BlobsOptions:
    n: int = 300
    dim: int = 16
    classes: int = 3


def load_blobs(ctx, options: BlobsOptions) -> LoadedDataset:
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(options.classes, options.dim, generator=g) * 3
    y = torch.arange(options.n) % options.classes
    x = centers[y] + torch.randn(options.n, options.dim, generator=g)
    half = options.n // 2
    return LoadedDataset(
        pretrain=TensorSplit({"x": x[:half]}),
        train=TensorSplit({"x": x[:half], "row": torch.arange(half)}, labels={"cluster": y[:half]}),
        test=TensorSplit({"x": x[half:]}, labels={"cluster": y[half:]}),
        info={"dim": options.dim},
    )


class MLP(nn.Module):
    def __init__(self, dim: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, width), nn.ReLU(), nn.Linear(width, width))
        self.embed_dim = width

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.net(batch["x"]))


@hookimpl
def sslbench_register_modalities():
    return [ModalitySpec(name="vector", build=lambda info, opts: VectorModality(opts), options=VectorViewOptions,
                         provides={"views"}, description="feature vectors (B, D)")]


@hookimpl
def sslbench_register_datasets():
    return [DatasetSpec(name="blobs", modality="vector", build=load_blobs, options=BlobsOptions,
                        label_sets={"cluster": "class"}, description="Gaussian clusters")]


@hookimpl
def sslbench_register_models():
    return [ModelSpec(name="mlp", modalities={"vector"}, build=lambda ctx, opts: MLP(ctx.info["dim"]),
                      description="two-layer MLP")]
