"""The ``supervised`` reference task: the encoder trained end to end on the labels.

A linear head on the encoder's pooled output, trained with cross-entropy on the
dataset's labeled ``train`` split under the same optimizer, steps and batch size as
every pretext task of the grid. Its frozen encoder, evaluated by the same
protocols, is the "1" of the leaderboard's normalised score (random init is the
"0"), as in the supervised upper bounds of DABS (Tamkin et al., 2021) and VTAB
(Zhai et al., 2019).

The task trains on the ``train`` split (``TaskSpec.split``); its batches carry the
labels under ``label:<label set>`` keys, so the training loop's sampling (epochs
without replacement, sharding across processes, resume) applies unchanged.

The task keeps its encoder's initial weights (the random init of the cell's seed, outside
its ``state_dict``, so checkpoints are unchanged): an evaluator with a label budget trains
the anchor again from them on the budget's labels only (:mod:`sslbench_eval.budget`).
"""
from __future__ import annotations


from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, TaskContext, TensorSplit, label_key
from sslbench_eval.options import SupervisedOptions  # noqa: F401  # torch-free: re-exported


def class_label_sets(split: TensorSplit) -> list[str]:
    """Names of the split's class label sets: (N,) integer tensors, in declaration order."""
    return [name for name, y in split.labels.items() if y.ndim == 1 and not y.is_floating_point()]


def pick_label_set(split: TensorSplit, wanted: str) -> str:
    """``wanted``, or the first class label set when ``wanted`` is empty; a clear error otherwise."""
    names = class_label_sets(split)
    if not names:
        raise ValueError("supervised: the dataset's train split has no class label set")
    if not wanted:
        return names[0]
    if wanted not in names:
        raise ValueError(f"label_set: {wanted!r} is not a class label set of this dataset; allowed: {', '.join(names)}")
    return wanted


class SupervisedTask(nn.Module):
    """Encoder + linear classifier trained with cross-entropy on one class label set."""

    def __init__(self, encoder: nn.Module, label_set: str, num_classes: int) -> None:
        super().__init__()
        self.encoder, self.label_set = encoder, label_set
        self.head = nn.Linear(encoder.embed_dim, num_classes)
        # plain attributes, not buffers: the checkpoint and the trained state stay as they were
        self.initial_encoder_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
        self.budget_encoders: dict[str, Any] = {}  # budget → (encoder trained on its subset, steps, FLOPs, embeddings)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """``loss`` (cross-entropy) and ``accuracy`` on the labeled batch.

        Shape:
            batch[label_key(label_set)]: (B,) long class ids.
        """
        labels = batch[label_key(self.label_set)]
        logits = self.head(self.encoder(batch).pooled).float()  # (B, C)
        loss = F.cross_entropy(logits, labels)
        with torch.no_grad():
            accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return {"loss": loss, "accuracy": accuracy}


def build_supervised(ctx: TaskContext, options: SupervisedOptions) -> SupervisedTask:
    """The ``supervised`` factory: picks the label set and sizes the head from its classes."""
    train = ctx.dataset.split("train")
    label_set = pick_label_set(train, options.label_set)
    seen = [train.labels[label_set]]
    test = ctx.dataset.split("test")
    if label_set in test.labels:
        seen.append(test.labels[label_set])
    num_classes = int(max(int(y.max()) for y in seen)) + 1
    return SupervisedTask(ctx.encoder, label_set, num_classes)
