"""Text modality for sslbench: corpora, WordPiece tokenizer, BERT segments, masking,
contrastive views, BERT encoders, MLM/NSP pretext tasks and MLM evaluation.

Each module does one job and imports nothing from ``sslbench``; the core wires them
into hooks. Batches are ``dict[str, torch.Tensor]`` with ``input_ids``,
``attention_mask`` and ``token_type_ids`` (all ``(B, T)`` long), plus
``next_sentence_label`` ``(B,)`` for next-sentence prediction.
"""
