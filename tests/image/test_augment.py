"""Batched views: per-sample randomness, identities, and agreement with torchvision."""
import dataclasses

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslbench_image import augment
from sslbench_image.modality import ImageModality, ImageViewOptions


def test_full_box_crop_is_the_identity():
    images = torch.rand(3, 2, 8, 8)
    boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0]] * 3)
    out = augment.resized_crop(images, boxes, sampling_ratio=1)
    assert torch.allclose(out, images, atol=1e-6)


def test_crop_matches_torchvision_resized_crop_on_integer_boxes():
    """A 4×4 box scaled to 8×8 agrees with v2.functional.resized_crop (bilinear) away from borders."""
    image = torch.rand(1, 1, 8, 8)
    ours = augment.resized_crop(image, torch.tensor([[2.0, 2.0, 6.0, 6.0]]), sampling_ratio=1)
    theirs = TF.resized_crop(image, top=2, left=2, height=4, width=4, size=[8, 8], antialias=False)
    assert torch.allclose(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1], atol=1e-5)


def test_crop_boxes_follow_the_scale_and_ratio_ranges():
    g = torch.Generator().manual_seed(0)
    boxes = augment.crop_boxes(4000, 32, 32, (0.2, 1.0), (3 / 4, 4 / 3), g)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 32 + 1e-4).all() and (boxes[:, 3] <= 32 + 1e-4).all()
    area = w * h / 1024
    assert area.min() >= 0.2 * 0.7 and area.max() <= 1.0 + 1e-4  # shrunk-to-fit boxes may lose some area
    assert 0.45 < area.mean() < 0.65  # ≈ mean of U(0.2, 1), a little less after shrinking


def test_each_image_gets_its_own_crop():
    images = torch.rand(1, 1, 16, 16).expand(64, 1, 16, 16).contiguous()
    out = augment.random_resized_crop(images, torch.Generator().manual_seed(1), scale=(0.2, 0.5))
    distinct = {tuple(o.flatten().round(decimals=4).tolist()) for o in out}
    assert len(distinct) > 60


def test_hflip_flips_about_half_and_exactly():
    images = torch.rand(400, 1, 4, 4)
    out = augment.random_hflip(images, torch.Generator().manual_seed(0))
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    kept = (out == images).flatten(1).all(1)
    assert (flipped | kept).all() and 150 < int(flipped.sum()) < 250


def test_jitter_brightness_matches_torchvision_per_image():
    images = torch.rand(8, 3, 5, 5)
    g = torch.Generator().manual_seed(3)
    out = augment.color_jitter(images, g, brightness=0.5, contrast=0.0, saturation=0.0, p=1.0)
    g = torch.Generator().manual_seed(3)
    torch.rand(8, generator=g)  # the apply-coin draws
    factors = torch.rand(8, generator=g) * 1.0 + 0.5
    for img, f, o in zip(images, factors, out):
        assert torch.allclose(o, TF.adjust_brightness(img, float(f)), atol=1e-6)


def test_contrast_matches_torchvision():
    images = torch.rand(4, 3, 6, 6)
    g = torch.Generator().manual_seed(5)
    out = augment.color_jitter(images, g, brightness=0.0, contrast=0.6, saturation=0.0, p=1.0)
    g = torch.Generator().manual_seed(5)
    torch.rand(4, generator=g), torch.rand(4, generator=g)  # coins, brightness factors (all 1)
    factors = torch.rand(4, generator=g) * 1.2 + 0.4
    for img, f, o in zip(images, factors, out):
        assert torch.allclose(o, TF.adjust_contrast(img, float(f)), atol=1e-5)


def test_blur_preserves_constant_images_and_smooths_noise():
    const = torch.full((2, 1, 16, 16), 0.3)
    assert torch.allclose(augment.gaussian_blur(const, None, 5, p=1.0), const, atol=1e-6)
    noise = torch.rand(2, 1, 16, 16)
    assert augment.gaussian_blur(noise, None, 5, sigma=(1.5, 1.5), p=1.0).std() < noise.std() * 0.7


