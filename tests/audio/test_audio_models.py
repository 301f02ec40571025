"""Audio transformer: exact subsampled lengths, padding invariance, masked-mean
pooling, frame masking after the front end, presets and their error messages."""

from __future__ import annotations

import pytest
import torch

from sslbench import EncoderOutput, ModelContext

from sslbench_audio.models import (
    PRESETS,
    AudioTransformer,
    AudioTransformerConfig,
    build_audio_transformer,
    create_audio_transformer,
    output_lengths,
)


@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 3), (3, 5), (4, 3)])
def test_output_lengths_match_the_convolution(stride, kernel):
    model = AudioTransformer(4, AudioTransformerConfig(dim=8, depth=1, heads=2, stride=stride, kernel_size=kernel))
    for length in range(1, 30):
        conv_out = model.conv2(model.conv1(torch.zeros(1, 4, length))).shape[-1]
        assert conv_out == output_lengths(torch.tensor([length]), stride).item() == -(-length // stride)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_clip_output_does_not_depend_on_batch_padding(name, batch_factory):
    torch.manual_seed(0)
    model = create_audio_transformer(name, 5).eval()
    batch = batch_factory([23, 7, 1, 12], n_features=5, pad_value=123.0)  # garbage padding
    out = model(batch)
    assert isinstance(out, EncoderOutput) and model.embed_dim == PRESETS[name].dim
    assert out.sequence.shape == (4, 12, model.embed_dim) and out.pooled.shape == (4, model.embed_dim)
    assert out.mask.sum(1).tolist() == [12, 4, 1, 6]
    assert not out.sequence[~out.mask].any()
    for i, length in enumerate([23, 7, 1, 12]):
        alone = model({"features": batch["features"][i : i + 1, :length], "lengths": batch["lengths"][i : i + 1]})
        t = alone.sequence.shape[1]
        assert torch.allclose(alone.sequence[0], out.sequence[i, :t], atol=1e-5)
        assert torch.allclose(alone.pooled[0], out.pooled[i], atol=1e-5)


def test_pooled_is_mean_of_real_frames(batch_factory):
    model = create_audio_transformer("audio-transformer-tiny", 5).eval()
    out = model(batch_factory([9, 4], n_features=5))
    for i in range(2):
        assert torch.allclose(out.pooled[i], out.sequence[i][out.mask[i]].mean(0), atol=1e-6)


def test_gradients_reach_every_parameter(batch_factory):
    model = create_audio_transformer("audio-transformer-tiny", 5)
    batch = batch_factory([9, 4], n_features=5)
    batch["frame_mask"] = torch.tensor([[False, True, True, False, False], [True, False, False, False, False]])
    model(batch).pooled.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for name, p in model.named_parameters()), [
        name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()
    ]


def test_frame_mask_replaces_front_end_outputs_by_the_mask_vector(batch_factory):
    torch.manual_seed(1)
    model = create_audio_transformer("audio-transformer-tiny", 5, dropout=0.0).eval()
    batch = batch_factory([9, 4, 6], n_features=5)
    plain = model(batch)
    none_masked = model({**batch, "frame_mask": torch.zeros(3, 5, dtype=torch.bool)})
    assert torch.equal(plain.sequence, none_masked.sequence)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[0, 1:3] = mask[2, 0] = True
    hidden, lengths = model.embed(batch)
    hidden = hidden.clone()
    hidden[mask] = model.mask_embedding  # by hand: after the front end, before positions
    expected = model.contextualize(hidden, lengths)
    got = model({**batch, "frame_mask": mask})
    assert torch.allclose(got.sequence, expected.sequence, atol=1e-6)
    assert not torch.allclose(got.sequence[0], plain.sequence[0], atol=1e-3)
    # clip 1 has no masked frame, but attends only to itself: unchanged
    assert torch.allclose(got.sequence[1], plain.sequence[1], atol=1e-6)


def test_frame_mask_of_the_wrong_shape_names_the_model_rate(batch_factory):
    model = create_audio_transformer("audio-transformer-tiny", 5)
    batch = batch_factory([9, 4], n_features=5)  # T = 9 → T' = 5
    with pytest.raises(ValueError, match=r"frame_mask: expected a bool tensor of shape \(B, T'\) = \(2, 5\)") as info:
        model({**batch, "frame_mask": torch.zeros(2, 9, dtype=torch.bool)})
    assert "\n" not in str(info.value)


def test_model_spec_build_reads_num_features_from_the_dataset_info():
    ctx = ModelContext(dataset="fsdd-mfcc", modality="audio", info={"num_features": 13})
    model = build_audio_transformer(ctx, PRESETS["audio-transformer-small"])
    assert model.n_features == 13 and model.embed_dim == 128 and model.frame_stride == 2
    with pytest.raises(ValueError, match="info\\['num_features'\\]"):
        build_audio_transformer(ModelContext(dataset="x", modality="audio", info={}), PRESETS["audio-transformer-tiny"])


def test_bad_names_and_options_say_what_is_valid():
    with pytest.raises(ValueError, match="available: audio-transformer-small, audio-transformer-tiny"):
        create_audio_transformer("audio-transformer-huge", 13)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['strid'\].*valid: dim"):
        create_audio_transformer("audio-transformer-tiny", 13, strid=2)
    with pytest.raises(ValueError, match="divisible by heads"):
        AudioTransformerConfig(dim=10, heads=4)
    with pytest.raises(ValueError, match="kernel_size: must be odd"):
        AudioTransformerConfig(kernel_size=4)
    assert create_audio_transformer("audio-transformer-small", 13, stride=1).frame_stride == 1
