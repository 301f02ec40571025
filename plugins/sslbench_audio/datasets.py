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
from pathlib import Path

from sslbench import DatasetContext, LoadedDataset, TensorSplit, UsageError, fingerprint, warn_once
from sslbench.data import prepare

from sslbench_audio.audiofolder import KLETTRES_ROOT, AudioFolder, read_audio_folder  # noqa: F401  # re-exported
from sslbench_audio.batching import AudioSplit, stratified_split, train_test_splits, trim_batch
from sslbench_audio.fsdd import fsdd_splits
from sslbench_audio.sources import FSDD_MFCC  # noqa: F401  # torch-free: re-exported
from sslbench_audio.options import (  # noqa: F401  # torch-free: re-exported
    _check_split_options, FSDDOptions, LogMelOptions, AudioFolderOptions, KLettresOptions,
)

log = logging.getLogger(__name__)
SPLIT_SEED = 0  # fixed: every run and every machine sees the same train/test split


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
        warn_once(log, "%s: skipped %d of %d audio files (e.g. %s)", name, len(found.skipped),
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
