"""Small BERT encoders built from a ``transformers.BertConfig`` with random weights (or, with the
``weights`` option, from outside ones: :mod:`sslbench_text.pretrained`).

Sizes follow Turc et al., 2019, "Well-Read Students Learn Better: On the Importance
of Pre-training Compact Models" (the BERT miniatures): ``bert-tiny`` L=2/H=128,
``bert-mini`` L=4/H=256, ``bert-small`` L=4/H=512, with H/64 attention heads and a
4H feed-forward layer, as in BERT (Devlin et al., 2019). Nothing is downloaded.

``norm = "pre"`` builds the same sizes with the LayerNorm before each sub-layer and one
after the last (pre-LN; Xiong et al., 2020, "On Layer Normalization in the Transformer
Architecture"), from ``transformers``' ``RobertaPreLayerNormModel``: its layers are BERT's
with the norms moved; its positions count from ``pad_token_id + 1`` (RoBERTa's offset).

The encoder holds no pretraining head and no tanh pooler (those belong to tasks);
its ``pooled`` output is either the masked mean of the last layer over real tokens
(``[CLS]`` and ``[SEP]`` included) or the last layer at ``[CLS]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sslbench import Batch, EncoderOutput, ModelContext
from sslbench_text.options import BertSize, BERT_SIZES, NORMS, POOLINGS, BertOptions  # noqa: F401  # torch-free: re-exported

# transformers is imported where a module is built, not here: it costs ~1.5 s, and every
# sslbench command (list, data, a config error) loads this plugin.
if TYPE_CHECKING:
    from transformers import BertConfig, RobertaPreLayerNormConfig


def bert_config(
    name: str,
    vocab_size: int,
    *,
    max_positions: int = 512,
    dropout: float = 0.1,
    pad_token_id: int = 0,
    norm: str = "post",
) -> BertConfig | RobertaPreLayerNormConfig:
    """A config for one of ``BERT_SIZES`` (intermediate size 4 × hidden): BERT's post-LN
    ``BertConfig``, or for ``norm="pre"`` a ``RobertaPreLayerNormConfig`` of the same sizes
    (two token types, as BERT; positions widened by RoBERTa's ``pad_token_id + 1`` offset)."""
    from transformers import BertConfig, RobertaPreLayerNormConfig

    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not one of {list(NORMS)}")
    if name not in BERT_SIZES:
        raise ValueError(f"unknown BERT size {name!r}; choose one of {sorted(BERT_SIZES)}")
    if vocab_size < 1 or max_positions < 1:
        raise ValueError(f"vocab_size={vocab_size} and max_positions={max_positions} must be >= 1; take vocab_size from len(tokenizer)")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout} must be in [0, 1); BERT uses 0.1")
    size = BERT_SIZES[name]
    config_class = BertConfig if norm == "post" else RobertaPreLayerNormConfig
    offset = 0 if norm == "post" else pad_token_id + 1
    return config_class(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=4 * size.hidden,
        max_position_embeddings=max_positions + offset,
        type_vocab_size=2,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        pad_token_id=pad_token_id,
    )


class BertTextEncoder(nn.Module):
    """BERT body (embeddings + transformer layers) with mean or [CLS] pooling.

    Shape:
        batch: input_ids, attention_mask, token_type_ids (optional) (B, T) long
        output: EncoderOutput(sequence (B, T, D), pooled (B, D), mask (B, T) bool)
    """

    def __init__(self, config: BertConfig | RobertaPreLayerNormConfig, pooling: str = "mean") -> None:
        from transformers import BertConfig, BertModel, RobertaPreLayerNormModel

        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r} is not one of {list(POOLINGS)}")
        self.config = config
        self.pooling = pooling
        self.embed_dim: int = config.hidden_size
        pre_ln = not isinstance(config, BertConfig)
        self.max_length: int = config.max_position_embeddings - (config.pad_token_id + 1 if pre_ln else 0)
        model_class = RobertaPreLayerNormModel if pre_ln else BertModel
        self.bert = model_class(config, add_pooling_layer=False)

    @property
    def word_embeddings(self) -> nn.Embedding:
        """Input token embeddings (MLM decoders tie their weight to this)."""
        return self.bert.embeddings.word_embeddings

    def token_embeddings(self) -> nn.Embedding:
        """The ``token-embeddings`` capability: the (V, D) input embedding table, for weight tying."""
        return self.bert.embeddings.word_embeddings

    def forward(self, batch: Batch) -> EncoderOutput:
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        if input_ids.shape[1] > self.max_length:
            raise ValueError(
                f"sequence length {input_ids.shape[1]} exceeds max_positions={self.max_length}; "
                f"build the encoder with a larger max_positions or cut shorter segments"
            )
        token_type_ids = batch.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        sequence = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.bool()
        if self.pooling == "cls":
            pooled = sequence[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(sequence.dtype)
            pooled = (sequence * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return EncoderOutput(sequence, pooled, mask)


def create_bert_encoder(
    name: str,
    vocab_size: int,
    *,
    pooling: str = "mean",
    max_positions: int = 512,
    dropout: float = 0.1,
    pad_token_id: int = 0,
    norm: str = "post",
) -> BertTextEncoder:
    """Build ``bert-tiny`` / ``bert-mini`` / ``bert-small`` with random weights.

    ``vocab_size`` should be ``len(tokenizer)``; ``max_positions`` must cover the
    longest input (``2L + 3`` for NSP pairs of segment length L); ``norm`` is ``"post"``
    (BERT) or ``"pre"`` (pre-LN).
    """
    config = bert_config(name, vocab_size, max_positions=max_positions, dropout=dropout,
                         pad_token_id=pad_token_id, norm=norm)
    return BertTextEncoder(config, pooling=pooling)


INFO_KEYS = ("vocab_size", "max_length", "pad_token_id")
"""What a BERT encoder reads from the dataset's ``info``."""


def bert_builder(name: str):
    """The ``ModelSpec.build`` factory for size ``name``: vocabulary, positions and pad id from ``ctx.info``."""

    def build(ctx: ModelContext, options: BertOptions) -> BertTextEncoder:
        info = _bert_info(ctx.info, name, ctx.dataset)
        if options.weights:
            from sslbench_text.pretrained import build_bert_from_weights

            return build_bert_from_weights(ctx, options, name, info)
        return create_bert_encoder(
            name, info["vocab_size"], pooling=options.pooling, max_positions=info["max_length"],
            dropout=options.dropout, pad_token_id=info["pad_token_id"], norm=options.norm,
        )

    build.__name__ = f"build_{name.replace('-', '_')}"
    return build


# One builder per size, so that the plugin names them as "sslbench_text.models:build_bert_tiny" etc.
build_bert_tiny, build_bert_mini, build_bert_small = (bert_builder(name) for name in BERT_SIZES)


def _bert_info(info: Mapping[str, Any], name: str, dataset: str) -> dict[str, int]:
    missing = [k for k in INFO_KEYS if k not in info]
    if missing:
        raise ValueError(f"model {name!r}: dataset {dataset!r} gives no {', '.join(missing)} in its info; "
                         "BERT encoders need a tokenised text dataset")
    return {k: int(info[k]) for k in INFO_KEYS}
