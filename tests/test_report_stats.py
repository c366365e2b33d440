"""Intervals and bootstrap against published values and closed forms."""

from __future__ import annotations

import math

import pytest

from srlab.report.stats import (
    Z_95,
    paired_bootstrap_diff,
    rate_difference_interval,
    wilson_interval,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med. 17:857,
# Table I, method 3 (Wilson score interval without continuity correction), 4 decimals.
NEWCOMBE_WILSON = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0000, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]


def wilson_closed_form(successes: int, n: int) -> tuple[float, float]:
    """Wilson's bounds as the two roots of (p - p_hat)^2 = z^2 p (1 - p) / n: an independent check."""
    p_hat, z2 = successes / n, Z_95**2
    a = 1 + z2 / n
    b = -(2 * p_hat + z2 / n)
    c = p_hat**2
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_WILSON)
def test_wilson_matches_published_values(counts: tuple[int, int], expected: tuple[float, float]) -> None:
    low, high = wilson_interval(*counts)
    assert low == pytest.approx(expected[0], abs=1e-4)
    assert high == pytest.approx(expected[1], abs=1e-4)


@pytest.mark.parametrize(
    ("counts", "expected"),
    # 0/10 and 10/10 are the textbook "rule of three"-style edges; 5/10 is symmetric about 0.5.
    [((0, 10), (0.0, 0.2775)), ((5, 10), (0.2366, 0.7634)), ((10, 10), (0.7225, 1.0)), ((81, 263), (0.2553, 0.3662))],
)
def test_wilson_matches_quadratic_roots(counts: tuple[int, int], expected: tuple[float, float]) -> None:
    low, high = wilson_interval(*counts)
    root_low, root_high = wilson_closed_form(*counts)
    assert (low, high) == pytest.approx((root_low, root_high), abs=1e-12)
    assert (low, high) == pytest.approx(expected, abs=1e-4)


def test_wilson_rejects_bad_counts_and_knows_nothing_at_zero() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="3 of 2"):
        wilson_interval(3, 2)


def test_paired_diff_of_identical_arrays_is_exactly_zero() -> None:
    outcomes = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
    assert paired_bootstrap_diff(outcomes, outcomes) == (0.0, 0.0, 0.0, 10)


def test_paired_diff_all_ones_against_all_zeros_is_one() -> None:
    assert paired_bootstrap_diff([True] * 8, [False] * 8) == (1.0, 1.0, 1.0, 8)


def test_paired_diff_drops_pairs_with_an_undecided_side() -> None:
    a = [1, 1, None, 0, 1, 1]
    b = [0, None, 1, 0, 1, 0]
    diff, low, high, n_pairs = paired_bootstrap_diff(a, b)
    # kept pairs: (1,0) (0,0) (1,1) (1,0) -> mean(a) - mean(b) = 3/4 - 1/4
    assert n_pairs == 4
    assert diff == 0.5
    assert 0.0 <= low <= 0.5 <= high <= 1.0


def test_paired_diff_with_nothing_to_compare() -> None:
    assert paired_bootstrap_diff([None, 1], [0, None]) == (None, -1.0, 1.0, 0)
    with pytest.raises(ValueError, match="length"):
        paired_bootstrap_diff([1, 0], [1])


def test_paired_interval_is_tighter_than_unpaired_when_systems_agree() -> None:
    # 200 samples; the variant flips 10 of the base's failures to successes and nothing else.
    base = [1] * 100 + [0] * 100
    variant = [1] * 110 + [0] * 90
    diff, low, high, _ = paired_bootstrap_diff(variant, base)
    unpaired = rate_difference_interval(110, 200, 100, 200)
    assert diff == pytest.approx(0.05)
    assert unpaired.diff == pytest.approx(0.05)
    assert high - low < (unpaired.high - unpaired.low) / 3
    assert low > 0  # only improvements: the paired interval excludes zero, the unpaired one doesn't
    assert unpaired.low < 0


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Stat. Med. 17:873, Table II, method 10 (score interval from Wilson limits, no correction).
@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ],
)
def test_unpaired_rate_difference_matches_newcombe(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    diff, low, high, n_pairs = rate_difference_interval(*counts)
    s_a, n_a, s_b, n_b = counts
    assert diff == pytest.approx(s_a / n_a - s_b / n_b)
    assert (low, high) == pytest.approx(expected, abs=1e-4)
    assert n_pairs == 0


def test_unpaired_difference_with_an_empty_side_is_unknown() -> None:
    assert rate_difference_interval(3, 10, 0, 0) == (None, -1.0, 1.0, 0)
