"""Tiny training mixtures for the training tests: "What is i + i?" with a worked answer."""

from __future__ import annotations

from pathlib import Path

from srlab.data.records import make_record
from srlab.fileio import write_jsonl


def arithmetic_mixture(folder: Path, count: int, varied_lengths: bool = False) -> Path:
    """``folder/mixture.jsonl`` with ``count`` records; ``varied_lengths`` pads some questions, so
    examples differ in length (what packing joins)."""
    folder.mkdir(parents=True, exist_ok=True)
    records = [
        make_record(f"r{i}", f"What is {i} + {i}?" + (" Explain slowly." * (i % 3) if varied_lengths else ""),
                    f"{i} + {i} = {2 * i}.", f"The answer is {2 * i}.", source="t", kind="reasoning")
        for i in range(count)
    ]
    path = folder / "mixture.jsonl"
    write_jsonl(path, (r.to_dict() for r in records))
    return path
