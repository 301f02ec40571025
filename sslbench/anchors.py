"""The names of the anchor rows every ranking is read against, defined once.

- ``random-init`` (:data:`RANDOM_INIT`): a grid's own cell — the same encoder, built from the same
  seed, evaluated without pretraining. A reserved task name: no plugin may register it.
- ``no-encoder`` (:data:`NO_ENCODER`): a grid's own cell — the modality's reference feature map
  (raw pixels, tf-idf, …) evaluated the same way. Reserved too.
- ``supervised`` (:data:`SUPERVISED`): the task name by which a plugin's task is read as the
  supervised anchor (the upper reference of the normalised score). The built-in ``eval`` plugin
  registers one; a third party may register its own under this name in a grid without it.

Torch-free: the leaderboard, the listing and the registry read these.
"""
from __future__ import annotations

RANDOM_INIT = "random-init"
NO_ENCODER = "no-encoder"
SUPERVISED = "supervised"

RESERVED_TASK_NAMES = frozenset({RANDOM_INIT, NO_ENCODER})
"""Tasks the grid makes itself; a plugin that registers one is refused."""
UNTRAINED_TASKS = RESERVED_TASK_NAMES
"""Cells without a pretraining budget."""
