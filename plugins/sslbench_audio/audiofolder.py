"""A folder of recordings, one sub-folder per class, as log-mel frame sequences.

Layout: ``root/<class>/**/<file>.{wav,flac,ogg}`` (any depth below the class
folder; first-level folders without audio, e.g. KLettres' ``icons``, are not
classes). Files are decoded with ``soundfile``, mixed down to mono, resampled
with ``torchaudio.functional.resample`` and turned into log-mel frames with
``torchaudio.transforms.MelSpectrogram`` (natural log of power + eps), in padded
batches of clips that share a sample rate, on ``device`` (the run's device, which the
dataset builder gets as ``DatasetContext.device``).

Why once at load and not per training step: the front end is deterministic (the
views augment frames, not waveforms), train-only standardisation and the k-means
targets need every clip's frames anyway, and evaluators embed each split several
times; recomputing identical log-mels every step would only cost time.

Unreadable, empty or non-finite files are skipped and listed in
``AudioFolder.skipped``; only a folder with no audio at all, or a bad option, is
an error.

KLettres (Debian ``klettres-data``, ``/usr/share/klettres/<lang>/{alpha,syllab}/
*.ogg``: 1,836 recordings of letters and syllables in 20 languages, mostly
44.1 kHz, some 128 kHz) is this reader with label set ``language``.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from sslbench_audio.batching import AudioSplit, pad_sequences
from sslbench_audio.options import KLETTRES_ROOT  # noqa: F401  # torch-free: re-exported

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class LogMelConfig:
    """Front end settings; the defaults are the usual 25 ms / 10 ms speech frames.

    sample_rate: target rate in Hz every file is resampled to.
    n_fft: window and FFT size in samples (400 = 25 ms at 16 kHz).
    hop_length: frame step in samples (160 = 10 ms at 16 kHz, 100 frames/s).
    n_mels: mel bands = feature dimension F.
    max_seconds: keep only the first max_seconds of each file (None: all).
        Features are stored padded to the longest clip, so one long outlier
        costs N x its length in memory.
    log_eps: added to the mel power before the natural log.
    """

    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 40
    max_seconds: float | None = None
    log_eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"audiofolder option {name} must be a positive integer, got {value!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"audiofolder option max_seconds must be > 0 seconds or None, got {self.max_seconds!r}")
        if not self.log_eps > 0:
            raise ValueError(f"audiofolder option log_eps must be > 0, got {self.log_eps!r}")

    def n_frames(self, n_samples: Tensor) -> Tensor:
        """Frames of a clip of n_samples at the target rate (centred STFT: 1 + n // hop)."""
        return 1 + n_samples // self.hop_length


@dataclass
class AudioFolder:
    """What :func:`read_audio_folder` found.

    split: every readable clip, features (N, Tmax, n_mels) and labels[label_set].
    paths: the file of each clip, in order.
    skipped: (path, reason) of each file left out.
    """

    split: AudioSplit
    paths: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_audio_folder(root: str | Path) -> list[tuple[Path, str]]:
    """(file, class) for every audio file under ``root/<class>/``, sorted.

    Raises ValueError (one line) when root is not a folder or holds no audio file.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"audiofolder root {str(root)!r} is not a folder; expected one sub-folder per class")
    found = [
        (path, class_dir.name)
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir())
        for path in sorted(class_dir.rglob("*"))
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()
    ]
    if not found:
        raise ValueError(
            f"audiofolder root {str(root)!r} has no {'/'.join(AUDIO_SUFFIXES)} files in its "
            "sub-folders; expected root/<class>/<file>"
        )
    return found


def read_mono(path: str | Path, max_seconds: float | None = None) -> tuple[Tensor, int]:
    """Decode one file with soundfile, average channels.

    Shape:
        Returns waveform (n_samples,) float32 and its sample rate.
    """
    info = sf.info(str(path))
    frames = -1 if max_seconds is None else int(math.ceil(max_seconds * info.samplerate))
    data, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))), int(rate)


def log_mel_batch(
    waves: list[Tensor], orig_rate: int, config: LogMelConfig, device: torch.device | str = "cpu"
) -> list[Tensor]:
    """Resample and log-mel a list of clips sharing one sample rate, as one padded batch on ``device``.

    Zero padding after a clip only touches frames past its own length (which are
    cut off) and, through the centred window, its last ``n_fft // 2 / hop`` frames.

    Shape:
        waves: clips (n_i,) at orig_rate. Returns per clip (T_i, n_mels) with
        T_i = 1 + ceil(n_i * sample_rate / orig_rate) // hop_length, on the CPU.
    """
    n = torch.tensor([len(w) for w in waves])
    padded = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True).to(device)
    if orig_rate != config.sample_rate:
        from torchaudio.functional import resample

        padded = resample(padded, orig_rate, config.sample_rate)
        n = torch.div(n * config.sample_rate + orig_rate - 1, orig_rate, rounding_mode="floor")
    if padded.shape[1] <= config.n_fft // 2:  # reflect padding needs more samples than n_fft // 2
        padded = torch.nn.functional.pad(padded, (0, config.n_fft // 2 + 1 - padded.shape[1]))
    mel = _mel_transform(config, str(padded.device))(padded)  # (B, n_mels, T)
    frames = torch.log(mel + config.log_eps).transpose(1, 2).cpu()
    return [f[:t] for f, t in zip(frames, config.n_frames(n).tolist())]


@functools.cache
def _mel_transform(config: LogMelConfig, device: str) -> torch.nn.Module:
    """torchaudio's MelSpectrogram for ``config`` on ``device``, built once (not once per batch of clips)."""
    import torchaudio  # here, not at the top: ~1 s, and every sslbench command loads this plugin

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        power=2.0,
        center=True,
    ).to(device)


