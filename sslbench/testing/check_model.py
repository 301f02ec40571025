"""Conformance of encoders and pretext tasks: outputs, declared capabilities, seeding, learning."""
from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sslbench.contexts import EncoderOutput, MissingCapabilityError
from sslbench.data_api import batch_size_of
from sslbench.plan.config import RunConfig
from sslbench.run.train import make_optimizer
from sslbench.testing.checks import ConformanceError, Problems, expect, who_of
from sslbench.testing.kit import Kit, NotApplicable

# --- models --------------------------------------------------------------------------------


def check_model(kit: Kit, name: str, problems: Problems | None = None) -> None:
    """On the first loadable dataset of each modality it accepts: outputs, declarations, seeding."""
    own, problems = problems is None, problems or Problems()
    spec = kit.registry.get("model", name)
    checked, reasons = 0, []
    for modality in sorted(spec.modalities):
        try:
            dataset, _ = kit.cheapest([(d, name) for d in kit.datasets_of(modality)], f"model {name!r} on {modality}")
        except NotApplicable as err:
            reasons.append(str(err))
            continue
        with problems.check():
            _check_model_on(kit, spec, dataset, problems)
        checked += 1
    if own:
        problems.raise_all()
    if not checked:
        raise NotApplicable("; ".join(reasons))


def _check_model_on(kit: Kit, spec: Any, dataset: str, problems: Problems) -> None:
    who = f"{who_of(spec)} on dataset {dataset!r}"
    encoder = kit.encoder(dataset, kit.registry.name_of(spec))  # checks nn.Module and embed_dim, as the runner does
    dim = encoder.embed_dim
    with problems.check():
        twin = kit.encoder(dataset, kit.registry.name_of(spec))
        same = all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), twin.state_dict().values()))
        expect(same, who, "two builds after the same torch.manual_seed must be equal (random-init rows rely on it); "
               "draw initial weights from torch's global generator")
    for split in ("pretrain", "test"):
        with problems.check():
            batch = kit.batch(dataset, split)
            with torch.no_grad():
                out = encoder.eval()(batch)
            _expect_output(out, batch_size_of(batch), dim, spec, who)
    for capability in sorted(spec.provides):
        check = MODEL_CAPABILITIES.get(capability)
        if check is not None:
            with problems.check():
                check(kit, encoder, dataset, who)
    with problems.check():
        _expect_gradients(encoder.train(), kit.batch(dataset), who)
    with problems.check():
        _expect_sees_whole_input(encoder.eval(), kit.batch(dataset, "test"), who)


MASK_KEYS = ("attention_mask", "mask", "valid")
"""Batch keys that mark real (non-padding) positions (B, T); ``lengths`` (B,) does too."""
REGIONS = 4  # parts of the input perturbed one at a time (quadrants of an image)


def input_regions(batch: Mapping[str, Tensor]) -> list[tuple[str, tuple[Any, ...]]]:
    """(key, index) of every region of every input tensor of ``batch``: 2×2 quadrants of a
    (B, C, H, W) tensor; :data:`REGIONS` slices along T of a (B, T, ...) tensor, within the
    positions that are real in every sample (masks and lengths are not inputs to perturb)."""
    real = _real_length(batch)
    regions = []
    for key, value in batch.items():
        if key in (*MASK_KEYS, "lengths") or key.startswith("label:") or value.ndim < 2 or value.dtype == torch.bool:
            continue
        if value.ndim == 4:
            h, w = value.shape[2] // 2, value.shape[3] // 2
            regions += [(key, (slice(None), slice(None), rows, cols)) for rows in (slice(0, h), slice(h, None))
                        for cols in (slice(0, w), slice(w, None))]
            continue
        length = min(real, value.shape[1])
        edges = [round(i * length / REGIONS) for i in range(REGIONS + 1)]
        regions += [(key, (slice(None), slice(a, b))) for a, b in zip(edges, edges[1:]) if b > a]
    return regions


def _real_length(batch: Mapping[str, Tensor]) -> int:
    for key in MASK_KEYS:
        if key in batch and batch[key].ndim == 2:
            return int(batch[key].bool().sum(dim=1).min())
    if "lengths" in batch:
        return int(batch["lengths"].min())
    return 10**9


def _perturbed(value: Tensor, index: tuple[Any, ...]) -> Tensor:
    out = value.clone()
    if value.is_floating_point():
        out[index] = out[index] + 1.0 + torch.randn_like(out[index])
    else:  # discrete ids: the same region of another sample (never special ids it would not hold)
        out[index] = value.roll(1, dims=0)[index]
    return out


