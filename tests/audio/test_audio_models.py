"""Audio transformer: exact subsampled lengths, padding invariance, masked-mean
pooling, presets and their error messages."""

from __future__ import annotations

import pytest
import torch

from sslbench_audio.models import (
    PRESETS,
    AudioTransformer,
    AudioTransformerConfig,
    EncoderOutput,
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
    model(batch_factory([9, 4], n_features=5)).pooled.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_names_and_options_say_what_is_valid():
    with pytest.raises(ValueError, match="available: audio-transformer-small, audio-transformer-tiny"):
        create_audio_transformer("audio-transformer-huge", 13)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['strid'\].*valid: dim"):
        create_audio_transformer("audio-transformer-tiny", 13, strid=2)
    with pytest.raises(ValueError, match="divisible by heads"):
        AudioTransformerConfig(dim=10, heads=4)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        AudioTransformerConfig(kernel_size=4)
    assert create_audio_transformer("audio-transformer-small", 13, stride=1).stride == 1
