"""The built-in text plugin: BERT-style pretraining on real corpora.

Modules, one job each: ``corpus`` (read .tab/.txt/.csv corpora), ``sources`` (where
20 Newsgroups and Reuters R8 come from), ``tokenizer`` (WordPiece trained locally,
cached), ``segments`` (tokenise once, cut into fixed-length segments, BERT inputs,
NSP pairs), ``splits`` (segments → the runner's splits), ``datasets`` (options and
loaders), ``modality`` (the ``text`` modality: ``views`` and ``tokens``),
``masking`` (BERT 80/10/10), ``views`` (span crop + token dropout), ``models``
(bert-tiny/mini/small), ``tasks`` (mlm, nsp, mlm-nsp), ``evaluate`` (mlm-accuracy)
and ``plugin`` (the hooks). Everything uses only sslbench's public API.

Batches are ``dict[str, torch.Tensor]`` with ``input_ids``, ``attention_mask`` and
``token_type_ids`` (all ``(B, T)`` long), plus ``next_sentence_label`` ``(B,)`` for
next-sentence prediction.
"""
