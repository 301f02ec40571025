"""Running a planned grid: the orchestration, the result folder, building and training a cell,
turning its evaluations into rows, and what a run records about itself.

- :mod:`~sslbench.run.runner`: orchestration (which (cell, seed) pairs run, in what order, by whom);
- :mod:`~sslbench.run.folder`: the result folder (layout, locks, finished pairs, manifest, tracebacks);
- :mod:`~sslbench.run.cells`: loading datasets and building a cell's modality, encoder and task;
- :mod:`~sslbench.run.train`, :mod:`~sslbench.run.checkpoint`: the training loop and its checkpoints;
- :mod:`~sslbench.run.evaluate`: evaluators → result rows (identity, settings, budget, cost);
- :mod:`~sslbench.run.commit`: rows and curves written together, crash-safe;
- :mod:`~sslbench.run.provenance`, :mod:`~sslbench.run.hardware`, :mod:`~sslbench.run.progress`:
  what a run records and shows about itself.
"""
