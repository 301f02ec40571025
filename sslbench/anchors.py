"""The names of the anchor rows every ranking is read against, defined once.

- ``random-init`` (:data:`RANDOM_INIT`): a grid's own cell — the same encoder, built from the same
  seed, evaluated without pretraining. A reserved task name: no plugin may register it.
- ``no-encoder`` (:data:`NO_ENCODER`): a grid's own cell — the modality's reference feature map
  (raw pixels, tf-idf, …) evaluated the same way. Reserved too.
- ``supervised`` (:data:`SUPERVISED`): the task name by which a plugin's task is read as the
  supervised anchor (the upper reference of the normalised score). The built-in ``eval`` plugin
  registers one; a third party may register its own under this name in a grid without it.
- ``pretrained`` (:data:`AS_LOADED`): a task name a grid may list: the encoder evaluated as
  loaded from its outside weights (a model's ``weights`` option, :data:`WEIGHTS_OPTION`),
  without any pretraining here; ranked as a method beside the SSL tasks. Reserved too.

Torch-free: the leaderboard, the listing and the registry read these.
"""
from __future__ import annotations

RANDOM_INIT = "random-init"
NO_ENCODER = "no-encoder"
SUPERVISED = "supervised"
AS_LOADED = "pretrained"

WEIGHTS_OPTION = "weights"
"""The model option naming outside weights (a file, a folder, a hub source; "" = none). A
``random-init`` cell builds its model with it emptied; the leaderboard reads rows whose model
differs only in it (and in the ``weights_sha256`` recorded beside it) as one architecture."""
WEIGHTS_KEYS = (WEIGHTS_OPTION, "weights_sha256")
"""The model settings that name outside weights rather than the architecture."""
EXTERNAL = "external"
"""A row's ``budget.pretraining`` and ``cost.pretraining`` when the pretraining happened elsewhere."""

RESERVED_TASK_NAMES = frozenset({RANDOM_INIT, NO_ENCODER, AS_LOADED})
"""Tasks the grid makes itself; a plugin that registers one is refused."""
UNTRAINED_TASKS = RESERVED_TASK_NAMES
"""Cells without a pretraining budget here."""