def test_views_stay_in_range_and_differ():
    modality = ImageModality({"image_size": 32, "channels": 3}, ImageViewOptions())
    batch = {"image": torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))}
    a, b = modality.views(batch)
    assert a["image"].shape == b["image"].shape == (16, 3, 32, 32)
    # grey and blur are weighted means of values in [0, 1]: in range up to float32 rounding
    assert -1e-6 <= a["image"].min() and a["image"].max() <= 1 + 1e-6
    assert not torch.allclose(a["image"], b["image"])


def test_auto_settings_follow_image_size_and_dataset_facts():
    small = ImageModality({"image_size": 8, "hflip_invariant": False}, ImageViewOptions())
    large = ImageModality({"image_size": 128}, ImageViewOptions())
    assert small.crop_scale == (0.5, 1.0) and not small.flip and small.blur_kernel == 0 and small.hue == 0
    assert large.crop_scale == (0.2, 1.0) and large.flip and large.blur_kernel == 13 and large.hue == 0


@pytest.mark.parametrize("side", [32, 64, 96])
def test_views_from_32_to_96_px_follow_simclrs_cifar_recipe(side):
    """SimCLR on CIFAR-10 (Chen et al., 2020, B.9; the authors' command: --use_blur=False
    --color_jitter_strength=0.5): Inception crop (0.08, 1), jitter 0.8·s / hue 0.2·s, no blur."""
    modality = ImageModality({"image_size": side}, ImageViewOptions())
    assert modality.crop_scale == (0.08, 1.0) and modality.blur_kernel == 0 and modality.flip
    assert modality.jitter == 0.5 and modality.hue == pytest.approx(0.1) and modality.jitter_prob == 0.8
    assert modality.grayscale_prob == 0.2
    assert ImageModality({"image_size": side}, ImageViewOptions(hue=0.0, blur="on")).blur_kernel > 0
    # the views really shift hue: with everything else off, pixels change but grey levels' ordering of V stays
    off = ImageViewOptions(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip="off", jitter=0.0, hue=0.1,
                           jitter_prob=1.0, grayscale_prob=0.0)
    images = torch.rand(8, 3, side, side, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    view = ImageModality({"image_size": side}, off).augment(images)
    torch.manual_seed(0)
    plain = ImageModality({"image_size": side}, dataclasses.replace(off, hue=0.0)).augment(images)
    assert not torch.allclose(view, plain, atol=1e-3)
    assert torch.allclose(view.amax(dim=1), plain.amax(dim=1), atol=1e-5)  # a hue rotation keeps HSV's V


def test_hue_shift_matches_torchvision_adjust_hue_per_image():
    images = torch.rand(6, 3, 7, 5, generator=torch.Generator().manual_seed(2))
    images[0] = 0.4  # grey: no hue to rotate
    images[1, :, 0, 0] = torch.tensor([1.0, 1.0, 0.0])  # ties between channels
    shifts = torch.tensor([0.3, -0.5, 0.5, -0.1, 0.0, 0.25])
    out = augment.shift_hue(images, shifts)
    for img, shift, o in zip(images, shifts, out):
        assert torch.allclose(o, TF.adjust_hue(img, float(shift)), atol=1e-5)
    g = torch.Generator().manual_seed(7)
    jittered = augment.color_jitter(images, g, brightness=0.0, contrast=0.0, saturation=0.0, p=1.0, hue=0.1)
    g = torch.Generator().manual_seed(7)
    torch.rand(6, generator=g), torch.rand(6, generator=g), torch.rand(6, generator=g), torch.rand(6, generator=g)
    factors = torch.rand(6, generator=g) * 0.2 - 0.1  # after the coins and the b, c, s factors (all 1)
    for img, f, o in zip(images, factors, jittered):
        assert torch.allclose(o, TF.adjust_hue(img, float(f)), atol=1e-5)


def test_option_validation():
    with pytest.raises(ValueError, match="crop_scale"):
        ImageViewOptions(crop_scale=(0.9, 0.1))
