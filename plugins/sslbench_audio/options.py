"""The sslbench_audio plugin's option dataclasses: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sslbench_audio.audiofolder import LogMelConfig


KLETTRES_ROOT = "/usr/share/klettres"


def _check_split_options(test_fraction: float, valid_fraction: float) -> None:
    if not 0.05 <= test_fraction <= 0.5:
        raise ValueError(f"test_fraction: must be in [0.05, 0.5], got {test_fraction}")
    if valid_fraction != 0 and not 0.05 <= valid_fraction <= 0.5:
        raise ValueError(f"valid_fraction: must be 0 (no validation split) or in [0.05, 0.5], got {valid_fraction}")


@dataclass(frozen=True)
class FSDDOptions:
    """Free Spoken Digit Dataset as 13-dim MFCC frames."""

    test_fraction: float = 0.2  # utterance-level hold-out, stratified by digit (the file has no speaker ids)
    valid_fraction: float = 0.1  # share of each digit's train clips held out for selection (fixed draw); 0: none
    standardize: bool = True  # scale each MFCC by the train split's mean/std over real frames (c0 dwarfs the rest)
    path: str | None = None  # a folder holding digits.npz (a local copy); default: the data cache

    def __post_init__(self) -> None:
        _check_split_options(self.test_fraction, self.valid_fraction)


@dataclass(frozen=True)
class LogMelOptions:
    """Log-mel front end and split of a folder of recordings (shared by audiofolder and klettres)."""

    sample_rate: int = 16000  # Hz every file is resampled to before the 25 ms / 10 ms log-mel frames
    n_mels: int = 40  # mel bands = feature dimension F
    max_seconds: float | None = 10.0  # keep the first max_seconds of each file (splits are padded to the longest)
    test_fraction: float = 0.2  # hold-out, stratified by class
    valid_fraction: float = 0.1  # share of each class's train clips held out for selection (fixed draw); 0: none
    standardize: bool = True  # scale each mel band by the train split's mean/std over real frames

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds: must be > 0 seconds (or absent for whole files), got {self.max_seconds}")
        _check_split_options(self.test_fraction, self.valid_fraction)

    def log_mel(self) -> LogMelConfig:
        """The reader's front-end settings."""
        from sslbench_audio.audiofolder import LogMelConfig  # local: it imports torch

        return LogMelConfig(sample_rate=self.sample_rate, n_mels=self.n_mels, max_seconds=self.max_seconds)


@dataclass(frozen=True)
class AudioFolderOptions(LogMelOptions):
    """A user's recordings: ``path/<class>/**/*.{wav,flac,ogg}``, label set ``label``."""

    path: str = ""  # the folder with one sub-folder per class (required)


@dataclass(frozen=True)
class KLettresOptions(LogMelOptions):
    """Debian klettres-data recordings, label set ``language``."""

    max_seconds: float | None = 3.0  # 90% of the clips are under 2.6 s; the longest is 7.6 s
    path: str = KLETTRES_ROOT  # where klettres-data installs them


@dataclass(frozen=True)
class ViewConfig:
    """Augmentation strengths of the ``audio`` modality's views (its options).

    Defaults suit standardised MFCC/log-mel features: a 0.2 time mask removes ~10%
    of a clip's frames on average; a 0.2 frequency mask removes up to 2 of 13 MFCCs
    or 8 of 40 mels (SpecAugment LD uses 27 of 80).
    """

    crop_min: float = 0.6  # each view keeps a random crop of crop_min..1 of each clip's frames (>= 1 frame)
    time_mask: float = 0.2  # one time mask per clip of up to this fraction of its length (SpecAugment's p)
    freq_mask: float = 0.2  # one frequency mask per clip of up to floor(freq_mask * F) feature dims
    gain: float = 0.3  # per-clip offset from U(-gain, gain) on real frames: a level change in log features
    noise_std: float = 0.05  # std of Gaussian noise added to real frames (standardised units)

    def __post_init__(self) -> None:
        if not 0.0 < self.crop_min <= 1.0:
            raise ValueError(f"crop_min: must be in (0, 1], got {self.crop_min}")
        for name in ("time_mask", "freq_mask"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("gain", "noise_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")


TARGETS = ("reconstruct", "clusters")


@dataclass(frozen=True)
class ClusterTargetOptions:
    """Options of ``masked-frames-clusters`` (and the masking options of ``masked-frames``).

    Span masking follows wav2vec 2.0 (start probability p, span M) scaled to short
    clips: FSDD's ~9 model frames per clip (18 MFCC frames at stride 2) cannot hold
    the paper's 10-frame spans, so M = 2 model frames (~4 MFCC frames, about one
    phone) and p = 0.3 keep the paper's ~49% masked (48% on FSDD clips, see
    :mod:`sslbench_audio.masking`).
    """

    mask_prob: float = 0.3  # probability that a model frame starts a masked span (wav2vec 2.0's p = 0.065)
    span: int = 2  # model frames per masked span (wav2vec 2.0's M = 10)
    num_clusters: int = 100  # k of the k-means cluster targets (HuBERT iteration 1 on MFCCs: 100)
    kmeans_iterations: int = 30  # Lloyd iterations of that k-means

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob: must be in (0, 1], got {self.mask_prob}")
        for name in ("span", "kmeans_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {getattr(self, name)}")
        if self.num_clusters < 2:
            raise ValueError(f"num_clusters: must be an integer >= 2, got {self.num_clusters}")


@dataclass(frozen=True)
class MaskedFramesOptions(ClusterTargetOptions):
    """Options of ``masked-frames``: the masking options plus the target."""

    target: Literal["reconstruct", "clusters"] = "reconstruct"  # L1 on masked features, or k-means cluster ids

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in TARGETS:
            raise ValueError(f"target: must be one of {', '.join(TARGETS)}, got {self.target!r}")


@dataclass(frozen=True)
class AudioTransformerConfig:
    """Size and shape of an :class:`AudioTransformer` (defaults: ``audio-transformer-tiny``)."""

    dim: int = 64  # model width D (= embed_dim)
    depth: int = 2  # transformer layers
    heads: int = 4  # attention heads; dim must divide by heads
    ff_mult: int = 4  # feed-forward width as a multiple of dim
    stride: int = 2  # time subsampling of the front end: FSDD's ~18 MFCC frames become ~9 model frames
    kernel_size: int = 3  # odd kernel of both front-end convs
    dropout: float = 0.1  # in the transformer layers
    weights: str = ""  # outside weights: a .safetensors file, a folder holding one, hf-hub:org/name; "" = none

    def __post_init__(self) -> None:
        for name in ("dim", "depth", "heads", "ff_mult", "stride", "kernel_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        if self.dim % self.heads:
            raise ValueError(f"dim: must be divisible by heads={self.heads}, got {self.dim}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be odd, got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class AudioTransformerSmallConfig(AudioTransformerConfig):
    """``audio-transformer-small``: twice as wide, twice as deep as tiny."""

    dim: int = 128  # model width D (= embed_dim)
    depth: int = 4  # transformer layers


PRESETS: dict[str, AudioTransformerConfig] = {
    "audio-transformer-tiny": AudioTransformerConfig(),
    "audio-transformer-small": AudioTransformerSmallConfig(),
}
