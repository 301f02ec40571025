"""CL4SRec views: crop, mask, reorder — per-sample randomness, right padding kept."""

from __future__ import annotations

import math

import pytest
import torch
from sslbench_recsys.views import crop, mask_items, random_view, reorder, two_views


def batch(rows: int = 64, steps: int = 12, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, steps + 1, (rows,), generator=generator)
    lengths[0] = steps
    mask = torch.arange(steps) < lengths.unsqueeze(1)
    items = (torch.arange(steps) + 2 + 100 * torch.arange(rows).unsqueeze(1)) * mask  # distinct items per row
    return items, mask


def real(items: torch.Tensor, mask: torch.Tensor, row: int) -> list[int]:
    return items[row][mask[row]].tolist()


def assert_right_padded(items: torch.Tensor, mask: torch.Tensor) -> None:
    lengths = mask.sum(1, keepdim=True)
    assert torch.equal(mask, torch.arange(mask.shape[1]) < lengths)
    assert torch.all(items[~mask] == 0)


def test_crop_keeps_a_contiguous_run_of_the_expected_length():
    items, mask = batch()
    out, out_mask = crop(items, mask, eta=0.6, generator=torch.Generator().manual_seed(1))
    assert_right_padded(out, out_mask)
    for row in range(len(items)):
        source, kept = real(items, mask, row), real(out, out_mask, row)
        expected = min(len(source), max(1, math.floor(0.6 * len(source))))
        assert len(kept) == expected
        if kept:
            start = source.index(kept[0])
            assert source[start : start + len(kept)] == kept


def test_mask_replaces_exactly_gamma_l_real_items():
    items, mask = batch()
    out, out_mask = mask_items(items, mask, gamma=0.3, mask_id=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out_mask, mask)
    changed = out != items
    assert torch.all(out[changed] == 1) and not changed[~mask].any()
    assert torch.equal(changed.sum(1), torch.floor(mask.sum(1) * 0.3).long())


def test_reorder_permutes_one_window_and_nothing_else():
    items, mask = batch()
    out, out_mask = reorder(items, mask, beta=0.6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out_mask, mask)
    assert_right_padded(out, out_mask)
    for row in range(len(items)):
        source, shuffled = real(items, mask, row), real(out, out_mask, row)
        assert sorted(shuffled) == sorted(source)
        moved = [i for i, (a, b) in enumerate(zip(source, shuffled)) if a != b]
        if moved:
            assert moved[-1] - moved[0] + 1 <= math.floor(0.6 * len(source))
            window = slice(moved[0], moved[-1] + 1)
            assert sorted(shuffled[window]) == sorted(source[window])


def test_random_parameters_differ_per_sample():
    items = torch.arange(2, 14).repeat(50, 1)
    mask = torch.ones_like(items, dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    cropped, _ = crop(items, mask, generator=generator)
    masked, _ = mask_items(items, mask, generator=generator)
    shuffled, _ = reorder(items, mask, generator=generator)
    assert len(set(cropped[:, 0].tolist())) > 3  # crop starts vary across rows
    assert len({tuple(r) for r in (masked == 1).tolist()}) > 10
    assert len({tuple(r) for r in shuffled.tolist()}) > 10


def test_views_are_reproducible_with_a_generator():
    items, mask = batch()
    first = random_view(items, mask, generator=torch.Generator().manual_seed(3))
    second = random_view(items, mask, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_random_view_mixes_the_three_augmentations():
    items = torch.arange(2, 14).repeat(300, 1)
    mask = torch.ones_like(items, dtype=torch.bool)
    out, out_mask = random_view(items, mask, generator=torch.Generator().manual_seed(0))
    cropped = out_mask.sum(1) < 12
    masked = (out == 1).any(1)
    reordered = ~cropped & ~masked & (out != items).any(1)
    assert not (cropped & masked).any()
    for kind in (cropped, masked, reordered):
        assert 60 < int(kind.sum()) < 140  # about a third each


def test_two_views_keep_other_keys_and_differ():
    items, mask = batch()
    targets = torch.arange(len(items))
    one, two = two_views({"items": items, "mask": mask, "targets": targets}, generator=torch.Generator().manual_seed(0))
    assert one["targets"] is targets and two["targets"] is targets
    assert not torch.equal(one["items"], two["items"])


def test_ratios_are_checked():
    items, mask = batch()
    with pytest.raises(ValueError, match="eta must be in"):
        crop(items, mask, eta=1.5)
