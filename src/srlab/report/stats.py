"""Interval statistics for rates and differences of rates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

Z_95 = 1.959963984540054


def wilson_interval(successes: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; (0, 1) when n == 0 (nothing is known).

    Counts may be non-integer: an effective sample size (see ``report.metrics.prompt_interval``).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"invalid counts: {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes a bound is exactly the rate; rounding must not put it past the rate.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


class Difference(NamedTuple):
    """A difference of two rates with its interval; ``diff`` is None when nothing could be compared."""

    diff: float | None
    low: float
    high: float
    n_pairs: int


def _percentile_interval(resampled: np.ndarray, alpha: float) -> tuple[float, float]:
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _check_bootstrap_args(n_resamples: int, alpha: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _resample_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples, in chunks so memory stays ~16 MB for any n."""
    n = len(values)
    chunk = max(1, 2_000_000 // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return means


def paired_bootstrap_diff(
    a: Sequence[bool | float | None],
    b: Sequence[bool | float | None],
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Difference:
    """Mean(a) - mean(b) over aligned samples (variant vs base), with a paired percentile bootstrap.

    ``a[i]`` and ``b[i]`` are the same sample's 0/1 outcome under two systems (or a prompt's
    share of samples with the event, where there are several per prompt); a pair where
    either side is undecided (None) is dropped from both, so the two rates cover the same
    samples. Resampling pairs (not each side alone) keeps the per-sample correlation, which
    makes the interval much tighter than an unpaired one when the systems mostly agree.
    """
    _check_bootstrap_args(n_resamples, alpha)
    if len(a) != len(b):
        raise ValueError(f"paired arrays differ in length: {len(a)} vs {len(b)}")
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        return Difference(None, -1.0, 1.0, 0)
    per_pair = np.array([x - y for x, y in pairs])
    if np.any((per_pair < -1) | (per_pair > 1)):
        raise ValueError("paired_bootstrap_diff expects 0/1 (or boolean) outcomes")
    rng = np.random.default_rng(seed)
    resampled = _resample_means(per_pair, n_resamples, rng)
    low, high = _percentile_interval(resampled, alpha)
    return Difference(float(per_pair.mean()), low, high, len(pairs))


def rate_difference_interval(
    successes_a: int, n_a: int, successes_b: int, n_b: int, z: float = Z_95
) -> Difference:
    """p_a - p_b for two independent samples: Newcombe's hybrid score interval (method 10, 1998).

    Built from the two Wilson intervals, so it stays inside [-1, 1] and behaves at 0/n and
    n/n where the Wald interval collapses. ``n_pairs`` is 0: nothing is paired here.
    """
    if n_a == 0 or n_b == 0:
        return Difference(None, -1.0, 1.0, 0)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_interval(successes_a, n_a, z)
    low_b, high_b = wilson_interval(successes_b, n_b, z)
    diff = p_a - p_b
    low = diff - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = diff + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return Difference(diff, max(-1.0, low), min(1.0, high), 0)
