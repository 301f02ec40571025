"""`sslbench.embed_split`: the public way evaluators embed a split, as the runner does."""
from __future__ import annotations

import torch
from torch import nn

from sslbench import EncoderOutput, TensorSplit, embed_split


class RowSum(nn.Module):
    """pooled = x.sum(1) in float64, so the output dtype shows that embed_split casts to float32."""

    def forward(self, batch):
        return EncoderOutput(sequence=None, pooled=batch["x"].double().sum(1, keepdim=True), mask=None)


def test_embeds_every_row_in_order_in_float32_whatever_the_batch_size():
    x = torch.arange(21, dtype=torch.float32).reshape(7, 3)
    split = TensorSplit({"x": x}, finish=lambda b: {"x": b["x"] * 2})
    for batch_size in (1, 3, 7, 100):
        out = embed_split(RowSum(), split, torch.device("cpu"), batch_size)
        assert out.dtype == torch.float32
        assert out.squeeze(1).tolist() == (2 * x.sum(1)).tolist()  # finish applied, order kept
