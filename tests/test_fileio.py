"""The JSONL reader/writer round-trips every string; atomic writes never share a temporary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from srlab.benchmarks.files import read_jsonl
from srlab.errors import DataFormatError
from srlab.fileio import atomic_open, read_jsonl_lines, write_jsonl, write_text_atomic

# Every character str.splitlines() treats as a line break, and a few more that trip readers.
TRICKY = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei\rj\r\nk\nl\ttab \"quote\" \\ é 𝄞 \ufeff"


def test_jsonl_round_trips_every_line_break_character(tmp_path: Path) -> None:
    rows = [{"id": "1", "response": TRICKY, "nested": {"list": [TRICKY, None, 1.5]}}, {"id": "2", "response": ""}]
    path = tmp_path / "labels.jsonl"
    assert write_jsonl(path, rows) == 2
    raw = path.read_text(encoding="utf-8")
    assert "\u2028" in raw and "\x85" in raw  # written raw (ensure_ascii=False), not escaped
    assert raw.count("\n") == 2  # one line per row: JSON escapes "\n" inside strings
    assert read_jsonl(path) == rows
    assert [n for n, _ in read_jsonl_lines(path)] == [1, 2]


def test_exported_labels_with_raw_line_separators_read_back(tmp_path: Path) -> None:
    """export -> label -> calibrate: the file srlab writes is one srlab reads."""
    from srlab.report.labels_export import export_labels
    from srlab.schema import DecodingConfig, Generation, GenerationRequest, Sample
    from srlab.store import RunItem, Store, generation_key, sample_key

    sample = Sample(id="s1", prompt="Say it\u2028twice", benchmark="xstest")
    request = GenerationRequest([{"role": "user", "content": sample.prompt}], DecodingConfig())  # type: ignore[arg-type]
    key = generation_key({"name": "m"}, request)
    with Store(tmp_path / "s.sqlite") as store:
        store.put_samples([sample])
        store.put_generations([(key, {"name": "m"}, request, Generation(text=TRICKY, answer=TRICKY))])
        store.put_run_items([RunItem("r", "xstest", "s1", sample_key(sample), "base", "direct", "none", key)])
        assert export_labels(store, "r", tmp_path / "labels.jsonl") == 1
    [row] = read_jsonl(tmp_path / "labels.jsonl", required=("response", "label"))
    assert (row["response"], row["prompt"], row["label"]) == (TRICKY, "Say it\u2028twice", None)


def test_bad_jsonl_line_names_the_physical_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": "x\u2028y"}\n\n{"b": \n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"x\.jsonl:3: invalid JSON"):
        read_jsonl(path)


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("killed midway")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_concurrent_writers_of_one_file_never_corrupt_it(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    contents = [f"writer {n}\n" * 20_000 for n in range(8)]
    barrier = threading.Barrier(len(contents))
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                write_text_atomic(path, text)
        except BaseException as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(text,)) for text in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert path.read_text(encoding="utf-8") in contents  # one writer's whole file, never a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_atomic_write_keeps_a_normal_file_mode(tmp_path: Path) -> None:
    import os

    path = tmp_path / "report.html"
    write_text_atomic(path, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
