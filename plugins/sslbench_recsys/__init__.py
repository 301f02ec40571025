"""Recommendation plugin for sslbench: item sequences as a modality.

Building blocks, each a plain module with one job:

- ``interactions``: read MovieLens-100k or a user's own log into chronological
  per-user item sequences, with optional item label sets (e.g. genres).
- ``splits``: leave-one-out by time, item vocabulary, padded tensors.
- ``models``: ``item-embedding`` and ``item-transformer`` encoders.
- ``cooccurrence``: skip-gram with negative sampling over item histories (item2vec).
- ``views``: CL4SRec crop / mask / reorder views.
- ``metrics`` and ``next_item``: full-ranking HR@K / NDCG@K on the frozen encoder.
- ``genre_probe``: multi-label linear probe on item embeddings, micro-F1.
- ``modality``, ``datasets``, ``evaluators``: the sslbench components around them,
  registered in ``plugin`` through the public API only.

Batch contract: ``items`` (B,T) long, chronological, right-padded with 0
(0 = padding, 1 = unknown item, real items from 2, [MASK] = V − 1) and ``mask``
(B,T) bool.
"""
