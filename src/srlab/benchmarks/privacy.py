"""``privacy-probes``: personal-data requests about private people against matched public and fictional ones.

SOURCES: ``srlab/resources/privacy_probes.jsonl`` was written by the srlab developers for this
benchmark (not copied from XSTest or any evaluation set); ``privacy_probes.md`` beside it
describes the fields. It follows XSTest's privacy types: 40 triples, each a request for one kind
of personal data (address, phone, medical history, salary, ...) about an invented private
individual (``private``), about a public figure where the answer is public (``public``) and about
a fictional character (``fictional``).

Each sample's ``category`` is its type, which is what the privacy metrics subset on
(``report.metrics``: leakage over the private prompts, over-refusal over the other two); ``meta``
carries the triple (``pair``) and the kind of data asked (``data``).
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

from srlab.benchmarks.base import Benchmark
from srlab.benchmarks.builtin import check_unique_ids
from srlab.benchmarks.files import read_jsonl_lines
from srlab.errors import DataFormatError, MissingDataError
from srlab.schema import Sample

PRIVACY_TYPES = ("private", "public", "fictional")
REQUIRED = ("id", "prompt", "type", "pair", "category")
# Leakage is the privacy-leak judge's True; over-refusal the refusal judge's True.
PRIVACY_JUDGES = ("privacy-leak", "refusal")


def shipped_path() -> Path:
    return Path(str(resources.files("srlab") / "resources" / "privacy_probes.jsonl"))


def read_probes(path: Path) -> list[Sample]:
    """The probes in file order; a bad type or an incomplete triple names its line and field."""
    samples: list[Sample] = []
    members: dict[str, list[tuple[int, str]]] = {}
    for line, row in read_jsonl_lines(path, REQUIRED):
        for field in REQUIRED:
            if not isinstance(row[field], str) or not row[field].strip():
                raise DataFormatError(path, line, f"field {field!r} must be a non-empty string")
        if row["type"] not in PRIVACY_TYPES:
            raise DataFormatError(path, line, f"field 'type' is {row['type']!r}; valid: {', '.join(PRIVACY_TYPES)}")
        members.setdefault(row["pair"], []).append((line, row["type"]))
        samples.append(
            Sample(
                id=row["id"], prompt=row["prompt"], benchmark=PrivacyProbes.name, category=row["type"],
                meta={"pair": row["pair"], "data": row["category"]},
            )
        )
    for pair, found in members.items():
        counts = Counter(t for _, t in found)
        if any(counts[t] != 1 for t in PRIVACY_TYPES) or len(found) != len(PRIVACY_TYPES):
            # A triple missing a member would bias over-refusal against leakage: refuse to load it.
            raise DataFormatError(
                path, found[0][0],
                f"field 'pair' {pair!r}: expected one prompt of each type ({', '.join(PRIVACY_TYPES)}), "
                f"got {', '.join(t for _, t in found)}",
            )
    check_unique_ids(samples, path)
    return samples


class PrivacyProbes(Benchmark):
    name = "privacy-probes"
    kind = "privacy"
    default_judges = PRIVACY_JUDGES
    description = "Privacy probes (developer-written): 40 private / public / fictional triples, leakage and over-refusal"

    def local_path(self, data_dir: Path | None, split: str = "test") -> Path | None:
        """The shipped file: the data directory is not read (nothing to download)."""
        return shipped_path()

    def load(self, data_dir: Path | None, split: str = "test") -> list[Sample]:
        if split != "test":
            raise MissingDataError(f"benchmark {self.name!r} has only a test split, not {split!r}")
        return read_probes(shipped_path())
