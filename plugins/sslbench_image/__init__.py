"""sslbench's built-in image plugin: the ``image`` modality, datasets, encoders and SimCLR.

It uses only sslbench's public API, exactly as a third-party plugin would.
"""
