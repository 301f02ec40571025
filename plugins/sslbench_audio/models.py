"""Conv + transformer audio encoders (``audio-transformer-tiny`` / ``-small``).

The layout follows wav2vec 2.0 / HuBERT (Baevski et al., 2020; Hsu et al., 2021)
at toy scale: a convolutional front end turns input frames (B, T, F) into model
frames (B, T', D), subsampling time by ``stride``; a transformer encoder
contextualises them. The encoder is split in two public steps so that a
masked-prediction task can replace front-end outputs by a mask embedding in
between, as wav2vec 2.0 and HuBERT do:

    hidden, lengths = encoder.embed(batch)              # front end, (B, T', D)
    out = encoder.contextualize(hidden, lengths)        # positions + transformer

``forward(batch)`` is the two in a row. Padding never leaks into real frames:
inputs are zeroed past each clip's length and front-end outputs are zeroed past
the subsampled length before the next layer, so a clip's outputs do not depend on
how much padding its batch has (tested).

Time subsampling: every conv has odd ``kernel_size`` and padding
``kernel_size // 2``; only the first has ``stride``. Then
T' = floor((T + 2*(k//2) - k) / s) + 1 = ceil(T / s) exactly, and model frame j
is centred on input frame j*s. The masked-frames task assigns model frame j the input window
[j*s, (j+1)*s) when it pools targets; for stride <= kernel_size // 2 + 1 that
window lies inside the first conv's receptive field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import torch
from torch import Tensor, nn

from sslbench_audio.batching import lengths_to_mask


class EncoderOutput(NamedTuple):
    """What every encoder returns (the core will export this type later).

    Shape:
        sequence: (B, T', D) float, zero at padding.
        pooled: (B, D) float.
        mask: (B, T') bool, True at real frames.
    """

    sequence: Tensor
    pooled: Tensor
    mask: Tensor


@dataclass(frozen=True)
class AudioTransformerConfig:
    """Size and shape of an :class:`AudioTransformer`.

    dim: model width D (= embed_dim).
    depth: transformer layers.
    heads: attention heads; dim must divide by heads.
    ff_mult: feed-forward width as a multiple of dim.
    stride: time subsampling of the front end. 2 halves FSDD's ~18 MFCC frames
        (25 ms hop) to ~9 model frames, the rate the masked-frames task masks at.
    kernel_size: odd conv kernel of both front-end convs.
    dropout: in the transformer layers.
    """

    dim: int = 64
    depth: int = 2
    heads: int = 4
    ff_mult: int = 4
    stride: int = 2
    kernel_size: int = 3
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("dim", "depth", "heads", "ff_mult", "stride", "kernel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"audio transformer option {name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"audio transformer option dim={self.dim} must be divisible by heads={self.heads}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"audio transformer option kernel_size must be odd, got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"audio transformer option dropout must be in [0, 1), got {self.dropout}")


PRESETS: dict[str, AudioTransformerConfig] = {
    "audio-transformer-tiny": AudioTransformerConfig(dim=64, depth=2, heads=4),
    "audio-transformer-small": AudioTransformerConfig(dim=128, depth=4, heads=4),
}


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
        batch["features"]: (B, T, F) float, batch["lengths"]: (B,) long.
        forward → EncoderOutput with sequence (B, ceil(T/stride), dim).
    """

    def __init__(self, n_features: int, config: AudioTransformerConfig | None = None) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"audio transformer needs n_features >= 1, got {n_features}")
        self.config = config = config or AudioTransformerConfig()
        self.n_features = n_features
        self.embed_dim: int = config.dim
        self.stride: int = config.stride
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

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Model frames of clips of ``lengths`` input frames (ceil(length / stride))."""
        return output_lengths(lengths, self.stride)

    def embed(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Front end only: input frames → model frames, zero at padding.

        Shape:
            Returns hidden (B, T', D) and lengths (B,) in model frames.
        """
        features, lengths = batch["features"], batch["lengths"]
        x = features * lengths_to_mask(lengths, features.shape[1])[..., None].to(features.dtype)
        out_lengths = self.output_lengths(lengths)
        t_out = -(-features.shape[1] // self.stride)
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

    def forward(self, batch: dict[str, Tensor]) -> EncoderOutput:
        """``contextualize(*embed(batch))``."""
        return self.contextualize(*self.embed(batch))


def create_audio_transformer(name: str, n_features: int, **options: object) -> AudioTransformer:
    """Build a preset by name; ``options`` override its config fields.

    Raises ValueError naming the valid presets or config fields on a typo.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown audio model {name!r}; available: {', '.join(sorted(PRESETS))}")
    unknown = set(options) - set(asdict(PRESETS[name]))
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for {name}; valid: {', '.join(asdict(PRESETS[name]))}")
    return AudioTransformer(n_features, replace(PRESETS[name], **options))  # type: ignore[arg-type]
