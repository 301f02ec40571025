"""BERT pretext tasks: masked language modelling, next-sentence prediction, both.

Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", §3.1: the pretraining loss is the sum of the mean masked-LM
cross-entropy and the mean next-sentence cross-entropy.

The tasks are written against capabilities, not against BERT internals:

* ``mlm`` needs ``tokens`` (the modality's ``tokens(batch) -> (ids, maskable)``,
  ``with_tokens``, ``vocab_size``, ``mask_token_id``), ``token-embeddings`` (the
  encoder's ``token_embeddings()`` (V, D), to tie the decoder to) and ``sequence``;
  so it runs on item sequences as well (BERT4Rec, Sun et al., 2019).
* ``nsp`` needs ``sentence-pairs`` (batches with ``next_sentence_label``, from the
  dataset's ``pretrain-pairs`` split) and ``sequence``; it reads position 0 ([CLS]).

Heads are ``transformers``' own modules, so the maths is BERT's:
``BertOnlyMLMHead`` (dense → GELU → LayerNorm → decoder tied to the token embeddings,
plus an output bias), ``BertPooler`` (dense + tanh on [CLS]) and the 2-way
``seq_relationship`` layer, each built from a ``BertConfig`` that holds only the
encoder's width and vocabulary size. Parameter names mirror ``BertForPreTraining``
(``cls.predictions…``, ``cls.seq_relationship…``; the pooler sits under ``pooler``,
in HF under ``bert.pooler``), so weights move across with a key rename.

Batches arrive clean (the task masks them, drawing from torch's global generator so
that the runner can checkpoint it) or pre-masked with ``mlm_labels`` (then
``input_ids`` are taken as already corrupted). MLM logits are computed at masked
positions only; the mean loss equals HF's loss over all positions with
``ignore_index=-100``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch.nn.functional as F
from torch import Tensor, nn

from sslbench import Batch, Modality, TaskContext, distributed

from .masking import IGNORE_INDEX, mask_tokens
from sslbench_text.options import MLMOptions, NSPOptions, MLMNSPOptions  # noqa: F401  # torch-free: re-exported

# transformers is imported where a module is built, not here: it costs ~1.5 s, and every
# sslbench command (list, data, a config error) loads this plugin.
if TYPE_CHECKING:
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLMPredictionHead


def head_config(encoder: nn.Module, vocab_size: int, options: MLMOptions | NSPOptions) -> BertConfig:
    """A ``BertConfig`` that sizes transformers' head modules to ``encoder`` (width D, vocabulary V)."""
    from transformers import BertConfig

    return BertConfig(
        hidden_size=encoder.embed_dim, vocab_size=vocab_size, hidden_act="gelu",
        layer_norm_eps=getattr(options, "layer_norm_eps", 1e-12), initializer_range=options.init_std,
    )


def tie_decoder(predictions: BertLMPredictionHead, encoder: nn.Module) -> None:
    """Share the decoder weight with ``encoder.token_embeddings()`` and its bias with ``predictions.bias``."""
    weight = encoder.token_embeddings().weight
    if tuple(weight.shape) != tuple(predictions.decoder.weight.shape):
        raise ValueError(f"token_embeddings() is {tuple(weight.shape)}, the MLM decoder needs "
                         f"{tuple(predictions.decoder.weight.shape)} (vocabulary × encoder width)")
    predictions.decoder.weight = weight
    predictions.decoder.bias = predictions.bias


def init_like_bert(module: nn.Module, std: float) -> None:
    """BERT's initialisation: N(0, std) linear weights, zero biases, unit LayerNorm."""
    from transformers.models.bert.modeling_bert import BertLMPredictionHead

    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, BertLMPredictionHead):
            nn.init.zeros_(sub.bias)


class Masker(nn.Module):
    """BERT 80/10/10 corruption through the ``tokens`` capability (no parameters)."""

    def __init__(self, modality: Modality, options: MLMOptions) -> None:
        super().__init__()
        self.modality = modality
        self.kwargs = {
            "mask_token_id": modality.mask_token_id, "vocab_size": modality.vocab_size, "special_ids": (),
            "mlm_probability": options.mlm_probability, "mask_replace_prob": options.mask_replace_prob,
            "random_replace_prob": options.random_replace_prob,
        }

    def forward(self, batch: Batch) -> tuple[Batch, Tensor]:
        """Corrupted batch and labels (original id where chosen, -100 elsewhere).

        Shape:
            batch (B, T) → same batch, labels (B, T) long
        """
        if "mlm_labels" in batch:
            return batch, batch["mlm_labels"]
        ids, maskable = self.modality.tokens(batch)
        corrupted, labels = mask_tokens(ids, attention_mask=maskable, generator=None, **self.kwargs)
        return self.modality.with_tokens(batch, corrupted), labels


