"""The bootstrap interval against an exact enumeration and scipy's percentile bootstrap."""
import itertools

import numpy as np
import pytest
from scipy import stats

from sslbench.leaderboard import BOOTSTRAP_RESAMPLES, bootstrap_ci


def exact_percentile_interval(values, level=0.95):
    """Naive reference: every one of the n^n equally likely resamples, enumerated."""
    n = len(values)
    means = [np.mean([values[i] for i in pick]) for pick in itertools.product(range(n), repeat=n)]
    tail = 100 * (1 - level) / 2
    return np.percentile(means, [tail, 100 - tail])


@pytest.mark.parametrize("values", [[0.71, 0.74, 0.69, 0.80], [0.5, 0.52, 0.61, 0.58, 0.55]])
def test_interval_matches_the_exact_bootstrap_distribution(values):
    low, high = bootstrap_ci(values)
    ref_low, ref_high = exact_percentile_interval(values)
    spread = max(values) - min(values)
    assert low == pytest.approx(ref_low, abs=0.02 * spread) and high == pytest.approx(ref_high, abs=0.02 * spread)


def test_interval_matches_scipy_percentile_bootstrap():
    values = np.array([0.61, 0.66, 0.70, 0.64, 0.69, 0.72])
    ref = stats.bootstrap((values,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                          random_state=1).confidence_interval
    low, high = bootstrap_ci(values)
    assert low == pytest.approx(ref.low, abs=0.004) and high == pytest.approx(ref.high, abs=0.004)


def test_interval_is_fixed_by_its_seed_and_brackets_the_mean():
    values = [0.3, 0.35, 0.5]
    assert bootstrap_ci(values) == bootstrap_ci(list(values))
    low, high = bootstrap_ci(values)
    assert low <= np.mean(values) <= high and min(values) <= low and high <= max(values)


def test_one_seed_gives_the_point_and_none_gives_nan():
    assert bootstrap_ci([0.42]) == (0.42, 0.42)
    assert all(np.isnan(bootstrap_ci([])))
