"""A run killed with SIGKILL and rerun ends with the same results and no duplicate rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

LIMIT = 10


def _eval_cmd(model_dir: Path, store: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "srlab.cli", "eval",
        "--model", str(model_dir), "--benchmarks", "gsm8k", "--strategy", "direct",
        "--limit", str(LIMIT), "--batch-size", "1", "--max-new-tokens", "160",
        "--store", str(store), "--output", str(output),
    ]


def _count(store: Path, table: str) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _texts(store: Path) -> dict[str, str]:
    with sqlite3.connect(store) as conn:
        return dict(conn.execute("SELECT key, text FROM generations").fetchall())


def test_killed_eval_resumes_without_redoing_or_duplicating(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SRLAB_DATA_DIR": str(data_dir)}
    reference_store, resumed_store = tmp_path / "reference.sqlite", tmp_path / "resumed.sqlite"

    subprocess.run(_eval_cmd(tiny_model_dir, reference_store, tmp_path / "ref.json"), env=env, check=True, capture_output=True)
    assert _count(reference_store, "generations") == LIMIT

    proc = subprocess.Popen(
        _eval_cmd(tiny_model_dir, resumed_store, tmp_path / "killed.json"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while _count(resumed_store, "generations") < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_before = _count(resumed_store, "generations")
    assert 0 < stored_before < LIMIT, f"kill landed outside the run ({stored_before} stored)"
    assert not (tmp_path / "killed.json").exists()

    done = subprocess.run(
        _eval_cmd(tiny_model_dir, resumed_store, tmp_path / "resumed.json"), env=env, check=True, capture_output=True, text=True
    )
    # The resumed run generated only what was missing.
    assert f"{stored_before} of {LIMIT} prompts already stored; generating {LIMIT - stored_before}" in done.stderr
    assert _count(resumed_store, "generations") == LIMIT
    assert _count(resumed_store, "run_items") == LIMIT
    assert _texts(resumed_store) == _texts(reference_store)
    reference = json.loads((tmp_path / "ref.json").read_text())
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["rows"] == reference["rows"] and resumed["rows"][0]["metrics"]
    assert [s["answer"] for s in resumed["samples"]] == [s["answer"] for s in reference["samples"]]
