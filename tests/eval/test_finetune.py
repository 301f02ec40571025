"""The finetune evaluator: a trained copy (the frozen encoder untouched), lr chosen on valid, test read
last, costs recorded, and with a frozen encoder the same answer as the linear probe (the peer check)."""
import math

import torch
from torch import nn

from sslbench.contexts import EncoderOutput, EvalContext
from sslbench.data_api import LoadedDataset, TensorSplit
from sslbench_eval.finetune import FinetuneOptions, run_finetune
from sslbench_eval.linear_probe import LinearProbeOptions, run_linear_probe


class Linear(nn.Module):
    """A tiny encoder: pooled = a linear map of x (B, F) → (B, D)."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.embed_dim = dim
        self.proj = nn.Linear(features, dim)

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.proj(batch["x"]))


def blobs(n: int, seed: int, classes: int = 4, features: int = 8) -> TensorSplit:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(99)) * 1.5
    y = torch.arange(n) % classes
    x = centres[y] + torch.randn(n, features, generator=g)
    return TensorSplit({"x": x}, labels={"y": y})


def context(encoder: nn.Module, valid: bool = True) -> EvalContext:
    data = LoadedDataset(pretrain=blobs(64, 0), train=blobs(400, 1), test=blobs(400, 2),
                         valid=blobs(200, 3) if valid else None)
    return EvalContext(encoder=encoder, task=None, dataset=data, modality=None, label_set="y",
                       device=torch.device("cpu"), seed=0)


def test_it_trains_a_copy_and_leaves_the_frozen_encoder_alone():
    torch.manual_seed(0)
    encoder = Linear(8, 16).requires_grad_(False).eval()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    ctx = context(encoder)
    metrics = run_finetune(ctx, FinetuneOptions(steps=60, lr_grid=(1e-2, 1e-4)))
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert metrics["top1"] > 0.8  # the blobs are separable
    assert ctx.choices == {"lr": 1e-2}  # 60 steps at 1e-4 barely move: valid picks 1e-2
    assert ctx.costs["steps"] == 120 and ctx.costs["flops"] > 0


def test_test_labels_are_read_once_and_last():
    ctx = context(Linear(8, 16).requires_grad_(False))
    reads = []
    original = ctx.labels
    ctx.labels = lambda split: reads.append(split) or original(split)  # type: ignore[method-assign]
    run_finetune(ctx, FinetuneOptions(steps=10, lr_grid=(1e-2, 1e-3)))
    assert reads == ["valid", "valid", "test"]


def test_without_a_valid_split_the_first_lr_is_used_and_nothing_is_selected():
    ctx = context(Linear(8, 16).requires_grad_(False), valid=False)
    run_finetune(ctx, FinetuneOptions(steps=10, lr_grid=(1e-2, 1e-3)))
    assert ctx.choices == {} and ctx.costs["steps"] == 10


def test_a_frozen_encoder_with_the_head_only_matches_the_linear_probe():
    """Peer check: head-only fine-tuning is a logistic regression fit by AdamW instead of L-BFGS."""
    torch.manual_seed(0)
    encoder = Linear(8, 16).requires_grad_(False).eval()
    tuned = run_finetune(context(encoder), FinetuneOptions(steps=400, lr_grid=(1e-2,), freeze_encoder=True))
    probe = run_linear_probe(context(encoder, valid=False), LinearProbeOptions(standardize=False))
    assert math.isclose(tuned["top1"], probe["top1"], abs_tol=0.03), (tuned, probe)


class Scaled(nn.Module):
    """A parameter-free 'reference': pooled = x with features at wildly different scales (B, F)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.embed_dim = features
        self.register_buffer("gain", torch.logspace(-3, 3, features))

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=batch["x"] * self.gain + 50.0)


def test_a_parameter_free_reference_trains_its_head_on_standardised_features_as_the_probe_does():
    """Without standardisation, 60 AdamW steps on features scaled 1e-3..1e3 and offset by 50 leave the
    head near chance; the probe (standardised) separates the blobs. The reference's row must not
    understate it for a reason that has nothing to do with its features."""
    ctx = context(Scaled(8))
    tuned = run_finetune(ctx, FinetuneOptions(steps=60, lr_grid=(1e-2,)))
    probe = run_linear_probe(context(Scaled(8), valid=False), LinearProbeOptions(standardize=True))
    assert math.isclose(tuned["top1"], probe["top1"], abs_tol=0.05), (tuned, probe)
    import sslbench_eval.finetune as finetune_module

    raw = finetune_module.Classifier(Scaled(8), 4)
    assert torch.equal(raw.features(torch.ones(2, 8)), torch.ones(2, 8))  # identity unless fitted
