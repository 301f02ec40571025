"""The finetune evaluator: a trained copy (the frozen encoder untouched), lr chosen on valid, test read
last, costs recorded, and with a frozen encoder the same answer as the linear probe (the peer check)."""
import dataclasses
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
    probe_ctx = context(encoder)
    run_linear_probe(probe_ctx, LinearProbeOptions())
    # 60 steps at 1e-4 barely move: valid picks 1e-2; the head started from the probe's fit, with the probe's L2
    assert ctx.choices == {"lr": 1e-2, "head_l2": probe_ctx.choices["l2"]}
    assert ctx.costs["steps"] == 120 and ctx.costs["flops"] > 0


def test_end_to_end_the_copy_of_the_frozen_encoder_it_is_handed_trains():
    """The runner hands evaluators an encoder with requires_grad off; fine-tuning must switch it on in its
    copy (a refactor once dropped that, and `finetune` silently trained the head alone)."""
    from sslbench_eval.finetune import tune

    torch.manual_seed(0)
    encoder = Linear(8, 16).requires_grad_(False).eval()
    model = tune(context(encoder), FinetuneOptions(steps=20, lr_grid=(1e-2,)))
    moved = (model.encoder.proj.weight - encoder.proj.weight).abs().max().item()
    assert moved > 1e-3 and not any(p.requires_grad for p in encoder.parameters())
    frozen = tune(context(encoder), FinetuneOptions(steps=20, lr_grid=(1e-2,), freeze_encoder=True))
    assert torch.equal(frozen.encoder.proj.weight, encoder.proj.weight)


def test_test_labels_are_read_once_and_last():
    ctx = context(Linear(8, 16).requires_grad_(False))
    reads = []
    original = ctx.labels
    ctx.labels = lambda split: reads.append(split) or original(split)  # type: ignore[method-assign]
    run_finetune(ctx, FinetuneOptions(steps=10, lr_grid=(1e-2, 1e-3)))
    assert reads == ["train", "valid", "valid", "valid", "test"]  # the head's probe fit, one valid per lr, test


def test_without_a_valid_split_the_first_lr_is_used_and_nothing_is_selected():
    ctx = context(Linear(8, 16).requires_grad_(False), valid=False)
    run_finetune(ctx, FinetuneOptions(steps=10, lr_grid=(1e-2, 1e-3)))
    assert ctx.choices == {} and ctx.costs["steps"] == 10  # the head's probe fit too: its fixed l2, no choice


def test_the_head_starts_from_the_probe_fit_unless_head_init_is_random():
    """LP-FT: with ``head_init = "probe"`` (the default) the head starts as the linear probe's fit, so a frozen
    head that barely moves (lr 1e-9) scores what the probe scores; a randomly drawn head does not."""
    torch.manual_seed(0)
    encoder = Linear(8, 16).requires_grad_(False).eval()
    still = FinetuneOptions(steps=5, lr_grid=(1e-9,), freeze_encoder=True)
    probe = run_linear_probe(context(encoder), LinearProbeOptions())["top1"]
    assert run_finetune(context(encoder), still)["top1"] == probe > 0.8
    drawn = run_finetune(context(encoder), dataclasses.replace(still, head_init="random"))["top1"]
    assert drawn < probe - 0.2  # nn.Linear's draw on 4 separable blobs, not trained


def test_a_frozen_encoder_with_the_head_only_matches_the_linear_probe():
    """Peer check: head-only fine-tuning is a logistic regression fit by AdamW instead of L-BFGS — from a randomly
    drawn head, so that AdamW's own training is what is checked (from the probe's fit it starts at the answer)."""
    torch.manual_seed(0)
    encoder = Linear(8, 16).requires_grad_(False).eval()
    head = FinetuneOptions(steps=400, lr_grid=(1e-2,), freeze_encoder=True, head_init="random")
    tuned = run_finetune(context(encoder), head)
    probe = run_linear_probe(context(encoder), LinearProbeOptions())
    assert math.isclose(tuned["top1"], probe["top1"], abs_tol=0.02), (tuned, probe)


class Scaled(nn.Module):
    """A parameter-free 'reference': pooled = x with features at wildly different scales (B, F)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.embed_dim = features
        self.register_buffer("gain", torch.logspace(-3, 3, features))

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=batch["x"] * self.gain + 50.0)


def test_a_parameter_free_reference_finetune_row_is_the_probe_fit():
    """A reference has nothing to fine-tune: its row is its best linear head, the probe's fit (L2 chosen on
    valid), so it never sits below its probe row for want of AdamW steps on features scaled 1e-3..1e3."""
    ctx, probe_ctx = context(Scaled(8)), context(Scaled(8))
    tuned = run_finetune(ctx, FinetuneOptions(steps=60, lr_grid=(1e-2,)))
    assert tuned == run_linear_probe(probe_ctx, LinearProbeOptions()) and tuned["top1"] > 0.8
    assert ctx.choices == probe_ctx.choices and "l2" in ctx.choices
    import sslbench_eval.finetune as finetune_module

    raw = finetune_module.Classifier(Scaled(8), 4)
    assert torch.equal(raw.features(torch.ones(2, 8)), torch.ones(2, 8))  # identity unless fitted


class Counting(Linear):
    """:class:`Linear` that counts the samples it encodes."""

    seen = 0

    def forward(self, batch):
        Counting.seen += len(batch["x"])
        return super().forward(batch)


def test_a_frozen_head_trains_on_the_cached_embeddings_and_its_input_is_standardised():
    """With the encoder frozen, each split is encoded once (the cell's cache), not once per step; the head
    sees train-standardised features, so a trained encoder's scale (here ×1000, offset 50) does not matter."""
    torch.manual_seed(0)
    encoder = Counting(8, 16).requires_grad_(False).eval()
    with torch.no_grad():
        encoder.proj.weight.mul_(1000.0)
        encoder.proj.bias.add_(50.0)
    Counting.seen = 0
    ctx = context(encoder)
    head = FinetuneOptions(steps=300, lr_grid=(1e-2, 1e-3), freeze_encoder=True, head_init="random")  # AdamW's own
    tuned = run_finetune(ctx, head)
    assert Counting.seen == 400 + 200 + 400  # train, valid, test: once each
    probe = run_linear_probe(ctx, LinearProbeOptions())
    assert math.isclose(tuned["top1"], probe["top1"], abs_tol=0.02), (tuned, probe)
