"""Audio folder reader on synthetic wav/flac/ogg files: classes, resampling, frame
counts, skipped files, and one-line errors for bad folders and options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sslbench_audio.audiofolder import LogMelConfig, log_mel_batch, read_audio_folder


def _tone(freq: float, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """low/ holds 300 Hz tones, high/ 3 kHz tones, at several rates and formats."""
    (tmp_path / "low" / "deeper").mkdir(parents=True)
    (tmp_path / "high").mkdir()
    (tmp_path / "icons").mkdir()  # no audio: not a class
    sf.write(tmp_path / "low" / "a.wav", _tone(300, 8000, 0.5), 8000)
    sf.write(tmp_path / "low" / "deeper" / "b.flac", _tone(300, 22050, 0.3, channels=2), 22050)
    sf.write(tmp_path / "high" / "c.ogg", _tone(3000, 44100, 0.4), 44100, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "high" / "d.WAV", _tone(3000, 16000, 0.25), 16000)
    sf.write(tmp_path / "high" / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (tmp_path / "high" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (tmp_path / "icons" / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "notes.txt").write_text("not audio")
    return tmp_path


def test_reads_classes_frames_and_skips_bad_files(folder):
    result = read_audio_folder(folder, LogMelConfig(n_mels=32), label_set="pitch")
    split = result.split
    assert split.classes["pitch"] == ["high", "low"]
    assert [Path(p).name for p in result.paths] == ["c.ogg", "d.WAV", "a.wav", "b.flac"]
    assert split.labels["pitch"].tolist() == [0, 0, 1, 1]
    assert sorted(Path(p).name for p, _ in result.skipped) == ["broken.wav", "empty.wav"]
    assert dict((Path(p).name, r.split(":")[0]) for p, r in result.skipped) == {
        "broken.wav": "unreadable",
        "empty.wav": "empty",
    }
    # frames: 1 + ceil(n * 16000 / rate) // 160 for n samples at the file's rate
    expected = [1 + -(-n * 16000 // r) // 160 for n, r in [(17640, 44100), (4000, 16000), (4000, 8000), (6615, 22050)]]
    assert split.lengths.tolist() == expected
    assert split.features.shape == (4, max(expected), 32) and torch.isfinite(split.features).all()
    assert not split.features[torch.arange(max(expected)) >= split.lengths[:, None]].any()
    # resampling keeps pitch: the loudest mel band is the same for a tone at any rate
    loudest = [int(split.features[i, 2 : split.lengths[i] - 2].mean(0).argmax()) for i in range(4)]
    assert loudest[0] == loudest[1] and loudest[2] == loudest[3] and loudest[0] > loudest[2] + 5


def test_batched_frames_equal_single_clip_frames_away_from_the_end():
    config = LogMelConfig(n_mels=16)
    short = torch.from_numpy(_tone(500, 16000, 0.2))
    long = torch.from_numpy(_tone(900, 16000, 0.6))
    alone = log_mel_batch([short], 16000, config)[0]
    together = log_mel_batch([short, long], 16000, config)[0]
    assert alone.shape == together.shape == (21, 16)
    edge = config.n_fft // 2 // config.hop_length + 1  # frames whose window reaches past the clip
    assert torch.allclose(alone[:-edge], together[:-edge], atol=1e-4)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "missing", "is not a folder"),
        (lambda p: p, "has no .wav/.flac/.ogg files"),
    ],
)
def test_bad_folders_are_one_line_value_errors(tmp_path, make, message):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "readme.txt").write_text("no audio here")
    with pytest.raises(ValueError, match=message) as info:
        read_audio_folder(make(tmp_path))
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_all_files_unreadable_is_an_error(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "bad.flac").write_bytes(b"fLaC garbage")
    with pytest.raises(ValueError, match="none of 1 audio files could be read"):
        read_audio_folder(tmp_path)


@pytest.mark.parametrize("rate", [0, -16000])
def test_non_positive_sample_rate_names_the_option(rate):
    with pytest.raises(ValueError, match=f"option sample_rate must be a positive integer, got {rate}"):
        LogMelConfig(sample_rate=rate)
