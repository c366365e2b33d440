"""Rates corrected for their judge's measured error: the statistics every report correction uses.

``corrected_rate`` is the Rogan-Gladen estimator: a rate measured by an imperfect judge,
corrected with the judge's sensitivity and specificity from a labelled calibration set
(``srlab.judge.agreement.BinaryRates``, measured by ``srlab.experiment.calibration``), with an
interval that carries the calibration set's own uncertainty on top of the sampling error of the
measured rate: Lang & Reiczigel (2014, Prev. Vet. Med. 113:13-22; the default, near-nominal
coverage from n = 30), the plain delta method, or a parametric bootstrap.
``corrected_difference`` does the same for a difference of two rates scored by one judge, and
``corrected_mean_rate`` for a mean of rates (ASR averaged over attacks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from srlab.judge.agreement import BinaryRates

Z_95 = 1.959963984540054

CorrectionMethod = Literal["lang-reiczigel", "delta", "bootstrap"]
CORRECTION_METHODS: tuple[str, ...] = ("lang-reiczigel", "delta", "bootstrap")


# --- Rogan-Gladen --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectedRate:
    """A rate corrected for judge error. ``rate`` is clipped to [0, 1]; ``raw`` is not."""

    observed: float
    rate: float
    raw: float
    low: float
    high: float
    sensitivity: float
    specificity: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rogan_gladen(observed: float, sensitivity: float, specificity: float) -> float:
    """(observed + specificity - 1) / (sensitivity + specificity - 1), unclipped."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        raise ValueError(
            f"judge is no better than chance (sensitivity {sensitivity:.3f} + specificity {specificity:.3f} <= 1): "
            "its rate cannot be corrected"
        )
    return (observed + specificity - 1) / youden


