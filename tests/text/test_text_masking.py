"""BERT masking against transformers.DataCollatorForLanguageModeling, statistically."""

import pytest
import torch
from transformers import DataCollatorForLanguageModeling

from sslbench_text import masking
from sslbench_text import tokenizer as tk

TEXTS = ["the quick brown fox jumps over the lazy dog", "pack my box with five dozen liquor jugs"] * 3


@pytest.fixture(scope="module")
def tok():
    return tk.train_wordpiece(TEXTS, tk.TokenizerSettings(vocab_size=200, min_frequency=1))


def padded_batch(tok, rows=32, width=64, seed=0):
    """[CLS] random non-special tokens [SEP] then padding, variable lengths."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, len(tok), (rows, width), generator=gen)
    lengths = torch.randint(8, width, (rows,), generator=gen)
    column = torch.arange(width)
    ids[:, 0] = tok.cls_token_id
    ids = torch.where(column == lengths[:, None] - 1, tok.sep_token_id, ids)
    ids = torch.where(column >= lengths[:, None], tok.pad_token_id, ids)
    return ids, (column < lengths[:, None]).long()


def split_stats(original, corrupted, labels, mask_id, special):
    chosen = labels != -100
    eligible = ~torch.isin(original, torch.tensor(special))
    assert not (chosen & ~eligible).any(), "a special or padding token was chosen"
    assert torch.equal(labels[chosen], original[chosen])
    assert torch.equal(corrupted[~chosen], original[~chosen])
    n = chosen.sum().item()
    return {
        "chosen": n / eligible.sum().item(),
        "mask": (corrupted[chosen] == mask_id).sum().item() / n,
        "random": ((corrupted[chosen] != mask_id) & (corrupted[chosen] != original[chosen])).sum().item() / n,
        "same": (corrupted[chosen] == original[chosen]).sum().item() / n,
    }


def test_statistics_match_huggingface_collator(tok):
    ids, attention = padded_batch(tok)
    special = tk.special_token_ids(tok)
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=0)
    gen = torch.Generator().manual_seed(0)
    ours, theirs = [], []
    for _ in range(100):
        corrupted, labels = masking.mask_tokens(
            ids, mask_token_id=tok.mask_token_id, vocab_size=len(tok), special_ids=special,
            attention_mask=attention, generator=gen,
        )
        ours.append((corrupted, labels))
        theirs.append(collator.torch_mask_tokens(ids.clone()))

    def stack(runs):
        return tuple(torch.cat(x) for x in zip(*runs))

    reps = ids.repeat(100, 1)
    a = split_stats(reps, *stack(ours), tok.mask_token_id, special)
    b = split_stats(reps, *stack(theirs), tok.mask_token_id, special)
    for key, expected in {"chosen": 0.15, "mask": 0.8, "random": 0.1 * (1 - 1 / len(tok)), "same": 0.1}.items():
        assert a[key] == pytest.approx(expected, abs=0.01), (key, a, b)
        assert a[key] == pytest.approx(b[key], abs=0.01), (key, a, b)


def test_reproducible_and_random_tokens_cover_vocab(tok):
    ids, attention = padded_batch(tok, rows=64)
    kwargs = {"mask_token_id": tok.mask_token_id, "vocab_size": len(tok), "special_ids": tk.special_token_ids(tok)}
    first = masking.mask_tokens(ids, generator=torch.Generator().manual_seed(7), **kwargs)
    second = masking.mask_tokens(ids, generator=torch.Generator().manual_seed(7), **kwargs)
    other = masking.mask_tokens(ids, generator=torch.Generator().manual_seed(8), **kwargs)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[1], other[1])
    # attention_mask alone protects padding even if the pad id were not listed as special
    corrupted, labels = masking.mask_tokens(
        ids, mask_token_id=tok.mask_token_id, vocab_size=len(tok), special_ids=[tok.cls_token_id, tok.sep_token_id],
        attention_mask=attention, mlm_probability=1.0, generator=torch.Generator().manual_seed(0),
    )
    assert (labels[attention == 0] == -100).all() and (labels[(attention == 1) & (ids > 4)] != -100).all()
    # with random_replace_prob=1 every chosen token is uniform over the vocabulary
    corrupted, labels = masking.mask_tokens(
        ids, mlm_probability=1.0, mask_replace_prob=0.0, random_replace_prob=1.0,
        generator=torch.Generator().manual_seed(0), **kwargs,
    )
    drawn = corrupted[labels != -100]
    assert drawn.min() == 0 and drawn.max() == len(tok) - 1
    assert drawn.float().mean().item() == pytest.approx((len(tok) - 1) / 2, rel=0.05)


def test_bad_probabilities_fail_with_the_fix(tok):
    ids, _ = padded_batch(tok, rows=2)
    with pytest.raises(ValueError, match="mlm_probability=0 must be in"):
        masking.mask_tokens(ids, mask_token_id=4, vocab_size=len(tok), special_ids=[0], mlm_probability=0)
    with pytest.raises(ValueError, match="sum <= 1"):
        masking.mask_tokens(ids, mask_token_id=4, vocab_size=len(tok), special_ids=[0], mask_replace_prob=0.95)
