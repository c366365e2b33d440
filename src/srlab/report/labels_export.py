"""Export a run's responses as a labels file, so humans can measure the judges that scored them.

Each distinct response (by benchmark, sample and text) becomes one row with ``label: null``;
filled in, the file is a ``calibration`` set for the experiment (and a ``--labels`` file for
``srlab judge-agreement``), and the judge's error on the run's own responses is what the report
then carries. The judges' verdicts are left out on purpose: labels should not lean on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from srlab.errors import SrlabError
from srlab.fileio import write_jsonl
from srlab.store import Store


def export_labels(
    store: Store, run_id: str, out: str | Path, benchmarks: Sequence[str] | None = None, *, prompts: bool = True
) -> int:
    """Write the rows; returns how many. ``prompts=False`` names benchmark + sample_id only, and
    so leaves out attacked prompts, which are not in any benchmark's data."""
    items = store.run_items(run_id)
    if not items:
        known = ", ".join(r["id"] for r in store.list_runs()) or "none"
        raise SrlabError(f"run {run_id!r} has no items in {store.path}; runs there: {known}")
    if benchmarks is not None:
        unknown = sorted(set(benchmarks) - {i.benchmark for i in items})
        if unknown:
            valid = ", ".join(sorted({i.benchmark for i in items}))
            raise SrlabError(f"run {run_id!r} has no benchmark {', '.join(unknown)}; it has: {valid}")
        items = [i for i in items if i.benchmark in benchmarks]
    generations = store.get_generations(sorted({i.generation_key for i in items}))
    rows, seen = [], set()
    for item in sorted(items, key=lambda i: (i.benchmark, i.variant, i.attack, i.sample_id)):
        generation = generations.get(item.generation_key)
        if generation is None or not generation.text.strip():
            continue  # nothing to label: not generated yet, or empty
        if not prompts and item.attack != "none":
            continue
        key = (item.benchmark, item.sample_id, generation.text)
        if key in seen:
            continue
        seen.add(key)
        row: dict[str, object] = {"id": f"{run_id}-{len(rows):05d}", "benchmark": item.benchmark,
                                  "sample_id": item.sample_id, "variant": item.variant, "attack": item.attack}
        if prompts:
            sample = store.get_sample(item.sample_key)
            row["prompt"] = sample.user_text() if sample else ""
        row |= {"response": generation.text, "label": None}
        rows.append(row)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, rows)
    return len(rows)