def corrected_rate(
    observed_rate: float,
    sensitivity: float,
    specificity: float,
    n: float,
    n_calib_positive: int,
    n_calib_negative: int,
    *,
    method: CorrectionMethod = "lang-reiczigel",
    z: float = Z_95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> CorrectedRate:
    """Rogan-Gladen corrected rate with an interval from three binomial sources of error.

    ``n`` items (an effective sample size where samples share a prompt) gave ``observed_rate``; the judge's sensitivity was measured on
    ``n_calib_positive`` truly positive calibration items and its specificity on
    ``n_calib_negative`` truly negative ones. ``delta``: a normal interval with
    Var = [Var(p) + θ² Var(Se) + (1-θ)² Var(Sp)] / (Se + Sp - 1)²; ``lang-reiczigel``: the same
    variance on Agresti-Coull-style adjusted inputs (z²/2 pseudo-successes and -failures for the
    rate, one of each for Se and Sp) with a shift of the centre, which keeps coverage near 95%
    where the delta method falls short (rates near 0 or 1, small n); ``bootstrap``: a parametric
    bootstrap redrawing all three binomials. Bounds are clipped to [0, 1].
    """
    for name, value in (("observed_rate", observed_rate), ("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if min(n, n_calib_positive, n_calib_negative) < 1:
        raise ValueError("n, n_calib_positive and n_calib_negative must all be >= 1")
    raw = rogan_gladen(observed_rate, sensitivity, specificity)
    theta = min(1.0, max(0.0, raw))
    if method == "delta":
        variance = rogan_gladen_variance(
            observed_rate * (1 - observed_rate) / n, theta, sensitivity, n_calib_positive, specificity, n_calib_negative
        )
        half = z * math.sqrt(variance)
        low, high = raw - half, raw + half
    elif method == "lang-reiczigel":
        low, high = _lang_reiczigel(
            observed_rate, n, sensitivity, n_calib_positive, specificity, n_calib_negative, z
        )
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        draws = max(1, round(n))  # an effective size redraws as that many whole items
        p = rng.binomial(draws, observed_rate, n_resamples) / draws
        se = rng.binomial(n_calib_positive, sensitivity, n_resamples) / n_calib_positive
        sp = rng.binomial(n_calib_negative, specificity, n_resamples) / n_calib_negative
        youden_star = se + sp - 1
        valid = youden_star > 0  # resamples where the judge looks no better than chance carry no estimate
        estimates = np.clip((p[valid] + sp[valid] - 1) / youden_star[valid], 0.0, 1.0)
        alpha = 2 * (1 - _normal_cdf(z))
        low, high = (float(x) for x in np.quantile(estimates, [alpha / 2, 1 - alpha / 2]))
    else:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(CORRECTION_METHODS)}")
    return CorrectedRate(
        observed=observed_rate, rate=theta, raw=raw, low=max(0.0, low), high=min(1.0, high),
        sensitivity=sensitivity, specificity=specificity, method=method,
    )


def corrected_rate_from_calibration(
    positives: float, n: float, calibration: BinaryRates, **kwargs: Any
) -> CorrectedRate:
    """``corrected_rate`` with sensitivity and specificity read from a judge-vs-human matrix."""
    sens, spec = _calibration_rates(calibration)
    return corrected_rate(positives / n, sens, spec, n, calibration.n_positive, calibration.n_negative, **kwargs)


def rogan_gladen_variance(
    observed_variance: float, theta: float, sens: float, n_pos: float, spec: float, n_neg: float
) -> float:
    """Var of the corrected rate θ: [Var(p) + θ² Var(Se) + (1-θ)² Var(Sp)] / (Se + Sp - 1)²."""
    return (
        observed_variance + theta**2 * sens * (1 - sens) / n_pos + (1 - theta) ** 2 * spec * (1 - spec) / n_neg
    ) / (sens + spec - 1) ** 2


def _lang_reiczigel(
    observed: float, n: float, sens: float, n_pos: int, spec: float, n_neg: int, z: float
) -> tuple[float, float]:
    """Lang & Reiczigel (2014), eqs. 6, 7, 16, 17 (with (1 - P')² in the variance, as in R's asht)."""
    n_pos_, n_neg_ = n_pos + 2, n_neg + 2
    sens_ = (n_pos * sens + 1) / n_pos_
    spec_ = (n_neg * spec + 1) / n_neg_
    n_ = n + z * z
    observed_ = (n * observed + z * z / 2) / n_
    youden_ = sens_ + spec_ - 1
    if youden_ <= 0:
        raise ValueError("judge is no better than chance after adjustment: its rate cannot be corrected")
    p_ = (observed_ + spec_ - 1) / youden_
    shift = 2 * z * z * (p_ * sens_ * (1 - sens_) / n_pos_ - (1 - p_) * spec_ * (1 - spec_) / n_neg_)
    variance = rogan_gladen_variance(observed_ * (1 - observed_) / n_, p_, sens_, n_pos_, spec_, n_neg_)
    half = z * math.sqrt(variance)
    return p_ + shift - half, p_ + shift + half


def corrected_mean_rate(
    observed: float, observed_variance: float, calibration: BinaryRates, z: float = Z_95
) -> CorrectedRate:
    """Rogan-Gladen correction of a rate known only with a variance (e.g. a mean over attacks).

    Delta method: the judge's calibration error is shared by every part of the mean, so it is
    added once, not averaged away.
    """
    sens, spec = _calibration_rates(calibration)
    raw = rogan_gladen(observed, sens, spec)
    theta = min(1.0, max(0.0, raw))
    variance = rogan_gladen_variance(
        observed_variance, theta, sens, calibration.n_positive, spec, calibration.n_negative
    )
    half = z * math.sqrt(variance)
    return CorrectedRate(
        observed=observed, rate=theta, raw=raw, low=max(0.0, raw - half), high=min(1.0, raw + half),
        sensitivity=sens, specificity=spec, method="delta",
    )


@dataclass(frozen=True)
class CorrectedDifference:
    diff: float
    low: float
    high: float
    youden: float


def corrected_difference(
    diff: float, low: float, high: float, calibration: BinaryRates, z: float = Z_95
) -> CorrectedDifference:
    """A difference of two rates scored by the same judge, corrected for that judge's error.

    Rogan-Gladen is affine in the observed rate, so the true difference is the observed one over
    J = Se + Sp - 1, whatever the base rates. The observed interval (e.g. a paired bootstrap) is
    read as a normal one; J's own variance is added by the delta method:
    Var(d / J) = Var(d) / J² + d² Var(J) / J⁴. Bounds are clipped to [-1, 1].
    """
    sens, spec = _calibration_rates(calibration)
    youden = sens + spec - 1
    if youden <= 0:
        raise ValueError("judge is no better than chance: its differences cannot be corrected")
    var_d = ((high - low) / (2 * z)) ** 2
    var_j = sens * (1 - sens) / calibration.n_positive + spec * (1 - spec) / calibration.n_negative
    corrected = diff / youden
    half = z * math.sqrt(var_d / youden**2 + diff**2 * var_j / youden**4)
    return CorrectedDifference(
        diff=max(-1.0, min(1.0, corrected)), low=max(-1.0, corrected - half), high=min(1.0, corrected + half),
        youden=youden,
    )


def _calibration_rates(calibration: BinaryRates) -> tuple[float, float]:
    sens, spec = calibration.sensitivity, calibration.specificity
    if sens is None or spec is None:
        raise ValueError("the calibration set needs both truly positive and truly negative items")
    return sens, spec


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))
