"""Masked-frames pretext task: predict what is under a span mask.

Generic over two capabilities, so it runs on any modality whose batches are frame
sequences and any encoder that can mask model frames (not only audio):

* ``frames`` (modality): ``modality.frames(batch) -> (features (B, T, F), valid (B, T))``,
  the real-valued frames the targets come from; ``valid`` is True on a prefix of
  each row (the rest is padding).
* ``frame-masking`` (encoder): ``batch["frame_mask"]`` (B, T') bool replaces those
  model frames by the encoder's learned mask vector after its front end, with
  T' = ceil(T / encoder.frame_stride).

Where the mask goes. As in wav2vec 2.0 (Baevski et al., 2020, §3.1) and HuBERT
(Hsu et al., 2021, §III-A) the mask is applied *after* the convolutional front
end, at the encoder's output rate: model frames chosen by
:func:`~sslbench_audio.masking.span_mask` are replaced by the learned mask vector
before positions are added and the transformer runs. Masks are drawn from torch's
global generator, which the runner seeds per (cell, seed) and can checkpoint.

Targets, at the output rate (input frames are grouped in windows of
``frame_stride``: model frame j ↔ input frames [j*s, (j+1)*s) within the clip):

* ``reconstruct``: the mean of the window's input features; L1 between a linear
  head's prediction and it, averaged over masked frames and feature dims.
* ``clusters``: HuBERT iteration 1 — input frames are labelled by their nearest
  k-means centroid (k-means on the pretrain split's frames, fitted once per
  dataset and cached, :func:`~sslbench_audio.kmeans.fit_kmeans_cached`); model
  frame j takes the label of input frame j*s (fairseq HuBERT subsamples labels
  the same way when the label rate exceeds the model rate); cross-entropy of a
  linear head, averaged over masked frames. HuBERT scores labels by cosine
  similarity to learned label embeddings with temperature 0.1; a linear softmax
  head is the simpler equivalent at this scale.

Unmasked and padding frames never enter the loss (HuBERT's alpha = 1). Clips with
fewer model frames than one span are left unmasked, so they never enter the loss
either; the build logs how many pretrain clips that skips, and refuses a span no
pretrain clip can hold.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from sslbench import Batch, TaskContext, TensorSplit, distributed, warn_once

from sslbench_audio.batching import lengths_to_mask
from sslbench_audio.kmeans import assign, fit_kmeans_cached
from sslbench_audio.masking import span_mask
from sslbench_audio.models import output_lengths
from sslbench_audio.options import (  # noqa: F401  # torch-free: re-exported
    TARGETS, ClusterTargetOptions, MaskedFramesOptions,
)

log = logging.getLogger(__name__)
KMEANS_SEED = 0  # fixed: cluster targets are a property of the dataset, not of the run's seed


def pool_windows(features: Tensor, lengths: Tensor, stride: int) -> Tensor:
    """Mean of each window of ``stride`` input frames, over real frames only.

    Shape:
        features: (B, T, F), lengths: (B,). Returns (B, ceil(T / stride), F); a
        window with no real frame is zero.
    """
    b, t, f = features.shape
    t_out = -(-t // stride)
    real = lengths_to_mask(lengths, t).to(features.dtype)[..., None]
    pad = t_out * stride - t
    x = nn.functional.pad(features * real, (0, 0, 0, pad)).view(b, t_out, stride, f)
    count = nn.functional.pad(real, (0, 0, 0, pad)).view(b, t_out, stride, 1).sum(2)
    return x.sum(2) / count.clamp_min(1.0)


def masked_l1(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean |prediction - target| over the frames where mask is True and all dims.

    Under torch.distributed the mean is over the masked frames of the global batch
    (``sslbench.distributed.global_mean``), so it equals the one-process loss.

    Shape:
        prediction, target: (B, T, F); mask: (B, T) bool. Returns a scalar.
    """
    total = (prediction[mask] - target[mask]).abs().sum()
    return distributed.global_mean(total, mask.sum() * prediction.shape[-1])


