"""Intervals over benchmark rounds: the median of per-round ratios with a distribution-free interval.

A benchmark that alternates two sides round by round gets one ratio per round. Rounds on a
shared machine are not normal (a burst of load makes one round's ratio far off), so the
interval is the classical order-statistic confidence interval for a median (e.g. Conover,
*Practical Nonparametric Statistics*, 3rd ed., §3.2; Hollander & Wolfe): for n independent
rounds from a continuous distribution with median m, the number of rounds below m is
Binomial(n, 1/2), so ``[x_(l), x_(n+1-l)]`` (1-based order statistics) covers m with
probability exactly ``1 - 2·P(B ≤ l-1)``. :func:`median_interval` takes the largest l whose
coverage is at least the level asked and reports that exact coverage (e.g. 96.1% for 12
rounds), never rounding it to the level. It assumes rounds independent and alike — drift of the
machine's load within a run breaks that; alternating the order of the sides limits its bias.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def coverage(n: int, l: int) -> float:
    """Exact coverage of ``[x_(l), x_(n+1-l)]`` for the median of n continuous i.i.d. values."""
    return 1.0 - 2.0 * sum(math.comb(n, k) for k in range(l)) / 2.0**n


def median_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(low, high, coverage): the order-statistic interval for the median with coverage >= ``level``.

    Raises:
        ValueError: too few values for any interval to reach ``level`` (n = 6 is the fewest for 95%).
    """
    x, n = sorted(values), len(values)
    if n == 0 or coverage(n, 1) < level:
        raise ValueError(f"{n} rounds cannot give a {level:.0%} interval for the median; at least 6 are needed for 95%")
    l = max(k for k in range(1, (n + 1) // 2 + 1) if coverage(n, k) >= level)
    return x[l - 1], x[n - l], coverage(n, l)


def verdict(low: float, high: float, goal: float) -> str:
    """For a goal ``ratio <= goal``: ``met`` when the whole interval is inside it, ``missed`` when the whole
    interval is outside, else ``unresolved`` (the rounds cannot tell)."""
    return "met" if high <= goal else "missed" if low > goal else "unresolved"


def summary(values: Sequence[float], goal: float, level: float = 0.95) -> dict[str, object]:
    """The median, its interval and coverage, and the verdict against ``ratio <= goal``."""
    low, high, cover = median_interval(values, level)
    return {"ratio": statistics.median(values), "interval": [low, high], "interval_coverage": round(cover, 4),
            "interval_kind": "order-statistic (binomial) interval for the median over rounds",
            "verdict": verdict(low, high, goal)}
