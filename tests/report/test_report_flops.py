"""FLOPs of one training step against the hand count, and the task left as it was."""
import random

import numpy as np
import torch
from torch import nn

from sslbench.flops import budget_flops, count_step_flops

B, IN, HID, OUT = 4, 6, 5, 3


class LinearTask(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, batch):
        return {"loss": self.net(batch["x"]).pow(2).mean()}


def test_one_linear_layer_counts_forward_and_both_backward_products():
    task = LinearTask(nn.Linear(IN, OUT))
    x = torch.randn(B, IN, requires_grad=True)  # input gradient too: backward = 2 × forward
    assert count_step_flops(task, {"x": x}) == (3 * 2 * B * IN * OUT, "")


def test_a_first_layer_without_input_gradient_costs_two_forwards():
    task = LinearTask(nn.Linear(IN, HID), nn.ReLU(), nn.Linear(HID, OUT))
    expected = 2 * (2 * B * IN * HID) + 3 * (2 * B * HID * OUT)  # no grad w.r.t. the data
    assert count_step_flops(task, {"x": torch.randn(B, IN)}).flops == expected
    assert budget_flops(expected, 200) == 200 * expected and budget_flops(None, 200) is None


def test_counting_leaves_gradients_buffers_modes_and_random_state_alone():
    task = LinearTask(nn.Linear(IN, HID), nn.BatchNorm1d(HID), nn.Linear(HID, OUT)).train()
    batch = {"x": torch.randn(B, IN)}
    before = {k: v.clone() for k, v in task.state_dict().items()}
    torch.manual_seed(3), random.seed(3), np.random.seed(3)
    expected = (torch.rand(1), random.random(), np.random.rand())
    torch.manual_seed(3), random.seed(3), np.random.seed(3)
    count = count_step_flops(task, batch)
    assert (torch.rand(1), random.random(), np.random.rand()) == expected
    assert count.flops and all(p.grad is None for p in task.parameters())
    assert all(torch.equal(before[k], v) for k, v in task.state_dict().items())  # BN running stats restored
    assert task.training


def test_random_state_is_restored_after_a_task_that_draws_randomness():
    class Noisy(LinearTask):
        def forward(self, batch):
            return super().forward({"x": batch["x"] + torch.randn_like(batch["x"])})

    task, batch = Noisy(nn.Linear(IN, OUT)), {"x": torch.randn(B, IN)}
    state = torch.get_rng_state()
    assert count_step_flops(task, batch).flops == 2 * B * IN * OUT * 2
    assert torch.equal(torch.get_rng_state(), state)


def test_failures_are_soft_with_a_reason():
    class Broken(nn.Module):
        def forward(self, batch):
            raise RuntimeError("no such key")

    class Frozen(nn.Module):
        def forward(self, batch):
            return {"loss": torch.tensor(1.0)}

    assert count_step_flops(Broken(), {"x": torch.zeros(1)}) == (None, "RuntimeError: no such key")
    assert count_step_flops(Frozen(), {"x": torch.zeros(1)}).reason.startswith("the task's loss does not require grad")