def masked_cross_entropy(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Cross-entropy averaged over the frames where mask is True (of the global batch).

    Shape:
        logits: (B, T, K), labels: (B, T) long, mask: (B, T) bool. Returns a scalar.
    """
    total = nn.functional.cross_entropy(logits[mask].float(), labels[mask], reduction="sum")
    return distributed.global_mean(total, mask.sum())


def frame_stride_of(encoder: nn.Module) -> int:
    """The encoder's ``frame_stride`` (capability ``frame-masking``), checked."""
    stride = getattr(encoder, "frame_stride", None)
    if not isinstance(stride, int) or stride < 1:
        raise TypeError(
            f"{type(encoder).__name__} declares frame-masking but has no integer frame_stride >= 1 "
            "(input frames per model frame); the masked-frames task needs it"
        )
    return stride


class MaskedFramesTask(nn.Module):
    """Span-mask model frames, predict the masked frames' features or cluster ids.

    Args:
        encoder: an encoder with capability ``frame-masking`` (``frame_stride``,
            ``embed_dim``, reads ``batch["frame_mask"]``).
        modality: a modality with capability ``frames``.
        n_features: frame feature dimension F (the reconstruct head's output).
        target: ``"reconstruct"`` or ``"clusters"``.
        centroids: (K, F) k-means centroids of the pretrain frames; required for
            ``clusters``, ignored for ``reconstruct``.
        mask_prob, span: span masking at the encoder's output rate.

    Shape:
        batch: whatever the modality's batches hold. forward returns ``loss``
        (scalar) and logs ``masked_fraction`` (and ``accuracy`` for clusters), detached.
    """

    def __init__(
        self,
        encoder: nn.Module,
        modality: Any,
        n_features: int,
        target: str = "reconstruct",
        centroids: Tensor | None = None,
        mask_prob: float = ClusterTargetOptions.mask_prob,
        span: int = ClusterTargetOptions.span,
    ) -> None:
        super().__init__()
        self.options = MaskedFramesOptions(mask_prob=mask_prob, span=span, target=target)  # validates
        self.encoder, self.modality, self.target = encoder, modality, target
        self.stride = frame_stride_of(encoder)
        dim = encoder.embed_dim
        if target == "clusters":
            if centroids is None or centroids.ndim != 2 or centroids.shape[1] != n_features:
                got = None if centroids is None else tuple(centroids.shape)
                raise ValueError(f"target 'clusters' needs centroids of shape (K, {n_features}), got {got}")
            self.register_buffer("centroids", centroids.detach().float().clone())
            self.head = nn.Linear(dim, centroids.shape[0])
        else:
            self.centroids = None
            self.head = nn.Linear(dim, n_features)

    def draw_mask(self, lengths: Tensor, max_len: int) -> Tensor:
        """A span mask at the model rate from torch's global generator; clips shorter
        than one span stay unmasked (they are skipped, not masked entirely).

        Shape:
            lengths: (B,) model-rate lengths. Returns (B, max_len) bool.
        """
        span = self.options.span
        mask = span_mask(lengths.clamp_min(1), max_len, self.options.mask_prob, span, generator=None)
        return mask & (lengths >= span)[:, None]

    def cluster_ids(self, features: Tensor, lengths: Tensor) -> Tensor:
        """Nearest-centroid id of every input frame (fp32, outside autocast), -1 at padding.

        Shape:
            features: (B, T, F). Returns (B, T) long.
        """
        assert self.centroids is not None
        with torch.autocast(features.device.type, enabled=False):  # bf16 distances would flip near-ties
            ids, _ = assign(features.reshape(-1, features.shape[-1]).float(), self.centroids)
        ids = ids.view(features.shape[:2])
        return ids.masked_fill(~lengths_to_mask(lengths, features.shape[1]), -1)

    def forward(self, batch: Batch, frame_mask: Tensor | None = None) -> dict[str, Tensor]:
        """Mask, encode, predict, score the masked frames.

        ``frame_mask`` (B, T') bool overrides the drawn mask (tests, analysis);
        it is intersected with the real model frames.
        """
        features, valid = self.modality.frames(batch)  # (B, T, F), (B, T)
        lengths = valid.sum(1)
        out_lengths = output_lengths(lengths, self.stride)
        t_out = -(-features.shape[1] // self.stride)
        real = lengths_to_mask(out_lengths, t_out)
        mask = self.draw_mask(out_lengths, t_out) if frame_mask is None else frame_mask & real
        sequence = self.encoder({**batch, "frame_mask": mask}).sequence
        if sequence is None or sequence.shape[:2] != mask.shape:
            got = None if sequence is None else tuple(sequence.shape)
            raise ValueError(f"masked-frames: the encoder's sequence must be (B, T') = {tuple(mask.shape)}, got {got}")
        prediction = self.head(sequence)
        logs = {"masked_fraction": (mask.sum() / real.sum().clamp_min(1)).detach()}
        if not mask.any():  # every clip shorter than a span: nothing to predict in this batch
            # still through global_mean: under torch.distributed every rank must join its all-reduce
            return {"loss": distributed.global_mean(prediction.sum() * 0.0, 0), **logs}
        if self.target == "reconstruct":
            return {"loss": masked_l1(prediction.float(), pool_windows(features, lengths, self.stride), mask), **logs}
        labels = self.cluster_ids(features, lengths)[:, :: self.stride]
        logs["accuracy"] = (prediction[mask].argmax(-1) == labels[mask]).float().mean().detach()
        return {"loss": masked_cross_entropy(prediction, labels, mask), **logs}


def pretrain_frames(modality: Any, split: TensorSplit, batch_size: int = 512,
                    keep_frames: bool = True) -> tuple[Tensor, Tensor]:
    """Every real frame of ``split`` through ``modality.frames``, and each clip's length.

    With ``keep_frames=False`` only the lengths and the frame width are kept (frames
    (0, F)): the reconstruction target needs no copy of the pretraining set.

    Shape:
        Returns frames (M, F) float32 and lengths (N,) long, M = lengths.sum() (or 0).
    """
    frames, lengths = [], []
    for start in range(0, len(split), batch_size):
        features, valid = modality.frames(split.batch(torch.arange(start, min(start + batch_size, len(split)))))
        frames.append(features[valid].float() if keep_frames else features.new_zeros(0, features.shape[-1]))
        lengths.append(valid.sum(1))
    return torch.cat(frames), torch.cat(lengths)


def check_span_fits(lengths: Tensor, stride: int, span: int, what: str = "pretrain") -> int:
    """Count the clips with fewer model frames than one span; refuse a span no clip holds.

    Returns the number of clips the task will skip (and logs it).
    """
    model_lengths = output_lengths(lengths, stride)
    short = int((model_lengths < span).sum())
    if short == len(lengths):
        raise ValueError(
            f"span: every {what} clip is shorter than one span of {span} model frames "
            f"(longest clip: {int(model_lengths.max())} model frames at frame_stride {stride}); use a smaller span"
        )
    if short:
        warn_once(log, "masked-frames: %d of %d %s clips are shorter than one span (%d model frames = %d input "
                    "frames); they are skipped in the loss", short, len(lengths), what, span, span * stride)
    return short


def build_masked_frames(ctx: TaskContext, options: MaskedFramesOptions) -> MaskedFramesTask:
    """``TaskSpec.build`` of ``masked-frames``: checks the span, fits cluster targets when asked."""
    stride = frame_stride_of(ctx.encoder)
    frames, lengths = pretrain_frames(ctx.modality, ctx.dataset.pretrain, keep_frames=options.target == "clusters")
    check_span_fits(lengths, stride, options.span)
    centroids = None
    if options.target == "clusters":
        if options.num_clusters > len(frames):
            raise ValueError(
                f"num_clusters: must be <= the {len(frames)} real pretrain frames, got {options.num_clusters}"
            )
        centroids = fit_kmeans_cached(frames, options.num_clusters, n_iter=options.kmeans_iterations,
                                      seed=KMEANS_SEED, cache_dir=ctx.cache_dir / "sslbench_audio")
    return MaskedFramesTask(ctx.encoder, ctx.modality, frames.shape[1], options.target, centroids,
                            options.mask_prob, options.span)


def build_masked_frames_clusters(ctx: TaskContext, options: ClusterTargetOptions) -> MaskedFramesTask:
    """``TaskSpec.build`` of ``masked-frames-clusters``: ``masked-frames`` with target ``clusters``."""
    return build_masked_frames(ctx, MaskedFramesOptions(**asdict(options), target="clusters"))
