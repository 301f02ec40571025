"""The runner benchmark's interval over rounds (benchmarks/rounds.py) against scipy's binomial."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import rounds


@pytest.mark.parametrize("n", [6, 7, 9, 12, 15, 20, 31])
def test_coverage_is_the_binomial_probability_scipy_gives(n):
    from scipy.stats import binom

    for l in range(1, (n + 1) // 2 + 1):
        assert rounds.coverage(n, l) == pytest.approx(1 - 2 * binom.cdf(l - 1, n, 0.5), abs=1e-12)


def test_the_interval_is_the_widest_order_statistics_reaching_the_level_and_says_its_coverage():
    values = [1.10, 0.90, 1.00, 1.03, 0.97, 1.20, 0.99, 1.01, 1.02, 0.95, 1.04, 0.98]
    low, high, cover = rounds.median_interval(values)
    assert (low, high) == (0.97, 1.04) and cover == pytest.approx(0.9614, abs=1e-4)  # x_(3), x_(10) of 12
    assert rounds.verdict(low, high, 1.05) == "met" and rounds.verdict(low, high, 1.0) == "unresolved"
    assert rounds.verdict(1.06, 1.2, 1.05) == "missed"
    with pytest.raises(ValueError, match="5 rounds cannot give a 95% interval"):
        rounds.median_interval(values[:5])


def test_the_interval_covers_the_median_as_often_as_it_says():
    import random

    rng, n, trials = random.Random(0), 12, 4000
    hits = 0
    for _ in range(trials):
        low, high, cover = rounds.median_interval([rng.lognormvariate(0, 0.3) for _ in range(n)])
        hits += low <= 1.0 <= high  # the lognormal's median is 1
    assert hits / trials == pytest.approx(cover, abs=0.015)