def read_audio_folder(
    root: str | Path,
    config: LogMelConfig | None = None,
    label_set: str = "label",
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> AudioFolder:
    """Read every clip under ``root/<class>/`` into one labeled :class:`AudioSplit`.

    Classes are the first-level folders that hold audio, in sorted order; the
    label ids index ``split.classes[label_set]``.

    Shape:
        Returns split.features (N, Tmax, n_mels), split.lengths (N,),
        split.labels[label_set] (N,).
    """
    config = config or LogMelConfig()
    if batch_size < 1:
        raise ValueError(f"audiofolder option batch_size must be >= 1, got {batch_size}")
    found = scan_audio_folder(root)
    skipped: list[tuple[str, str]] = []
    by_rate: dict[int, list[tuple[int, Tensor]]] = defaultdict(list)
    for i, (path, _) in enumerate(found):
        try:
            wave, rate = read_mono(path, config.max_seconds)
        except (RuntimeError, OSError, ValueError) as err:  # soundfile's errors are RuntimeErrors
            skipped.append((str(path), f"unreadable: {err}".splitlines()[0]))
            continue
        if wave.numel() == 0 or rate <= 0:
            skipped.append((str(path), "empty: no samples"))
        elif not torch.isfinite(wave).all():
            skipped.append((str(path), "non-finite samples"))
        else:
            by_rate[rate].append((i, wave))
    frames: dict[int, Tensor] = {}
    for rate, clips in by_rate.items():
        clips.sort(key=lambda c: len(c[1]))  # similar lengths share a batch: little padding
        for start in range(0, len(clips), batch_size):
            chunk = clips[start : start + batch_size]
            for (i, _), f in zip(chunk, log_mel_batch([w for _, w in chunk], rate, config, device)):
                frames[i] = f
    if not frames:
        raise ValueError(f"audiofolder root {str(root)!r}: none of {len(found)} audio files could be read")
    kept = sorted(frames)
    class_of = [found[i][1] for i in kept]
    classes = sorted(set(class_of))
    features, lengths = pad_sequences([frames[i] for i in kept])
    labels = torch.tensor([classes.index(c) for c in class_of], dtype=torch.long)
    split = AudioSplit(features, lengths, {label_set: labels}, {label_set: classes})
    return AudioFolder(split, [str(found[i][0]) for i in kept], skipped)
