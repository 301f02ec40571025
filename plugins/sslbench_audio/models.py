"""Conv + transformer audio encoders (``audio-transformer-tiny`` / ``-small``).

The layout follows wav2vec 2.0 / HuBERT (Baevski et al., 2020; Hsu et al., 2021)
at toy scale: a convolutional front end turns input frames (B, T, F) into model
frames (B, T', D), subsampling time by ``frame_stride``; a transformer encoder
contextualises them; the pooled embedding is the mean over real model frames.

Capability ``frame-masking``: when the batch carries ``frame_mask`` (B, T') bool at
the model rate, the front-end outputs at True positions are replaced by one learned
mask vector before positions are added and the transformer runs — where wav2vec 2.0
and HuBERT mask. Masking input frames instead would let the strided conv see
unmasked neighbours at span edges. ``frame_stride`` and :meth:`output_lengths` tell
a task how input frames map to model frames.

Padding never leaks into real frames: inputs are zeroed past each clip's length and
front-end outputs are zeroed past the subsampled length before the next layer, so a
clip's outputs do not depend on how much padding its batch has (tested).

Time subsampling: every conv has odd ``kernel_size`` and padding
``kernel_size // 2``; only the first has the stride s. Then
T' = floor((T + 2*(k//2) - k) / s) + 1 = ceil(T / s) exactly, and model frame j
is centred on input frame j*s. The masked-frames task assigns model frame j the
input window [j*s, (j+1)*s) when it pools targets; for s <= kernel_size // 2 + 1
that window lies inside the first conv's receptive field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import torch
from torch import Tensor, nn

from sslbench import EncoderOutput, ModelContext
from sslbench.weights import load_into

from sslbench_audio.batching import lengths_to_mask
from sslbench_audio.options import (  # noqa: F401  # torch-free: re-exported
    AudioTransformerConfig, AudioTransformerSmallConfig, PRESETS,
)


def output_lengths(lengths: Tensor, stride: int) -> Tensor:
    """Frames after the front end: ceil(length / stride).

    Shape:
        lengths: (B,) long. Returns (B,) long.
    """
    return torch.div(lengths + stride - 1, stride, rounding_mode="floor")


def sinusoidal_positions(n: int, dim: int, device: torch.device | None = None) -> Tensor:
    """Fixed sine/cosine position codes (Vaswani et al., 2017), any length.

    Shape:
        Returns (n, dim).
    """
    position = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    codes = torch.zeros(n, dim, device=device)
    codes[:, 0::2] = torch.sin(position * freq)
    codes[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return codes


def masked_mean(sequence: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real frames of each row.

    Shape:
        sequence: (B, T, D), mask: (B, T) bool. Returns (B, D).
    """
    weights = mask.to(sequence.dtype)[..., None]
    return (sequence * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class AudioTransformer(nn.Module):
    """Conv front end (subsamples time) + pre-LN transformer encoder.

    Shape:
        batch["features"]: (B, T, F) float, batch["lengths"]: (B,) long, optional
        batch["frame_mask"]: (B, ceil(T/stride)) bool.
        forward → EncoderOutput with sequence (B, ceil(T/stride), dim), pooled (B, dim).
    """

    def __init__(self, n_features: int, config: AudioTransformerConfig | None = None) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"audio transformer needs n_features >= 1, got {n_features}")
        self.config = config = config or AudioTransformerConfig()
        self.n_features = n_features
        self.embed_dim: int = config.dim
        self.frame_stride: int = config.stride  # input frames per model frame (capability frame-masking)
        k = config.kernel_size
        self.conv1 = nn.Conv1d(n_features, config.dim, k, stride=config.stride, padding=k // 2)
        self.conv2 = nn.Conv1d(config.dim, config.dim, k, padding=k // 2)
        self.front_norm = nn.LayerNorm(config.dim)
        layer = nn.TransformerEncoderLayer(
            config.dim,
            config.heads,
            config.dim * config.ff_mult,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(config.dim)
        self.mask_embedding = nn.Parameter(torch.empty(config.dim).uniform_())  # as wav2vec 2.0

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Model frames of clips of ``lengths`` input frames (ceil(length / stride))."""
        return output_lengths(lengths, self.frame_stride)

    def embed(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Front end only: input frames → model frames, zero at padding.

        Shape:
            Returns hidden (B, T', D) and lengths (B,) in model frames.
        """
        features, lengths = batch["features"], batch["lengths"]
        x = features * lengths_to_mask(lengths, features.shape[1])[..., None].to(features.dtype)
        out_lengths = self.output_lengths(lengths)
        t_out = -(-features.shape[1] // self.frame_stride)
        keep = lengths_to_mask(out_lengths, t_out)[:, None, :].to(x.dtype)  # (B, 1, T')
        h = nn.functional.gelu(self.conv1(x.transpose(1, 2))) * keep
        h = nn.functional.gelu(self.conv2(h)) * keep
        h = self.front_norm(h.transpose(1, 2)) * keep.transpose(1, 2)
        return h, out_lengths

    def contextualize(self, hidden: Tensor, lengths: Tensor) -> EncoderOutput:
        """Add positions, run the transformer over real frames, pool.

        Shape:
            hidden: (B, T', D), lengths: (B,) model frames. Returns EncoderOutput.
        """
        mask = lengths_to_mask(lengths, hidden.shape[1])
        x = hidden + sinusoidal_positions(hidden.shape[1], hidden.shape[2], hidden.device)
        x = self.transformer(x, src_key_padding_mask=~mask)
        sequence = self.final_norm(x) * mask[..., None].to(x.dtype)
        return EncoderOutput(sequence, masked_mean(sequence, mask), mask)

    def apply_frame_mask(self, hidden: Tensor, frame_mask: Tensor) -> Tensor:
        """Replace the model frames where ``frame_mask`` is True by the learned mask vector.

        Shape:
            hidden: (B, T', D), frame_mask: (B, T') bool. Returns (B, T', D).
        """
        if frame_mask.shape != hidden.shape[:2] or frame_mask.dtype != torch.bool:
            raise ValueError(
                f"frame_mask: expected a bool tensor of shape (B, T') = {tuple(hidden.shape[:2])} at the model rate "
                f"(T' = ceil(T / frame_stride={self.frame_stride})), got {frame_mask.dtype} {tuple(frame_mask.shape)}"
            )
        return torch.where(frame_mask[..., None], self.mask_embedding.to(hidden.dtype), hidden)

    def forward(self, batch: dict[str, Tensor]) -> EncoderOutput:
        """Front end, optional frame masking (``batch["frame_mask"]``), transformer, pooling."""
        hidden, lengths = self.embed(batch)
        if "frame_mask" in batch:
            hidden = self.apply_frame_mask(hidden, batch["frame_mask"])
        return self.contextualize(hidden, lengths)


def create_audio_transformer(name: str, n_features: int, **options: object) -> AudioTransformer:
    """Build a preset by name; ``options`` override its config fields (for tests and scripts).

    Raises ValueError naming the valid presets or config fields on a typo.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown audio model {name!r}; available: {', '.join(sorted(PRESETS))}")
    unknown = set(options) - set(asdict(PRESETS[name]))
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for {name}; valid: {', '.join(asdict(PRESETS[name]))}")
    return AudioTransformer(n_features, replace(PRESETS[name], **options))  # type: ignore[arg-type]


def build_audio_transformer(ctx: ModelContext, options: AudioTransformerConfig) -> AudioTransformer:
    """``ModelSpec.build``: an encoder for the dataset's ``info["num_features"]`` (F) input features."""
    n_features = ctx.info.get("num_features")
    if not isinstance(n_features, int) or n_features < 1:
        raise ValueError(
            f"dataset {ctx.dataset!r}: info['num_features'] must be the frame feature count F, got {n_features!r}"
        )
    name = next((n for n, p in PRESETS.items() if type(p) is type(options)), "audio-transformer")
    return load_into(AudioTransformer(n_features, options), options.weights, f"[models.{name}] weights")
