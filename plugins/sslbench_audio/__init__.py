"""The built-in audio plugin of sslbench (entry point ``audio``, hooks in :mod:`.plugin`).

Batches are ``dict[str, torch.Tensor]`` with ``features`` (B, T, F) float, padding
frames zero, and ``lengths`` (B,) long. Pieces, each its own module: data readers
(:mod:`.fsdd`, :mod:`.audiofolder`) and their sslbench datasets (:mod:`.datasets`),
padded storage (:mod:`.batching`), the modality and its views (:mod:`.modality`,
:mod:`.views`), span masking (:mod:`.masking`), k-means targets (:mod:`.kmeans`),
the conv+transformer encoders (:mod:`.models`) and the masked-frames task
(:mod:`.tasks`). They use only sslbench's public API.
"""
