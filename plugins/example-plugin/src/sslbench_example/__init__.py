"""sslbench-example: a third-party sslbench plugin, written only against sslbench's public API.

It adds one component of every kind: a pretext task, ``byol`` (Grill et al., 2020), that
needs nothing but ``views`` and so runs on every modality that provides them; a new
modality with one real dataset, ``tabular`` rows with SCARF views (Bahri et al., 2022)
and ``wine``, scikit-learn's bundled wine measurements; an encoder for it,
``tabular-mlp``; and an evaluator, ``nearest-centroid``. The worked example of
``docs/plugins.md`` in the sslbench repository quotes these files. The hook implementations are in
:mod:`sslbench_example.hooks`, registered by the entry point in ``pyproject.toml``.
"""
