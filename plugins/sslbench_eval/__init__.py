"""sslbench's built-in generic evaluators: kNN and linear probe on frozen embeddings.

They work on any modality whose dataset has class labels.
"""