def mlm_terms(predictions: nn.Module, sequence: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy (over every rank's labelled positions) and this rank's top-1 accuracy.

    Shape:
        sequence: (B, T, D), labels: (B, T) long with -100 where unlabelled → two scalars
    """
    selected = labels != IGNORE_INDEX
    if not bool(selected.any()):  # keep the graph connected; nothing to predict in this batch
        zero = sequence.sum() * 0.0  # still through global_mean: under DDP every rank joins its all-reduce
        return distributed.global_mean(zero, 0), zero.detach()
    logits = predictions(sequence[selected])  # (N, V)
    targets = labels[selected]
    # sum over this rank's masked tokens / count over all ranks: ranks mask different numbers of
    # tokens, so a per-rank mean would weight them unequally (the one-process loss is the reference)
    loss = distributed.global_mean(F.cross_entropy(logits.float(), targets, reduction="sum"), selected.sum())
    accuracy = (logits.argmax(-1) == targets).float().mean()
    return loss, accuracy


def nsp_terms(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy and accuracy of IsNext (0) / NotNext (1). Shape: logits (B, 2), labels (B,) → scalars."""
    loss = F.cross_entropy(logits.float(), labels)
    return loss, (logits.argmax(-1) == labels).float().mean()


class MLMTask(nn.Module):
    """Masked language modelling with BERT's MLM head (decoder tied to the token embeddings).

    Returns ``{"loss", "mlm_loss", "mlm_acc"}``; ``mlm_acc`` is top-1 accuracy over
    the batch's masked positions. ``logits`` is the ``mlm-head`` capability.
    """

    def __init__(self, encoder: nn.Module, modality: Modality, options: MLMOptions = MLMOptions()) -> None:
        from transformers.models.bert.modeling_bert import BertOnlyMLMHead

        super().__init__()
        self.encoder = encoder
        self.cls = BertOnlyMLMHead(head_config(encoder, modality.vocab_size, options))
        init_like_bert(self.cls, options.init_std)
        tie_decoder(self.cls.predictions, encoder)
        self.masker = Masker(modality, options)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) → scalars."""
        batch, labels = self.masker(batch)
        loss, accuracy = mlm_terms(self.cls.predictions, self.encoder(batch).sequence, labels)
        return {"loss": loss, "mlm_loss": loss.detach(), "mlm_acc": accuracy}

    def logits(self, sequence: Tensor) -> Tensor:
        """Vocabulary logits for encoder features. Shape: (..., D) → (..., V)."""
        return self.cls.predictions(sequence)


class NSPTask(nn.Module):
    """Next-sentence prediction: tanh pooler on [CLS], then a 2-way linear layer.

    Needs ``next_sentence_label`` (0 = B continues A). Returns ``{"loss", "nsp_loss", "nsp_acc"}``.
    """

    def __init__(self, encoder: nn.Module, options: NSPOptions = NSPOptions()) -> None:
        from transformers.models.bert.modeling_bert import BertOnlyNSPHead, BertPooler

        super().__init__()
        config = head_config(encoder, 2, options)  # no vocabulary: pooler and 2-way classifier only
        self.encoder = encoder
        self.pooler = BertPooler(config)
        self.cls = BertOnlyNSPHead(config)
        init_like_bert(self.pooler, options.init_std)
        init_like_bert(self.cls, options.init_std)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) with next_sentence_label (B,) → scalars."""
        logits = self.cls(self.pooler(self.encoder(batch).sequence))
        loss, accuracy = nsp_terms(logits, batch["next_sentence_label"])
        return {"loss": loss, "nsp_loss": loss.detach(), "nsp_acc": accuracy}


class MLMNSPTask(nn.Module):
    """BERT pretraining: MLM loss + NSP loss on the same pair batch, one encoder pass.

    Returns ``{"loss", "mlm_loss", "nsp_loss", "mlm_acc", "nsp_acc"}``.
    """

    def __init__(self, encoder: nn.Module, modality: Modality, options: MLMNSPOptions = MLMNSPOptions()) -> None:
        from transformers.models.bert.modeling_bert import BertPooler, BertPreTrainingHeads

        super().__init__()
        config = head_config(encoder, modality.vocab_size, options)
        self.encoder = encoder
        self.pooler = BertPooler(config)
        self.cls = BertPreTrainingHeads(config)
        init_like_bert(self.pooler, options.init_std)
        init_like_bert(self.cls, options.init_std)
        tie_decoder(self.cls.predictions, encoder)
        self.masker = Masker(modality, options)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """Shape: batch (B, T) with next_sentence_label (B,) → scalars."""
        batch, labels = self.masker(batch)
        sequence = self.encoder(batch).sequence
        mlm_loss, mlm_acc = mlm_terms(self.cls.predictions, sequence, labels)
        nsp_logits = self.cls.seq_relationship(self.pooler(sequence))
        nsp_loss, nsp_acc = nsp_terms(nsp_logits, batch["next_sentence_label"])
        return {"loss": mlm_loss + nsp_loss, "mlm_loss": mlm_loss.detach(), "nsp_loss": nsp_loss.detach(),
                "mlm_acc": mlm_acc, "nsp_acc": nsp_acc}

    def logits(self, sequence: Tensor) -> Tensor:
        """Vocabulary logits for encoder features. Shape: (..., D) → (..., V)."""
        return self.cls.predictions(sequence)


def build_mlm(ctx: TaskContext, options: MLMOptions) -> MLMTask:
    """The ``mlm`` factory."""
    return MLMTask(ctx.encoder, ctx.modality, options)


def build_nsp(ctx: TaskContext, options: NSPOptions) -> NSPTask:
    """The ``nsp`` factory."""
    _require_pairs(ctx)
    return NSPTask(ctx.encoder, options)


def build_mlm_nsp(ctx: TaskContext, options: MLMNSPOptions) -> MLMNSPTask:
    """The ``mlm-nsp`` factory."""
    _require_pairs(ctx)
    return MLMNSPTask(ctx.encoder, ctx.modality, options)


def _require_pairs(ctx: TaskContext) -> None:
    """Fail before training, with the dataset's reason, when it could form no sentence pairs."""
    problem = ctx.dataset.extras.get("pairs_problem")
    if problem:
        raise ValueError(problem)
