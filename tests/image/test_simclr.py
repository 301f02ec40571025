"""NT-Xent against a naive per-pair reference (as lightly tests its loss)."""
import math

import pytest
import torch

from sslbench_image.simclr import concat_batches, nt_xent_loss


def naive_nt_xent(z_a, z_b, temperature):
    """Chen et al. (2020), Algorithm 1, written pair by pair."""
    z = torch.cat([z_a, z_b]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n, b = len(z), len(z_a)
    total = 0.0
    for i in range(n):
        j = (i + b) % n  # the other view of the same sample
        numerator = math.exp(float(z[i] @ z[j]) / temperature)
        denominator = sum(math.exp(float(z[i] @ z[k]) / temperature) for k in range(n) if k != i)
        total += -math.log(numerator / denominator)
    return total / n


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_the_naive_reference(temperature):
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert nt_xent_loss(z_a, z_b, temperature).item() == pytest.approx(naive_nt_xent(z_a, z_b, temperature), rel=1e-5)


def test_nt_xent_is_low_for_matching_views_and_symmetric():
    z = torch.eye(4) * 5
    aligned = nt_xent_loss(z, z, 0.1)
    shuffled = nt_xent_loss(z, z[[1, 2, 3, 0]], 0.1)
    assert aligned < 0.01 < shuffled
    z_a, z_b = torch.randn(5, 3), torch.randn(5, 3)
    assert nt_xent_loss(z_a, z_b, 0.5).item() == pytest.approx(nt_xent_loss(z_b, z_a, 0.5).item(), rel=1e-6)


def test_concat_batches_only_when_shapes_agree():
    a = {"x": torch.zeros(2, 3)}
    assert concat_batches(a, {"x": torch.ones(4, 3)})["x"].shape == (6, 3)
    assert concat_batches(a, {"x": torch.ones(2, 5)}) is None
