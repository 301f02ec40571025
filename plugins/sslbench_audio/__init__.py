"""Audio modality for sslbench: building blocks of the built-in audio plugin.

Batches are ``dict[str, torch.Tensor]`` with ``features`` (B, T, F) float, padding
frames zero, and ``lengths`` (B,) long. The modules here are plain, tested pieces
(data readers, span masking, views, k-means, the conv+transformer encoder, the
masked-frames pretext task); the hook module that registers them with the core is
added when the core's plugin API lands.
"""
