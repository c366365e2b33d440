"""How far judges agree, with each other and with human labels.

``compare`` pairs two label sequences (a judge's and a reference: another judge or humans) and
gives the confusion matrix, accuracy and Cohen's kappa over the items both decided; items
either side left undecided are counted apart, never scored. ``BinaryRates`` is the resulting
confusion matrix of a binary judge; what it does to a rate is ``srlab.report.correction``'s.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Agreement:
    """Agreement of ``a`` with reference ``b`` over the items both decided.

    ``matrix[(x, y)]`` counts items where ``a`` said ``x`` and ``b`` said ``y``.
    """

    labels: tuple[Hashable, ...]
    matrix: dict[tuple[Hashable, Hashable], int]
    n: int
    undecided_a: int
    undecided_b: int
    undecided_both: int
    accuracy: float | None
    kappa: float | None
    expected_agreement: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.n + self.undecided_a + self.undecided_b + self.undecided_both

    def count(self, a: Hashable, b: Hashable) -> int:
        return self.matrix.get((a, b), 0)

    def binary(self) -> BinaryRates:
        """Sensitivity and specificity of ``a`` against reference ``b`` (labels True/False)."""
        tp, fp = self.count(True, True), self.count(True, False)
        fn, tn = self.count(False, True), self.count(False, False)
        return BinaryRates(tp=tp, fp=fp, fn=fn, tn=tn)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = [str(x) for x in self.labels]
        out["matrix"] = {f"{a}|{b}": c for (a, b), c in self.matrix.items()}
        return out


@dataclass(frozen=True)
class BinaryRates:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def sensitivity(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def specificity(self) -> float | None:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else None

    @property
    def n_positive(self) -> int:
        return self.tp + self.fn

    @property
    def n_negative(self) -> int:
        return self.tn + self.fp

    @property
    def youden(self) -> float | None:
        """Sensitivity + specificity - 1: the factor by which judge error shrinks every difference."""
        sens, spec = self.sensitivity, self.specificity
        return None if sens is None or spec is None else sens + spec - 1

    def flipped(self) -> BinaryRates:
        """The same judge read the other way round (its False as the positive class).

        A refusal judge's True is a failed attack; ASR counts its False, whose sensitivity is
        the refusal judge's specificity and vice versa.
        """
        return BinaryRates(tp=self.tn, fp=self.fn, fn=self.fp, tn=self.tp)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def cohen_kappa(matrix: dict[tuple[Hashable, Hashable], int], labels: Sequence[Hashable]) -> tuple[float | None, float | None]:
    """``(kappa, expected agreement)``; kappa is None with no items, 1.0 when both raters are
    constant and agree (p_e = 1 makes the formula 0/0; perfect agreement is the honest reading)."""
    n = sum(matrix.values())
    if n == 0:
        return None, None
    observed = sum(matrix.get((x, x), 0) for x in labels) / n
    row = {x: sum(matrix.get((x, y), 0) for y in labels) for x in labels}
    col = {y: sum(matrix.get((x, y), 0) for x in labels) for y in labels}
    expected = sum(row[x] * col[x] for x in labels) / (n * n)
    if math.isclose(expected, 1.0):
        return (1.0 if math.isclose(observed, 1.0) else 0.0), expected
    return (observed - expected) / (1 - expected), expected


def compare(a: Sequence[Hashable | None], b: Sequence[Hashable | None], labels: Sequence[Hashable] | None = None) -> Agreement:
    """Confusion matrix, accuracy and Cohen's kappa of ``a`` against ``b``; None = undecided."""
    if len(a) != len(b):
        raise ValueError(f"label sequences differ in length: {len(a)} vs {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    undecided_a = sum(1 for x, y in zip(a, b, strict=True) if x is None and y is not None)
    undecided_b = sum(1 for x, y in zip(a, b, strict=True) if x is not None and y is None)
    undecided_both = sum(1 for x, y in zip(a, b, strict=True) if x is None and y is None)
    if labels is None:
        seen = {x for pair in pairs for x in pair}
        # Binary labels print True first (the judge's positive class), others in sorted order.
        labels = [True, False] if seen <= {True, False} else sorted(seen, key=str)
    matrix = dict(Counter(pairs))
    n = len(pairs)
    kappa, expected = cohen_kappa(matrix, labels)
    accuracy = sum(c for (x, y), c in matrix.items() if x == y) / n if n else None
    return Agreement(
        labels=tuple(labels), matrix=matrix, n=n, undecided_a=undecided_a, undecided_b=undecided_b,
        undecided_both=undecided_both, accuracy=accuracy, kappa=kappa, expected_agreement=expected,
    )


def format_agreement(agreement: Agreement, name_a: str, name_b: str) -> str:
    """A short text block: accuracy, kappa, undecided counts and the confusion matrix."""
    acc = "n/a" if agreement.accuracy is None else f"{100 * agreement.accuracy:.1f}%"
    kappa = "n/a" if agreement.kappa is None else f"{agreement.kappa:.3f}"
    lines = [
        f"{name_a} vs {name_b}: n={agreement.n} accuracy={acc} kappa={kappa} "
        f"undecided: {name_a}={agreement.undecided_a} {name_b}={agreement.undecided_b} both={agreement.undecided_both}",
    ]
    row_width = max(len(f"{name_a}={x}") for x in agreement.labels)
    col_width = max(len(f"{name_b}={y}") for y in agreement.labels)
    lines.append(" " * row_width + " | " + " ".join(f"{name_b}={y}".rjust(col_width) for y in agreement.labels))
    for x in agreement.labels:
        cells = " ".join(str(agreement.count(x, y)).rjust(col_width) for y in agreement.labels)
        lines.append(f"{name_a}={x}".ljust(row_width) + " | " + cells)
    return "\n".join(lines)
