"""How often the judge-corrected 95% interval covers the true rate, per method, by simulation.

    .venv/bin/python scripts/judge_correction_coverage.py [--trials 2000]

Each scenario draws a measured rate from a judge with known sensitivity and specificity, and the
judge's calibration counts from labelled sets of the given sizes, then checks whether the
interval of ``corrected_rate`` holds the true rate. A method worth its name covers about 95%.
"""

from __future__ import annotations

import argparse

import numpy as np

from srlab.report.correction import CORRECTION_METHODS, corrected_rate

# (true rate, sensitivity, specificity, items judged, labelled items per class)
SCENARIOS = [
    (0.05, 0.95, 0.95, 50, 40),
    (0.50, 0.85, 0.90, 100, 30),
    (0.90, 0.90, 0.97, 30, 60),
    (0.95, 0.95, 0.99, 20, 100),  # ASR near 1 on a small benchmark: where intervals go wrong
]


def coverage(theta: float, se: float, sp: float, n: int, n_cal: int, method: str, trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    observed = theta * se + (1 - theta) * (1 - sp)
    covered = valid = 0
    for _ in range(trials):
        x, a, b = rng.binomial(n, observed), rng.binomial(n_cal, se), rng.binomial(n_cal, sp)
        try:
            result = corrected_rate(x / n, a / n_cal, b / n_cal, n, n_cal, n_cal, method=method,  # type: ignore[arg-type]
                                    n_resamples=2000)
        except ValueError:  # a calibration draw no better than chance: no interval
            continue
        valid += 1
        covered += result.low <= theta <= result.high
    return covered / valid if valid else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args(argv)
    print("true rate  Se    Sp    n    n_cal  " + "  ".join(f"{m:>14}" for m in CORRECTION_METHODS))
    for theta, se, sp, n, n_cal in SCENARIOS:
        # the bootstrap draws 2,000 resamples per trial: a tenth of the trials keeps it quick
        cells = [
            coverage(theta, se, sp, n, n_cal, m, args.trials if m != "bootstrap" else args.trials // 10, seed=0)
            for m in CORRECTION_METHODS
        ]
        print(f"{theta:9.2f}  {se:.2f}  {sp:.2f}  {n:3d}  {n_cal:5d}  " + "  ".join(f"{c:14.3f}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
