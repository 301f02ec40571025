"""Views: crops are contiguous and keep lengths right, masks stay inside clips,
frequency masks follow torchaudio's distribution, padding stays zero."""

from __future__ import annotations

import pytest
import torch

from sslbench_audio.views import (
    ViewConfig,
    add_noise,
    augment,
    frequency_mask,
    random_crop,
    random_gain,
    time_mask,
    two_views,
)

LENGTHS = [20, 5, 1, 13]


def _padding(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return features[torch.arange(features.shape[1]) >= lengths[:, None]]


def test_crop_is_a_contiguous_slice_with_right_lengths(batch_factory):
    batch = batch_factory(LENGTHS)
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        cropped, lengths = random_crop(batch["features"], batch["lengths"], 0.6, g)
        assert cropped.shape[1] == int(lengths.max())
        assert not _padding(cropped, lengths).any()
        for i, (old, new) in enumerate(zip(LENGTHS, lengths.tolist())):
            assert max(1, round(0.6 * old)) <= new <= old
            piece = cropped[i, :new]
            starts = [s for s in range(old - new + 1) if torch.equal(batch["features"][i, s : s + new], piece)]
            assert starts, "crop is not a contiguous slice of the clip"


def test_time_mask_stays_inside_each_clip_and_respects_width():
    lengths = torch.tensor(LENGTHS)
    ones = (torch.arange(20) < lengths[:, None]).float()[..., None].expand(-1, -1, 3).contiguous()
    g = torch.Generator().manual_seed(1)
    widths = []
    for _ in range(300):
        masked = time_mask(ones, lengths, 0.3, g)
        zeroed = (masked[..., 0] == 0) & (torch.arange(20) < lengths[:, None])
        widths.append(zeroed.sum(1))
        assert (zeroed.sum(1) <= (0.3 * lengths).floor()).all()
    mean_width = torch.stack(widths).float().mean(0)
    assert mean_width[0] > 2.0  # a 20-frame clip loses ~2.5 frames on average, short clips in a long batch too
    assert mean_width[3] > 1.2


def test_frequency_mask_distribution_matches_torchaudio():
    import torchaudio

    n, f, param = 20000, 13, 4
    ones = torch.ones(n, 2, f)  # (B, T, F)
    ours = (frequency_mask(ones, param, torch.Generator().manual_seed(2))[:, 0] == 0).float()
    torch.manual_seed(2)
    peer = torchaudio.transforms.FrequencyMasking(param, iid_masks=True)(torch.ones(n, 1, f, 2))
    peer = (peer[:, 0, :, 0] == 0).float()
    width_ours = torch.bincount(ours.sum(1).long(), minlength=param + 1).float() / n
    width_peer = torch.bincount(peer.sum(1).long(), minlength=param + 1).float() / n
    assert torch.allclose(width_ours, width_peer, atol=0.015)
    assert torch.allclose(ours.mean(0), peer.mean(0), atol=0.015)


def test_gain_and_noise_touch_only_real_frames(batch_factory):
    batch = batch_factory(LENGTHS)
    features, lengths = batch["features"], batch["lengths"]
    g = torch.Generator().manual_seed(3)
    gained = random_gain(features, lengths, 0.5, g)
    offset = gained - features
    for i, length in enumerate(LENGTHS):
        assert torch.allclose(offset[i, :length], offset[i, 0, 0].expand(length, 5))
        assert abs(offset[i, 0, 0]) <= 0.5
    assert not _padding(offset, lengths).any()
    noisy = add_noise(features, lengths, 0.1, g)
    assert not _padding(noisy, lengths).any()
    assert (noisy - features)[0, :20].std().item() == pytest.approx(0.1, rel=0.3)


def test_two_views_differ_and_are_reproducible(batch_factory):
    batch = batch_factory(LENGTHS, pad_value=0.0)
    a1, a2 = two_views(batch, generator=torch.Generator().manual_seed(4))
    b1, b2 = two_views(batch, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a1["features"], b1["features"]) and torch.equal(a2["features"], b2["features"])
    assert not torch.equal(a1["features"][0, :10], a2["features"][0, :10])
    for view in (a1, a2):
        assert view["features"].shape[1] == int(view["lengths"].max())
        assert not _padding(view["features"], view["lengths"]).any()
        assert (view["lengths"] <= batch["lengths"]).all() and (view["lengths"] >= 1).all()


def test_bad_view_options_name_the_option():
    with pytest.raises(ValueError, match="crop_min: must be in \\(0, 1\\]"):
        ViewConfig(crop_min=0.0)
    with pytest.raises(ValueError, match="noise_std: must be >= 0"):
        ViewConfig(noise_std=-1.0)
    assert augment({"features": torch.zeros(1, 3, 2), "lengths": torch.tensor([3])})["features"].shape[2] == 2