def _expect_sees_whole_input(encoder: nn.Module, batch: dict, who: str) -> None:
    """Perturbing any region of the input changes the (random-init) embedding — a baseline that
    ignores part of its input (e.g. timm ResNets' zero-init residual branches) is no baseline."""
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = encoder(batch).pooled
        blind = []
        for key, index in input_regions(batch):
            changed = _perturbed(batch[key], index)
            if not torch.equal(changed, batch[key]) and torch.equal(encoder({**batch, key: changed}).pooled, reference):
                blind.append(f"{key}{_describe(index)}")  # (a region its perturbation cannot change is skipped)
    expect(not blind, who, f"its random-init embedding ignores part of the input: changing {', '.join(blind)} "
           "changes nothing; initialise so that every input position can matter (e.g. timm's zero_init_last=False)")


def _describe(index: tuple[Any, ...]) -> str:
    return "[" + ", ".join(":" if s == slice(None) else f"{s.start or 0}:{'' if s.stop is None else s.stop}"
                           for s in index) + "]"


def _expect_output(out: Any, size: int, dim: int, spec: Any, who: str) -> None:
    expect(isinstance(out, EncoderOutput), who, f"forward must return sslbench.EncoderOutput, got {type(out).__name__}")
    pooled = out.pooled
    expect(isinstance(pooled, Tensor) and tuple(pooled.shape) == (size, dim), who,
           f"pooled must be (B, embed_dim) = {(size, dim)}, got {tuple(getattr(pooled, 'shape', ()))}")
    expect(pooled.is_floating_point() and torch.isfinite(pooled).all(), who, "pooled must be finite floats")
    if "sequence" not in spec.provides:
        return
    seq = out.sequence
    expect(isinstance(seq, Tensor) and seq.ndim == 3 and seq.shape[0] == size and seq.shape[2] == dim, who,
           "declares sequence: EncoderOutput.sequence must be (B, T, embed_dim), "
           f"got {None if seq is None else tuple(seq.shape)}")
    if out.mask is not None:
        expect(out.mask.dtype == torch.bool and out.mask.shape == seq.shape[:2], who,
               "mask must be (B, T) bool like sequence")


