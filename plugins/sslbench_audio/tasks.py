"""Masked-frames pretext task: predict what is under a span mask.

Where the mask goes. As in wav2vec 2.0 (Baevski et al., 2020, §3.1) and HuBERT
(Hsu et al., 2021, §III-A) the mask is applied *after* the convolutional front
end: model frames chosen by :func:`~sslbench_audio.masking.span_mask` are replaced
by one learned mask embedding (D-dim) before positions are added and the
transformer runs. Masking the raw input frames instead would let the front end's
kernel see unmasked neighbours at span edges and, with a strided front end, mix
masked and unmasked frames inside one model frame. The encoder therefore has to
expose its two steps (:class:`MaskableEncoder`), and the mask lives at the
encoder's output rate.

Targets, at the output rate (input frames are grouped in windows of
``encoder.stride``: model frame j ↔ input frames [j*s, (j+1)*s) within the clip):

* ``reconstruct``: the mean of the window's input features; L1 between a linear
  head's prediction and it, averaged over masked frames and feature dims.
* ``clusters``: HuBERT iteration 1 — input frames are labelled by their nearest
  k-means centroid (MFCC k-means fitted once per dataset, see
  :func:`~sslbench_audio.kmeans.fit_frame_kmeans`), model frame j takes the label
  of input frame j*s (fairseq HuBERT subsamples labels the same way when the
  label rate exceeds the model rate); cross-entropy of a linear head, averaged
  over masked frames. HuBERT scores labels by cosine similarity to learned label
  embeddings with temperature 0.1; a linear softmax head is the simpler
  equivalent at this scale.

Unmasked and padding frames never enter the loss (HuBERT's alpha = 1).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from sslbench_audio.batching import lengths_to_mask
from sslbench_audio.kmeans import assign
from sslbench_audio.masking import SpanMaskConfig, span_mask
from sslbench_audio.models import EncoderOutput

TARGETS = ("reconstruct", "clusters")


@runtime_checkable
class MaskableEncoder(Protocol):
    """An audio encoder whose front end and context network can be run apart."""

    embed_dim: int
    stride: int

    def embed(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Front end: returns hidden (B, T', D) and lengths (B,) at the output rate."""
        ...

    def contextualize(self, hidden: Tensor, lengths: Tensor) -> EncoderOutput:
        """Context network on (possibly masked) front-end output."""
        ...


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

    Shape:
        prediction, target: (B, T, F); mask: (B, T) bool. Returns a scalar.
    """
    return (prediction[mask] - target[mask]).abs().mean()


def masked_cross_entropy(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Cross-entropy averaged over the frames where mask is True.

    Shape:
        logits: (B, T, K), labels: (B, T) long, mask: (B, T) bool. Returns a scalar.
    """
    return nn.functional.cross_entropy(logits[mask], labels[mask])


class MaskedFramesTask(nn.Module):
    """Span-mask model frames, predict the masked frames' features or cluster ids.

    Args:
        encoder: a :class:`MaskableEncoder` (e.g. ``AudioTransformer``).
        n_features: input feature dimension F (the reconstruct head's output).
        target: ``"reconstruct"`` or ``"clusters"``.
        centroids: (K, F) k-means centroids of the pretrain frames; required for
            ``clusters``, ignored for ``reconstruct``.
        mask_prob, span: span masking at the encoder's output rate
            (:class:`~sslbench_audio.masking.SpanMaskConfig` explains the defaults).
        seed: seeds the task's own mask generator (created on the batch's device).

    Shape:
        batch: features (B, T, F), lengths (B,). forward returns ``loss`` (scalar)
        and logs ``masked_fraction`` (and ``accuracy`` for clusters), detached.
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_features: int,
        target: str = "reconstruct",
        centroids: Tensor | None = None,
        mask_prob: float = SpanMaskConfig.mask_prob,
        span: int = SpanMaskConfig.span,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, MaskableEncoder):
            raise TypeError(
                f"masked-frames needs an encoder with embed(batch), contextualize(hidden, lengths), "
                f"embed_dim and stride; {type(encoder).__name__} lacks some of them"
            )
        if target not in TARGETS:
            raise ValueError(f"masked-frames option target must be one of {TARGETS}, got {target!r}")
        self.mask_config = SpanMaskConfig(mask_prob, span)
        self.encoder = encoder
        self.target = target
        self.seed = seed
        self._generator: torch.Generator | None = None
        dim = encoder.embed_dim
        self.mask_embedding = nn.Parameter(torch.empty(dim).uniform_())  # as wav2vec 2.0
        if target == "clusters":
            if centroids is None or centroids.ndim != 2 or centroids.shape[1] != n_features:
                got = None if centroids is None else tuple(centroids.shape)
                raise ValueError(
                    f"masked-frames target='clusters' needs centroids of shape (K, {n_features}) "
                    f"from kmeans.fit_frame_kmeans on the pretrain split, got {got}"
                )
            self.register_buffer("centroids", centroids.detach().float().clone())
            self.head = nn.Linear(dim, centroids.shape[0])
        else:
            self.centroids = None
            self.head = nn.Linear(dim, n_features)

    def draw_mask(self, lengths: Tensor, max_len: int) -> Tensor:
        """A span mask at the output rate from the task's generator.

        Shape:
            lengths: (B,) output-rate lengths. Returns (B, max_len) bool.
        """
        if self._generator is None or self._generator.device != lengths.device:
            self._generator = torch.Generator(device=lengths.device).manual_seed(self.seed)
        return span_mask(lengths, max_len, self.mask_config.mask_prob, self.mask_config.span, self._generator)

    def cluster_ids(self, features: Tensor, lengths: Tensor) -> Tensor:
        """Nearest-centroid id of every input frame, -1 at padding.

        Shape:
            features: (B, T, F). Returns (B, T) long.
        """
        assert self.centroids is not None
        ids, _ = assign(features.reshape(-1, features.shape[-1]).float(), self.centroids)
        ids = ids.view(features.shape[:2])
        return ids.masked_fill(~lengths_to_mask(lengths, features.shape[1]), -1)

    def forward(self, batch: dict[str, Tensor], frame_mask: Tensor | None = None) -> dict[str, Tensor]:
        """Mask, encode, predict, score the masked frames.

        ``frame_mask`` (B, T') bool overrides the drawn mask (tests, analysis);
        it is intersected with the real frames.
        """
        features, lengths = batch["features"], batch["lengths"]
        hidden, out_lengths = self.encoder.embed(batch)
        real = lengths_to_mask(out_lengths, hidden.shape[1])
        mask = self.draw_mask(out_lengths, hidden.shape[1]) if frame_mask is None else frame_mask & real
        hidden = torch.where(mask[..., None], self.mask_embedding.to(hidden.dtype), hidden)
        out = self.encoder.contextualize(hidden, out_lengths)
        prediction = self.head(out.sequence)
        stride = self.encoder.stride
        logs: dict[str, Tensor] = {"masked_fraction": (mask.sum() / real.sum()).detach()}
        if self.target == "reconstruct":
            loss = masked_l1(prediction, pool_windows(features, lengths, stride), mask)
        else:
            labels = self.cluster_ids(features, lengths)[:, ::stride]
            loss = masked_cross_entropy(prediction, labels, mask)
            logs["accuracy"] = (prediction[mask].argmax(-1) == labels[mask]).float().mean().detach()
        return {"loss": loss, **logs}
