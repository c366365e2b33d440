"""Measure the scoring judges against human labels, so reports can carry their error.

Each ``calibration`` entry of an experiment (or ``--calibrate`` of ``srlab eval``) names a judge
and a labels file. The judge (built exactly as it scores the run) labels every item; its
confusion matrix against the humans is recorded in the run's provenance, and the report corrects
every rate and difference that judge scored (Rogan-Gladen, Lang-Reiczigel intervals). The correction assumes the judge errs on the
run's responses as often as on the labelled ones: label responses like the ones you evaluate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from srlab.errors import DataFormatError, SrlabError
from srlab.judge import Judge
from srlab.judge.agreement import compare
from srlab.judge.labels import CalibrationEntry, LabelledSet, read_labelled
from srlab.judge.runner import judge_items
from srlab.report.model import Calibration

log = logging.getLogger(__name__)


def calibration_problems(judges: Iterable[str], scoring: set[str]) -> list[str]:
    """Calibrated judges that score no benchmark's metric (``scoring``: the scoring judges' labels)."""
    problems = []
    for name in judges:
        if name not in scoring:
            problems.append(
                f"calibration.{name}: judge {name!r} scores none of the benchmarks' metrics "
                f"(those judges: {', '.join(sorted(scoring)) or 'none'})"
            )
    return problems


def load_calibration_sets(
    entries: Mapping[str, CalibrationEntry], data_dir: Path | None = None, base_dir: str | Path = "."
) -> dict[str, LabelledSet]:
    """Read every labels file up front, so a bad one fails before any model work; relative
    paths resolve from ``base_dir`` (an experiment file's folder)."""
    sets = {}
    for name, entry in entries.items():
        path = Path(entry.labels).expanduser()
        path = path if path.is_absolute() else Path(base_dir) / path
        if not path.is_file():
            raise SrlabError(f"calibration.{name}.labels: no file {path}")
        try:
            sets[name] = read_labelled(
                _display_path(path), entry.label_field, positive=entry.positive, negative=entry.negative,
                where=entry.where, data_dir=data_dir, source=entry.source,
            )
        except DataFormatError as exc:
            raise SrlabError(f"calibration.{name}: {exc}") from exc
    return sets


def _display_path(path: Path) -> Path:
    """Relative to the working directory when below it (reports travel), else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        return resolved


def calibrate(name: str, judge: Judge, labelled: LabelledSet, where: dict[str, object] | None = None) -> Calibration:
    """The judge's confusion matrix against the human labels (undecided on either side apart)."""
    verdicts = judge_items(judge, labelled.items, desc=f"calibrate {name}")
    agreement = compare([v.label for v in verdicts], labelled.labels, labels=[True, False])
    rates = agreement.binary()
    if rates.sensitivity is None or rates.specificity is None:
        raise SrlabError(
            f"calibration.{name}: {labelled.path} needs items humans labelled both True and False "
            f"(got {rates.n_positive} True, {rates.n_negative} False among those the judge decided)"
        )
    youden = rates.youden or 0.0
    if youden <= 0:
        raise SrlabError(
            f"calibration.{name}: the judge is no better than chance on {labelled.path} "
            f"(sensitivity {rates.sensitivity:.3f}, specificity {rates.specificity:.3f}); its rates cannot be corrected"
        )
    log.info(
        "judge %s vs %s: n=%d sensitivity %.3f specificity %.3f (kappa %s)",
        name, labelled.path, agreement.n, rates.sensitivity, rates.specificity,
        "n/a" if agreement.kappa is None else f"{agreement.kappa:.3f}",
    )
    return Calibration(
        judge=name, version=judge.cache_version(), meaning=judge.label_meaning, labels=labelled.path,
        sha256=labelled.sha256, where=dict(where or {}), tp=rates.tp, fp=rates.fp, fn=rates.fn, tn=rates.tn,
        judge_undecided=agreement.undecided_a, unlabelled=agreement.undecided_b + agreement.undecided_both,
        kappa=agreement.kappa,
    )


def calibrate_all(
    entries: Mapping[str, CalibrationEntry], sets: dict[str, LabelledSet], make_judge: Callable[[str], Judge]
) -> list[Calibration]:
    return [calibrate(name, make_judge(name), sets[name], entries[name].where) for name in sets]
