"""BYOL's loss against a naive reference, its EMA target, and what trains."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sslbench import EncoderOutput, Modality
from sslbench_example.byol import BYOL, BYOLOptions, normalized_mse


def naive_normalized_mse(p: torch.Tensor, z: torch.Tensor) -> float:
    """Mean over rows of the squared distance between unit vectors, one row at a time."""
    total = 0.0
    for p_row, z_row in zip(p.tolist(), z.tolist()):
        p_norm, z_norm = sum(v * v for v in p_row) ** 0.5, sum(v * v for v in z_row) ** 0.5
        total += sum((a / p_norm - b / z_norm) ** 2 for a, b in zip(p_row, z_row))
    return total / len(p)


def test_normalized_mse_matches_the_naive_reference():
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    assert normalized_mse(p, z).item() == pytest.approx(naive_normalized_mse(p, z), rel=1e-12)
    assert normalized_mse(p, 3 * p).item() == pytest.approx(0.0, abs=1e-12)  # scale-free
    assert normalized_mse(p, -p).item() == pytest.approx(4.0)


def test_no_gradient_flows_into_the_target():
    p, z = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    normalized_mse(p, z).backward()
    assert p.grad is not None and z.grad is None


class Linear(nn.Module):
    embed_dim = 3

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=self.layer(batch["x"]))


class FixedViews(Modality):
    """Deterministic views: the batch and its double."""

    def views(self, batch):
        return batch, {"x": 2 * batch["x"]}


def byol(momentum: float = 0.9) -> BYOL:
    torch.manual_seed(0)
    return BYOL(Linear(), FixedViews(), BYOLOptions(projection_dim=2, hidden_dim=8, momentum=momentum))


def test_the_target_follows_the_online_network_by_ema():
    task = byol(momentum=0.9)
    with torch.no_grad():
        task.encoder.layer.weight.add_(1.0)
    online, before = task.encoder.layer.weight.clone(), task.target_encoder.layer.weight.clone()
    task.update_target()
    assert torch.allclose(task.target_encoder.layer.weight, 0.9 * before + 0.1 * online)
    task.projector[1].running_mean.fill_(0.5)
    task.update_target()
    assert torch.equal(task.target_projector[1].running_mean, task.projector[1].running_mean)


def test_loss_is_the_symmetric_sum_and_only_the_online_network_trains():
    task = byol().eval()  # eval: no EMA step, BatchNorm uses running statistics
    batch = {"x": torch.randn(5, 4)}
    a, b = FixedViews().views(batch)
    p = {k: task.predictor(task.projector(task.encoder(v).pooled)) for k, v in (("a", a), ("b", b))}
    z = {k: task.target_projector(task.target_encoder(v).pooled) for k, v in (("a", a), ("b", b))}
    expected = naive_normalized_mse(p["a"], z["b"]) + naive_normalized_mse(p["b"], z["a"])
    loss = task(batch)["loss"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert task.encoder.layer.weight.grad is not None and task.predictor[0].weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in task.target_encoder.parameters())


def test_training_mode_forward_moves_the_target():
    task = byol(momentum=0.5).train()
    with torch.no_grad():
        task.encoder.layer.weight.mul_(3.0)
    task({"x": torch.randn(5, 4)})
    assert not torch.equal(task.target_encoder.layer.weight, task.encoder.layer.weight / 3.0)


@pytest.mark.parametrize("values, message", [
    ({"momentum": 1.0}, r"^momentum: must be in \[0, 1\)"),
    ({"hidden_dim": 0}, r"^hidden_dim: must be a positive integer"),
])
def test_options_say_what_is_allowed(values, message):
    with pytest.raises(ValueError, match=message):
        BYOLOptions(**values)
