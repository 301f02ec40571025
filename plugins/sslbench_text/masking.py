"""BERT masked-language-model corruption, vectorised and reproducible.

Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", §3.1 "Task #1: Masked LM" and appendix A.1: choose 15% of
the (non-special, non-padding) tokens; replace a chosen token by ``[MASK]`` 80% of
the time, by a uniformly random token 10% of the time, and leave it unchanged 10% of
the time; predict the original token at chosen positions only (labels ``-100``
elsewhere, the ``ignore_index`` of ``torch.nn.CrossEntropyLoss``).

Same semantics as ``transformers.DataCollatorForLanguageModeling(mlm_probability=0.15)``:
every special id (pad, unk, cls, sep, mask) is never chosen, and random tokens are
drawn from the whole vocabulary (so a "random" token equals the original with
probability 1/V, as in BERT's and HF's code).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

IGNORE_INDEX = -100


def mask_tokens(
    input_ids: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    attention_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """Return (corrupted ids, labels) for masked language modelling.

    Random numbers come from ``generator`` (on its own device, then moved to the ids'
    device), so a seeded generator gives the same masks on CPU and GPU.

    Shape:
        input_ids: (B, T) long; attention_mask: (B, T), 1 = real token
        returns corrupted ids (B, T) long and labels (B, T) long (original id where
        chosen, -100 elsewhere)
    """
    _check_probabilities(mlm_probability, mask_replace_prob, random_replace_prob)
    device = input_ids.device
    eligible = ~torch.isin(input_ids, torch.tensor(list(special_ids), dtype=input_ids.dtype, device=device))
    if attention_mask is not None:
        eligible &= attention_mask.bool()
    draw_device = generator.device if generator is not None else device
    choose, how = torch.rand((2, *input_ids.shape), generator=generator, device=draw_device).to(device)
    random_tokens = torch.randint(vocab_size, input_ids.shape, generator=generator, device=draw_device).to(device)
    chosen = eligible & (choose < mlm_probability)
    to_mask = chosen & (how < mask_replace_prob)
    to_random = chosen & (how >= mask_replace_prob) & (how < mask_replace_prob + random_replace_prob)
    corrupted = torch.where(to_mask, mask_token_id, input_ids)
    corrupted = torch.where(to_random, random_tokens, corrupted)
    labels = torch.where(chosen, input_ids, IGNORE_INDEX)
    return corrupted, labels


def _check_probabilities(mlm_probability: float, mask_replace_prob: float, random_replace_prob: float) -> None:
    if not 0.0 < mlm_probability <= 1.0:
        raise ValueError(f"mlm_probability={mlm_probability} must be in (0, 1]; BERT uses 0.15")
    if mask_replace_prob < 0 or random_replace_prob < 0 or mask_replace_prob + random_replace_prob > 1:
        raise ValueError(
            f"mask_replace_prob={mask_replace_prob} and random_replace_prob={random_replace_prob} must be "
            f">= 0 with a sum <= 1 (the rest stays unchanged); BERT uses 0.8 and 0.1"
        )
