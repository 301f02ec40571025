"""The statistics behind every leaderboard claim: intervals over seeds and paired tests.

Two rules, chosen so that a number labelled 95% covers 95%:

- **Interval of a mean over seeds**: Student's t interval, mean ± t(n−1, 0.975) · s / √n
  (Student, 1908). It is exact for normally distributed seed scores at every n ≥ 2, and
  robust enough at the n the suite uses (tests/test_stats.py simulates its coverage at
  n = 3 and 5). A percentile bootstrap of the seeds is *not* used: at n = 2 it is
  [min, max] (coverage 50%), at n = 3 about 74%. Below :data:`MIN_SEEDS` no interval
  is shown at all.
- **Comparisons between entries that share seeds**: a two-sided paired t-test on the
  per-seed differences (the same seed means the same initial weights and data order, so
  pairing removes that variance), at level :data:`ALPHA`. Fewer than :data:`MIN_SEEDS`
  shared seeds → no claim (``""``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from scipy import (
    stats as scipy_stats,  # scikit-learn's own dependency: t quantiles and tails
)

CONFIDENCE = 0.95  # two-sided level of every interval
ALPHA = 0.05  # level of every paired test
MIN_SEEDS = 3  # below this many seeds: no interval, no paired claim
METHOD_INTERVAL = "Student-t interval of the mean over seeds (n ≥ 3; none below)"
METHOD_TEST = "two-sided paired t-test across matched seeds at 5% (n ≥ 3 shared seeds; no claim below)"
VERDICTS = ("better", "worse", "tie", "")
"""Outcomes of :func:`paired_verdict`: ``""`` means too few shared seeds to say."""


def t_interval(values: Iterable[float], level: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of the mean of ``values``; (nan, nan) below :data:`MIN_SEEDS` values.

    Shape:
        values: n floats (one per seed); returns (low, high).
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) < MIN_SEEDS:
        return math.nan, math.nan
    half = scipy_stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


def paired_p_value(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[float, float, int]:
    """(mean difference a − b, two-sided p of the paired t-test, shared seeds) over the seeds both have.

    A constant non-zero difference has p = 0 (t is infinite); no difference at all p = 1.
    """
    seeds = sorted(set(a) & set(b))
    d = np.asarray([a[s] - b[s] for s in seeds], dtype=float)
    if len(d) == 0:
        return math.nan, math.nan, 0
    mean = float(d.mean())
    if len(d) < 2:
        return mean, math.nan, len(d)
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return mean, (1.0 if abs(mean) <= 1e-12 else 0.0), len(d)
    t = mean / (sd / math.sqrt(len(d)))
    return mean, float(2 * scipy_stats.t.sf(abs(t), len(d) - 1)), len(d)


def paired_verdict(a: Mapping[int, float], b: Mapping[int, float], higher_is_better: bool = True,
                   alpha: float = ALPHA) -> str:
    """Whether ``a`` is ``better``, ``worse`` or in a ``tie`` with ``b``; ``""`` below :data:`MIN_SEEDS`."""
    mean, p, n = paired_p_value(a, b)
    if n < MIN_SEEDS or math.isnan(p):
        return ""
    if p >= alpha:
        return "tie"
    return "better" if (mean > 0) == higher_is_better else "worse"
