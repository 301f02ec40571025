"""BERT pretext tasks: masked language modelling, next-sentence prediction, both.

Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", §3.1: the pretraining loss is the sum of the mean masked-LM
cross-entropy and the mean next-sentence cross-entropy.

Heads are ``transformers``' own modules, so the maths is BERT's:
``BertLMPredictionHead`` (dense → GELU → LayerNorm → decoder whose weight is tied to
the input word embeddings, plus an output bias), ``BertPooler`` (dense + tanh on
``[CLS]``) and a 2-way ``seq_relationship`` linear layer. Parameter names mirror
``BertForPreTraining`` (``cls.predictions…``, ``cls.seq_relationship…``), with the
pooler under ``pooler`` (in HF it sits in ``bert.pooler``), so weights move across
with a key rename. NSP always reads ``[CLS]`` through the pooler, whatever pooling the
encoder uses for its ``pooled`` output.

The encoder must be a ``BertTextEncoder`` (or expose ``config: BertConfig`` and
``word_embeddings``). Batches either arrive clean (the task masks with
``masking.mask_tokens``) or pre-masked with ``mlm_labels`` (then ``input_ids`` are
taken as already corrupted). MLM logits are computed at masked positions only; the
mean loss is the same as HF's loss over all positions with ``ignore_index=-100``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.models.bert.modeling_bert import (
    BertLMPredictionHead,
    BertOnlyMLMHead,
    BertOnlyNSPHead,
    BertPooler,
    BertPreTrainingHeads,
)

from .masking import IGNORE_INDEX, mask_tokens
from .models import BertTextEncoder

Batch = dict[str, Tensor]


class _Masker(nn.Module):
    """Holds the MLM masking settings of a task (no parameters)."""

    def __init__(
        self,
        mask_token_id: int,
        vocab_size: int,
        special_ids: Sequence[int],
        mlm_probability: float,
        mask_replace_prob: float,
        random_replace_prob: float,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        self.kwargs = {
            "mask_token_id": mask_token_id,
            "vocab_size": vocab_size,
            "special_ids": list(special_ids),
            "mlm_probability": mlm_probability,
            "mask_replace_prob": mask_replace_prob,
            "random_replace_prob": random_replace_prob,
        }
        self.generator = generator
        # fail at construction, not at the first batch
        mask_tokens(torch.zeros(1, 1, dtype=torch.long), **self.kwargs)

    def forward(self, batch: Batch) -> tuple[Batch, Tensor]:
        if "mlm_labels" in batch:
            return batch, batch["mlm_labels"]
        corrupted, labels = mask_tokens(
            batch["input_ids"], attention_mask=batch["attention_mask"], generator=self.generator, **self.kwargs
        )
        return {**batch, "input_ids": corrupted}, labels


def _init_like_bert(module: nn.Module, std: float) -> None:
    """BERT's initialisation: N(0, std) linear weights, zero biases, unit LayerNorm."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, BertLMPredictionHead):
            nn.init.zeros_(sub.bias)


def _tie_decoder(predictions: BertLMPredictionHead, encoder: BertTextEncoder) -> None:
    """Share the decoder weight with the word embeddings and its bias with ``predictions.bias`` (as BERT)."""
    predictions.decoder.weight = encoder.word_embeddings.weight
    predictions.decoder.bias = predictions.bias