def _expect_gradients(encoder: nn.Module, batch: dict, who: str) -> None:
    encoder.zero_grad(set_to_none=True)
    encoder(batch).pooled.float().pow(2).mean().backward()
    reached = [p for p in encoder.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    expect(reached, who, "no parameter gets a gradient from pooled; the encoder cannot be trained")
    encoder.zero_grad(set_to_none=True)


def _token_embeddings(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    table = encoder.token_embeddings()
    expect(isinstance(table, nn.Embedding), who,
           f"token_embeddings() must return nn.Embedding, got {type(table).__name__}")
    vocab = getattr(kit.modality(dataset), "vocab_size", None)
    if vocab is not None:
        expect(table.num_embeddings >= vocab, who,
               f"token_embeddings() has {table.num_embeddings} rows < vocab_size {vocab}")


def _item_embeddings(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    table = encoder.item_embeddings()
    expect(isinstance(table, Tensor) and table.ndim == 2, who, "item_embeddings() must return a (V, D) tensor")


def _frame_masking(kit: Kit, encoder: nn.Module, dataset: str, who: str) -> None:
    modality, batch = kit.modality(dataset), kit.batch(dataset)
    if not hasattr(modality, "frames"):
        return
    stride = getattr(encoder, "frame_stride", None)
    expect(isinstance(stride, int) and stride >= 1, who, "declares frame-masking but has no int frame_stride")
    frames = modality.frames(batch)[0].shape[1]
    mask = torch.zeros(batch_size_of(batch), math.ceil(frames / stride), dtype=torch.bool)
    mask[:, : max(1, mask.shape[1] // 2)] = True
    with torch.no_grad():
        plain = encoder.eval()(batch).pooled
        masked = encoder(dict(batch, frame_mask=mask)).pooled
    expect(not torch.allclose(plain, masked), who, "declares frame-masking but batch['frame_mask'] changes nothing")


MODEL_CAPABILITIES = {"token-embeddings": _token_embeddings, "item-embeddings": _item_embeddings,
                      "frame-masking": _frame_masking}
"""Encoder capabilities whose contract the kit checks."""


# --- tasks ---------------------------------------------------------------------------------


def check_task(kit: Kit, name: str, modality: str | None = None, problems: Problems | None = None) -> None:
    """In the cheapest compatible cell (of ``modality``): loss, learning, parameters, state dict."""
    own, problems = problems is None, problems or Problems()
    spec = kit.registry.get("task", name)
    what = f"task {name!r}" + (f" on {modality}" if modality else "")
    dataset, model = kit.cheapest(kit.task_pairs(name, modality), what)
    who = f"{who_of(spec)} with model {model!r} on dataset {dataset!r}"
    data = kit.dataset(dataset)
    expect(spec.split in data.split_names(), who,
           f"trains on split {spec.split!r}, which the dataset lacks")
    encoder, task = kit.task(dataset, model, name)
    expect(isinstance(task, nn.Module), who, f"build must return an nn.Module, got {type(task).__name__}")
    with problems.check():
        params = {id(p) for p in task.parameters()}
        expect(all(id(p) in params for p in encoder.parameters()), who,
               "the task's parameters must include its encoder's (the runner trains task.parameters())")
    _, twin = kit.task(dataset, model, name)
    batch = kit.batch(dataset, spec.split)
    with problems.check():
        _expect_reproducible(kit, task.train(), twin.train(), batch, who)
    with problems.check():
        _expect_learns(kit, task, batch, who)
    with problems.check():
        _expect_state_dict_round_trip(task, twin, who)
    if "mlm-head" in spec.provides:
        with problems.check():
            _expect_mlm_head(kit, task, encoder, dataset, who)
    if own:
        problems.raise_all()


def _loss(kit: Kit, task: nn.Module, batch: dict, who: str) -> Tensor:
    torch.manual_seed(kit.options.seed)  # the same views and masks at every step: a fixed batch
    try:
        out = task(batch)
    except MissingCapabilityError as err:
        raise ConformanceError(f"{who}: calls modality {err.modality!r}'s {err.capability}, which it does not "
                               f"provide; declare TaskSpec(needs={{{err.capability!r}, ...}})") from None
    expect(isinstance(out, Mapping) and "loss" in out, who, "forward(batch) must return a dict with 'loss'")
    loss = out["loss"]
    expect(isinstance(loss, Tensor) and loss.ndim == 0 and loss.is_floating_point(), who,
           f"loss must be a scalar float tensor, got {getattr(loss, 'shape', type(loss).__name__)}")
    expect(torch.isfinite(loss), who, f"loss must be finite, got {loss.item()}")
    return loss


def _expect_reproducible(kit: Kit, task: nn.Module, twin: nn.Module, batch: dict, who: str) -> None:
    """Two builds from one seed give the same loss for one seed: all randomness is torch's global generator."""
    with torch.no_grad():
        a, b = _loss(kit, task, batch, who).item(), _loss(kit, twin, batch, who).item()
    expect(a == b, who, f"two builds from the same seed give losses {a} and {b} for the same batch and seed; draw "
           "weights, views and masks from torch's global generator (the runner seeds and checkpoints it)")


def _expect_learns(kit: Kit, task: nn.Module, batch: dict, who: str) -> None:
    """``steps`` AdamW steps on one batch, with the same random draws each time, lower the loss."""
    task.train()
    run = RunConfig(lr=kit.options.lr, weight_decay=0.0)
    optimizer = make_optimizer(task, run)
    first = None
    for _ in range(kit.options.steps):
        loss = _loss(kit, task, batch, who)
        expect(loss.requires_grad, who, "loss must require grad (it is built from trainable parameters)")
        first = loss.item() if first is None else first
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        last = _loss(kit, task, batch, who).item()
    target = first - kit.options.min_decrease * max(abs(first), 1e-6)
    expect(last < target, who, f"{kit.options.steps} AdamW steps (lr {kit.options.lr}) on one fixed batch must lower "
           f"the loss by {kit.options.min_decrease:.1%}: {first:.6g} -> {last:.6g}")


def _expect_state_dict_round_trip(task: nn.Module, twin: nn.Module, who: str) -> None:
    """What a checkpoint does: save, ``torch.load(weights_only=True)``, load into a fresh build."""
    buffer = io.BytesIO()
    torch.save(task.state_dict(), buffer)
    buffer.seek(0)
    try:
        state = torch.load(buffer, weights_only=True)
    except Exception as err:  # pickle errors of any kind: the checkpoint would not load on resume
        raise ConformanceError(f"{who}: state_dict() must load with torch.load(weights_only=True) "
                               f"(checkpoints do): {type(err).__name__}: {err}") from None
    try:
        twin.load_state_dict(state)
    except RuntimeError as err:
        raise ConformanceError(f"{who}: a fresh build must load the trained state dict: {err}") from None


def _expect_mlm_head(kit: Kit, task: nn.Module, encoder: nn.Module, dataset: str, who: str) -> None:
    with torch.no_grad():
        seq = encoder.eval()(kit.batch(dataset)).sequence
        logits = task.logits(seq)
    vocab = getattr(kit.modality(dataset), "vocab_size", None)
    expect(vocab is None or logits.shape[-1] == vocab, who, f"logits(sequence) must end in vocab_size {vocab}")
