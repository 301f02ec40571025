"""SimCLR-style augmentations on whole batches, with per-sample random parameters.

torchvision's v2 transforms draw ONE set of random parameters per call, so applying
``v2.RandomResizedCrop`` to a (B, C, H, W) tensor crops every image identically;
contrastive learning needs each image cropped differently. Calling a v2 transform
per image is a Python loop per sample. Here each augmentation draws its parameters
for all B images at once and applies them in a few batched tensor operations
(``torchvision.ops.roi_align`` for crop-and-resize, broadcasting for colour), on
whatever device the batch lives. The parameter ranges follow torchvision's
``RandomResizedCrop``, ``ColorJitter``, ``RandomGrayscale`` and ``GaussianBlur`` and
SimCLR's recipe (Chen et al., 2020, appendix A).

All functions take images in [0, 1], shape (B, C, H, W), and a ``torch.Generator``
(or None for torch's global generator, which the runner seeds and checkpoints)
on the CPU; random draws happen on the CPU (cheap, B numbers each) and move to the
images' device.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# torchvision is imported inside the two functions that use it: it costs ~2 s (it pulls in
# torch._dynamo), and every sslbench command (list, data, a config error) loads this plugin.


def uniform(low: float, high: float, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """n draws from U(low, high) made on the CPU generator, returned on ``device``. Shape: (n,)."""
    return (torch.rand(n, generator=generator) * (high - low) + low).to(device)


def coin(p: float, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """n Bernoulli(p) draws as bool. Shape: (n,)."""
    return (torch.rand(n, generator=generator) < p).to(device)


def crop_boxes(
    n: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator | None
) -> Tensor:
    """Random crop boxes as ``RandomResizedCrop`` samples them, vectorised.

    Area fraction ~ U(scale), log aspect ratio ~ U(log ratio). torchvision retries up
    to 10 times when the box does not fit and then falls back to a centre crop; here a
    box that does not fit is shrunk to fit instead (one draw, no loop).

    Shape:
        returns (n, 4) float boxes ``x0, y0, x1, y1`` in pixel coordinates.
    """
    area = torch.empty(n).uniform_(*scale, generator=generator) * height * width
    log_r = torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(1.0, width)
    h = torch.sqrt(area / aspect).clamp(1.0, height)
    x0 = torch.rand(n, generator=generator) * (width - w)
    y0 = torch.rand(n, generator=generator) * (height - h)
    return torch.stack([x0, y0, x0 + w, y0 + h], dim=1)


def resized_crop(images: Tensor, boxes: Tensor, sampling_ratio: int = 2) -> Tensor:
    """Crop each image to its box and resize back to (H, W) with bilinear sampling.

    Shape:
        images: (B, C, H, W); boxes: (B, 4) ``x0, y0, x1, y1``; returns (B, C, H, W).
    """
    b, _, h, w = images.shape
    rois = torch.cat([torch.arange(b, dtype=boxes.dtype).unsqueeze(1), boxes], dim=1).to(images)
    from torchvision.ops import roi_align

    return roi_align(images, rois, output_size=(h, w), spatial_scale=1.0, sampling_ratio=sampling_ratio, aligned=True)


def random_resized_crop(
    images: Tensor, generator: torch.Generator | None, scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Tensor:
    """``RandomResizedCrop`` with a different crop per image. Shape: (B, C, H, W) → same."""
    b, _, h, w = images.shape
    return resized_crop(images, crop_boxes(b, h, w, scale, ratio, generator))


def random_hflip(images: Tensor, generator: torch.Generator | None, p: float = 0.5) -> Tensor:
    """Mirror each image left-right with probability p. Shape: (B, C, H, W) → same."""
    flip = coin(p, len(images), generator, images.device).view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(-1), images)


def grayscale(images: Tensor) -> Tensor:
    """ITU-R 601-2 luma (torchvision's own). Shape: (B, C, H, W) → (B, 1, H, W)."""
    if images.shape[1] == 1:
        return images
    from torchvision.transforms.v2.functional import rgb_to_grayscale

    return rgb_to_grayscale(images, num_output_channels=1)


def color_jitter(
    images: Tensor, generator: torch.Generator | None, brightness: float, contrast: float, saturation: float, p: float = 0.8,
    hue: float = 0.0,
) -> Tensor:
    """Per-image brightness, contrast and saturation factors from U(1−s, 1+s), and a hue shift from U(−hue, hue).

    Blends as torchvision's ``adjust_*`` functionals do (contrast towards the image's
    mean grey level, saturation towards its grey image, hue as a rotation of HSV's H by
    a fraction of the colour wheel). Each image is jittered with probability p; the order
    is fixed (b, c, s, h) where torchvision's ``ColorJitter`` permutes it per call.
    ``hue = 0`` skips the HSV round trip (and draws nothing for it).

    Shape:
        (B, C, H, W) → same.
    """
    b, dev = len(images), images.device
    out = images
    apply = coin(p, b, generator, dev).view(-1, 1, 1, 1)
    factor = uniform(max(0.0, 1 - brightness), 1 + brightness, b, generator, dev).view(-1, 1, 1, 1)
    out = (out * factor).clamp(0, 1)
    factor = uniform(max(0.0, 1 - contrast), 1 + contrast, b, generator, dev).view(-1, 1, 1, 1)
    mean = grayscale(out).mean(dim=(1, 2, 3), keepdim=True)
    out = (factor * out + (1 - factor) * mean).clamp(0, 1)
    if images.shape[1] == 3:
        factor = uniform(max(0.0, 1 - saturation), 1 + saturation, b, generator, dev).view(-1, 1, 1, 1)
        out = (factor * out + (1 - factor) * grayscale(out)).clamp(0, 1)
        if hue > 0:
            out = shift_hue(out, uniform(-hue, hue, b, generator, dev))
    return torch.where(apply, out, images)


def shift_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate each RGB image's hue by ``shift`` (a fraction of the colour wheel, per image).

    RGB → HSV as torchvision (and PIL) compute it, H += shift mod 1, then HSV → RGB by
    the closed form ``v − v·s·clamp(min(k, 4 − k), 0, 1)``, ``k = (n + 6h) mod 6`` with
    n = 5, 3, 1 for R, G, B. Written out because torchvision's ``adjust_hue`` takes one
    factor per call.

    Shape:
        images (B, 3, H, W) in [0, 1], shift (B,) → (B, 3, H, W).
    """
    r, g, b = images.unbind(1)
    v, low = images.amax(dim=1), images.amin(dim=1)
    chroma = v - low
    s = torch.where(v > 0, chroma / v.clamp_min(1e-12), torch.zeros_like(v))
    c = chroma.clamp_min(1e-12)
    h = torch.where(v == r, (g - b) / c, torch.where(v == g, (b - r) / c + 2.0, (r - g) / c + 4.0))
    h = torch.where(chroma > 0, h, torch.zeros_like(h))
    h = (h / 6.0 + shift.view(-1, 1, 1)).remainder(1.0)
    n = torch.tensor([5.0, 3.0, 1.0], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    k = (n + 6.0 * h.unsqueeze(1)).remainder(6.0)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def random_grayscale(images: Tensor, generator: torch.Generator | None, p: float = 0.2) -> Tensor:
    """Replace each RGB image by its grey version (kept 3-channel) with probability p."""
    if images.shape[1] == 1:
        return images
    grey = grayscale(images).expand_as(images)
    return torch.where(coin(p, len(images), generator, images.device).view(-1, 1, 1, 1), grey, images)


def gaussian_blur(
    images: Tensor, generator: torch.Generator | None, kernel_size: int, sigma: tuple[float, float] = (0.1, 2.0), p: float = 0.5
) -> Tensor:
    """Blur each image with its own σ ~ U(sigma), with probability p.

    A separable Gaussian of odd ``kernel_size`` applied as a grouped convolution: one
    group per (image, channel), so every image gets its own kernel in one call.

    Shape:
        (B, C, H, W) → same.
    """
    b, c, h, w = images.shape
    if kernel_size % 2 == 0 or kernel_size < 3:
        raise ValueError(f"kernel_size must be odd and >= 3, got {kernel_size}")
    sig = uniform(*sigma, b, generator, images.device)
    x = torch.arange(kernel_size, device=images.device, dtype=images.dtype) - kernel_size // 2
    kernel = torch.exp(-(x**2) / (2 * sig.view(-1, 1) ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, k)
    pad = kernel_size // 2
    flat = F.pad(images.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)
    flat = F.conv2d(flat, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)
    blurred = flat.view(b, c, h, w)
    return torch.where(coin(p, b, generator, images.device).view(-1, 1, 1, 1), blurred, images)