def _mlm_terms(predictions: nn.Module, sequence: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy and top-1 accuracy over labelled positions.

    Shape:
        sequence: (B, T, D), labels: (B, T) long with -100 where unlabelled → two scalars
    """
    selected = labels != IGNORE_INDEX
    if not bool(selected.any()):  # keep the graph connected; nothing to predict in this batch
        zero = sequence.sum() * 0.0
        return zero, zero.detach()
    logits = predictions(sequence[selected])  # (N, V)
    targets = labels[selected]
    loss = F.cross_entropy(logits.float(), targets)
    accuracy = (logits.argmax(-1) == targets).float().mean()
    return loss, accuracy


def _nsp_terms(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Shape: logits (B, 2), labels (B,) long → two scalars."""
    loss = F.cross_entropy(logits.float(), labels)
    return loss, (logits.argmax(-1) == labels).float().mean()


class MLMTask(nn.Module):
    """Masked language modelling with BERT's MLM head (decoder tied to the embeddings).

    Returns ``{"loss", "mlm_loss", "mlm_acc"}``; ``mlm_acc`` is top-1 accuracy over
    the masked positions of the batch.
    """

    def __init__(
        self,
        encoder: BertTextEncoder,
        *,
        mask_token_id: int,
        special_ids: Sequence[int],
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.cls = BertOnlyMLMHead(encoder.config)
        _init_like_bert(self.cls, encoder.config.initializer_range)
        _tie_decoder(self.cls.predictions, encoder)
        self.masker = _Masker(
            mask_token_id, encoder.config.vocab_size, special_ids, mlm_probability,
            mask_replace_prob, random_replace_prob, generator,
        )

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) → scalars."""
        batch, labels = self.masker(batch)
        loss, accuracy = _mlm_terms(self.cls.predictions, self.encoder(batch).sequence, labels)
        return {"loss": loss, "mlm_loss": loss.detach(), "mlm_acc": accuracy}

    def logits(self, sequence: Tensor) -> Tensor:
        """Vocabulary logits for encoder features. Shape: (..., D) → (..., V)."""
        return self.cls.predictions(sequence)


class NSPTask(nn.Module):
    """Next-sentence prediction: tanh pooler on ``[CLS]``, then a 2-way linear layer.

    Needs ``next_sentence_label`` (0 = B continues A). Returns
    ``{"loss", "nsp_loss", "nsp_acc"}``.
    """

    def __init__(self, encoder: BertTextEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooler = BertPooler(encoder.config)
        self.cls = BertOnlyNSPHead(encoder.config)
        _init_like_bert(self.pooler, encoder.config.initializer_range)
        _init_like_bert(self.cls, encoder.config.initializer_range)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) with next_sentence_label (B,) → scalars."""
        logits = self.cls(self.pooler(self.encoder(batch).sequence))
        loss, accuracy = _nsp_terms(logits, batch["next_sentence_label"])
        return {"loss": loss, "nsp_loss": loss.detach(), "nsp_acc": accuracy}


class MLMNSPTask(nn.Module):
    """BERT pretraining: MLM loss + NSP loss on the same pair batch, one encoder pass.

    Returns ``{"loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc"}``.
    """

    def __init__(
        self,
        encoder: BertTextEncoder,
        *,
        mask_token_id: int,
        special_ids: Sequence[int],
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooler = BertPooler(encoder.config)
        self.cls = BertPreTrainingHeads(encoder.config)
        _init_like_bert(self.pooler, encoder.config.initializer_range)
        _init_like_bert(self.cls, encoder.config.initializer_range)
        _tie_decoder(self.cls.predictions, encoder)
        self.masker = _Masker(
            mask_token_id, encoder.config.vocab_size, special_ids, mlm_probability,
            mask_replace_prob, random_replace_prob, generator,
        )

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) with next_sentence_label (B,) → scalars."""
        batch, labels = self.masker(batch)
        sequence = self.encoder(batch).sequence
        mlm_loss, mlm_acc = _mlm_terms(self.cls.predictions, sequence, labels)
        nsp_logits = self.cls.seq_relationship(self.pooler(sequence))
        nsp_loss, nsp_acc = _nsp_terms(nsp_logits, batch["next_sentence_label"])
        return {
            "loss": mlm_loss + nsp_loss,
            "mlm_loss": mlm_loss.detach(),
            "nsp_loss": nsp_loss.detach(),
            "mlm_acc": mlm_acc,
            "nsp_acc": nsp_acc,
        }

    def logits(self, sequence: Tensor) -> Tensor:
        """Vocabulary logits for encoder features. Shape: (..., D) → (..., V)."""
        return self.cls.predictions(sequence)
