"""The ``recsys`` modality: chronological item sequences and the primitives tasks build on.

A batch holds ``items`` (B, T) long — item ids in time order, right-padded with 0
(0 = padding, 1 = unknown item, real items from 2, V − 1 = [MASK]) — and ``mask``
(B, T) bool, True at real positions.

Capabilities:

* ``views``: CL4SRec's crop / mask / reorder of a sub-sequence, one chosen per row
  (Xie et al., 2022), so generic contrastive tasks (e.g. SimCLR) run on histories;
* ``tokens``: item ids are the tokens — ``tokens(batch) -> (items, mask)`` (every
  real position is maskable), ``with_tokens(batch, ids)``, ``vocab_size`` (V, the
  [MASK] id counted) and ``mask_token_id`` (V − 1, distinct from the unknown id) —
  the protocol the text modality offers, so ``mlm`` runs here as BERT4Rec and
  ``cooccurrence`` as item2vec.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from sslbench import Batch, Modality

from .views import two_views
from sslbench_recsys.options import RecsysViewOptions  # noqa: F401  # torch-free: re-exported


class RecsysModality(Modality):
    """Item-id sequences over one dataset's vocabulary; provides ``views`` and ``tokens``.

    Args:
        info: the dataset's facts: ``vocab_size`` (V) and ``mask_token_id`` (V − 1).
        options: view ratios.
    """

    name = "recsys"

    def __init__(self, info: Mapping[str, Any], options: RecsysViewOptions) -> None:
        self.vocab_size = int(info["vocab_size"])
        self.mask_token_id = int(info["mask_token_id"])
        self.options = options

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """Two independent CL4SRec views (torch's global generator); other keys carried over.

        Shape:
            batch["items"], batch["mask"] (B, T) → two batches of the same shapes.
        """
        o = self.options
        return two_views(batch, None, eta=o.eta, gamma=o.gamma, beta=o.beta, mask_id=self.mask_token_id)

    def tokens(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The item ids and where a corruption may put its masks: every real position.

        Shape:
            returns ids (B, T) long and maskable (B, T) bool.
        """
        return batch["items"], batch["mask"]

    def with_tokens(self, batch: Batch, ids: Tensor) -> Batch:
        """``batch`` with its item ids replaced (e.g. by a masked copy). Shape: ids (B, T) long."""
        return {**batch, "items": ids}


def build_recsys_modality(info: Mapping[str, Any], options: RecsysViewOptions) -> RecsysModality:
    """The ``ModalitySpec.build`` factory."""
    return RecsysModality(info, options)
